package bridge

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"xircd/xmpp"
)

func TestAttachShowsRosterWithVoiceAndAway(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"), item("bob@example.org", ""), item("carol@example.org", "Carol C"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	h.event(avail("bob@example.org/pc", "dnd", "meeting", 0))

	c := h.attach("me")
	c.expect(
		":me!user@localhost JOIN &xmpp",
		":irc.test 332 me &xmpp :XMPP contacts of me@example.org — type \"help\" here for commands",
		":irc.test 333 me &xmpp xircd!xircd@irc.test 1772600767",
		":irc.test 353 me = &xmpp :@me @xircd +Alice bob",
		":irc.test 366 me &xmpp :End of /NAMES list",
	)

	c.send("WHO &xmpp")
	c.expect(
		":irc.test 352 me &xmpp user localhost irc.test me H@ :0 Real Name",
		":irc.test 352 me &xmpp xircd irc.test irc.test xircd H@ :0 xircd gateway service",
		":irc.test 352 me &xmpp alice example.org irc.test Alice H+ :0 Alice",
		":irc.test 352 me &xmpp bob example.org irc.test bob G :0 bob@example.org",
		":irc.test 315 me &xmpp :End of /WHO list",
	)
}

func TestAttachHonoursNamesCaps(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	h.event(avail("alice@example.org/phone", "chat", "", 0))
	c := h.attach("me", "extended-join", "userhost-in-names", "multi-prefix")
	c.expect(
		":me!user@localhost JOIN &xmpp * :Real Name",
		":irc.test 332 me &xmpp :XMPP contacts of me@example.org — type \"help\" here for commands",
		":irc.test 333 me &xmpp xircd!xircd@irc.test 1772600767",
		":irc.test 353 me = &xmpp :@me!user@localhost @xircd!xircd@irc.test +Alice!alice@example.org",
		":irc.test 366 me &xmpp :End of /NAMES list",
	)
}

func TestPresenceChanges(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	plain := h.attach("me")
	notify := h.attach("me", "away-notify", "extended-join")
	plain.take()
	notify.take()

	h.event(avail("alice@example.org/phone", "", "", 5))
	plain.expect(":Alice!alice@example.org JOIN &xmpp", ":xircd!xircd@irc.test MODE &xmpp +v Alice")
	notify.expect(":Alice!alice@example.org JOIN &xmpp alice@example.org Alice", ":xircd!xircd@irc.test MODE &xmpp +v Alice")

	h.event(avail("alice@example.org/phone", "away", "lunch", 5))
	plain.expect(":xircd!xircd@irc.test MODE &xmpp -v Alice")
	notify.expect(":xircd!xircd@irc.test MODE &xmpp -v Alice", ":Alice!alice@example.org AWAY :away: lunch")

	plain.send("PRIVMSG Alice :hi")
	plain.expect(":irc.test 301 me Alice :away: lunch")
	notify.expect(":me!user@localhost PRIVMSG Alice hi")
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="hi"`)
	plain.send("WHOIS alice")
	got := plain.expectContains(
		":irc.test 311 me Alice alice example.org * Alice",
		":irc.test 319 me Alice &xmpp",
		":irc.test 301 me Alice :away: lunch",
		":irc.test 320 me Alice :JID: alice@example.org",
		":irc.test 320 me Alice :subscription: both",
		":irc.test 320 me Alice :resource phone: away (lunch), priority 5",
		":irc.test 318 me alice :End of /WHOIS list",
	)
	_ = got

	// Another status with the same show is another away message.
	h.event(avail("alice@example.org/phone", "away", "coffee", 5))
	plain.expect()
	notify.expect(":Alice!alice@example.org AWAY :away: coffee")
	plain.send("WHOIS alice")
	plain.expectContains(":irc.test 301 me Alice :away: coffee")

	// A second resource with lower priority does not win even though it
	// is more available; an equal priority decides by availability.
	h.event(avail("alice@example.org/pc", "chat", "", 1))
	plain.expect()
	h.event(avail("alice@example.org/pc", "chat", "", 5))
	plain.expect(":xircd!xircd@irc.test MODE &xmpp +v Alice")
	notify.expect(":xircd!xircd@irc.test MODE &xmpp +v Alice", ":Alice!alice@example.org AWAY")

	h.event(xmpp.Presence{From: "alice@example.org/pc", Type: "unavailable"})
	h.event(xmpp.Presence{From: "alice@example.org/phone", Type: "unavailable", Status: "gone home"})
	plain.expect(":xircd!xircd@irc.test MODE &xmpp -v Alice", ":Alice!alice@example.org QUIT :gone home")
}

func TestShowOffline(t *testing.T) {
	h := newHarness(t, Config{ShowOffline: true})
	h.b.settleAfter = time.Hour // the first roster is shown at once anyway
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me", "away-notify")
	got := c.take()
	if !strings.Contains(strings.Join(got, "\n"), "353 me = &xmpp :@me @xircd Alice") {
		t.Fatalf("offline contact not listed unvoiced:\n%s", strings.Join(got, "\n"))
	}
	h.event(avail("alice@example.org/x", "", "", 0))
	c.expect(":xircd!xircd@irc.test MODE &xmpp +v Alice", ":Alice!alice@example.org AWAY")
	h.event(xmpp.Presence{From: "alice@example.org/x", Type: "unavailable"})
	c.expect(":xircd!xircd@irc.test MODE &xmpp -v Alice", ":Alice!alice@example.org AWAY offline")

	c.send("PRIVMSG &xmpp :set show_offline false")
	c.expect(
		":Alice!alice@example.org QUIT offline",
		":xircd!xircd@irc.test PRIVMSG &xmpp :show_offline = false",
	)
}

func TestPanicIsContained(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	c.panicsOn("MODE")
	// The presence handler panics while telling the client: Alice joins,
	// then the MODE voicing her panics.
	h.event(avail("alice@example.org/phone", "", "", 0))
	if n := c.panicsOn(""); n != 1 {
		t.Fatalf("Send panicked %d times, want once, on the MODE voicing Alice", n)
	}
	c.expect(":Alice!alice@example.org JOIN &xmpp")
	// The bridge goes on.
	c.send("PRIVMSG Alice :still there?")
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="still there?"`)

	// A command whose handling panics is answered with an error.
	other := h.attach("me")
	other.take()
	other.panicsOn("PRIVMSG") // the echo to the other client panics
	c.send("PRIVMSG Alice :boom")
	c.expect(":irc.test 400 me PRIVMSG :Internal error")
	if n := other.panicsOn(""); n != 1 {
		t.Errorf("Send panicked %d times, want once, on the echo", n)
	}
	if err := h.b.CheckNick("free"); err != nil {
		t.Errorf("bridge unusable after a panic: %v", err)
	}
}

func TestSafelyNamesTheEventOfAPanic(t *testing.T) {
	var logs bytes.Buffer
	b, err := New(Config{ServerName: "irc.test", Logger: slog.New(slog.NewTextHandler(&logs, nil))}, newFakeXMPP())
	if err != nil {
		t.Fatal(err)
	}
	b.safely(xmpp.Presence{From: "a@example.org"}, func() { panic("boom") })
	b.safely("settle", func() { panic("bang") })
	out := logs.String()
	for _, want := range []string{"in=xmpp.Presence", "panic=boom", "in=settle", "panic=bang"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

// The bridge declares its capabilities and ISUPPORT tokens; ircd offers
// them with its own.
func TestIrcdOffersWhatTheBridgeDeclares(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.attach("me", "echo-message", "extended-monitor", "batch")
	isupport := strings.Join(c.burst, "\n")
	for _, want := range []string{"PREFIX=(qaohv)~&@%+", "MONITOR=100", "CHANMODES=b,k,l,imnst", "NICKLEN=32", "CASEMAPPING=ascii"} {
		if !strings.Contains(isupport, " "+want+" ") {
			t.Errorf("ISUPPORT lacks %s:\n%s", want, isupport)
		}
	}
	c.take()
	c.send("CAP LIST")
	c.expect(":irc.test CAP me LIST :batch echo-message extended-monitor")
	c.send("CAP LS")
	got := c.take()
	for _, want := range []string{"server-time", "echo-message", "setname", "account-tag", "labeled-response"} {
		if len(got) != 1 || !strings.Contains(" "+strings.SplitN(got[0], " :", 2)[1]+" ", " "+want+" ") {
			t.Errorf("CAP LS lacks %s: %q", want, got)
		}
	}
}
