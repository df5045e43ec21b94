package bridge

import (
	"strconv"
	"strings"
	"testing"

	"xircd/xmpp"
)

func TestNoImplicitNames(t *testing.T) {
	h, c := joinedRoom(t, "no-implicit-names")
	// The room's JOIN comes without 353/366, as does a later attach.
	c.expect(":me!user@localhost JOIN #room")
	c2 := h.attach("me", "no-implicit-names")
	c2.expect(
		":me!user@localhost JOIN &xmpp",
		":irc.test 332 me &xmpp :XMPP contacts of me@example.org — type \"help\" here for commands",
		":irc.test 333 me &xmpp xircd!xircd@irc.test 1772600767",
		":me!user@localhost JOIN #room",
	)
	// An explicit NAMES is answered as usual.
	c2.send("NAMES &xmpp")
	c2.expect(
		":irc.test 353 me = &xmpp :@me @xircd",
		":irc.test 366 me &xmpp :End of /NAMES list",
	)
	// So is JOIN of the control channel from a client that left it.
	c2.send("PART &xmpp")
	c2.take()
	c2.send("JOIN &xmpp")
	c2.expect(
		":me!user@localhost JOIN &xmpp",
		":irc.test 332 me &xmpp :XMPP contacts of me@example.org — type \"help\" here for commands",
		":irc.test 333 me &xmpp xircd!xircd@irc.test 1772600767",
	)
}

func TestAccountTagAndExtendedJoin(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice A"), item("bob@example.org", ""))
	tagged := h.attach("me", "account-tag", "extended-join", "message-tags")
	plain := h.attach("me", "message-tags")
	tagged.take()
	plain.take()

	h.event(avail("alice@example.org/phone", "", "", 0))
	tagged.expect("@account=alice@example.org :Alice_A!alice@example.org JOIN &xmpp alice@example.org :Alice A", ":xircd!xircd@irc.test MODE &xmpp +v Alice_A")
	plain.expect(":Alice_A!alice@example.org JOIN &xmpp", ":xircd!xircd@irc.test MODE &xmpp +v Alice_A")

	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "hi"})
	tagged.expect("@account=alice@example.org;msgid=m1 :Alice_A!alice@example.org PRIVMSG me hi")
	plain.expect("@msgid=m1 :Alice_A!alice@example.org PRIVMSG me hi")
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", ChatState: "composing"})
	// Two tags: their order in the line is not fixed.
	if got := tagged.take(); len(got) != 1 || !strings.Contains(got[0], "+typing=active") || !strings.Contains(got[0], "account=alice@example.org") {
		t.Fatalf("TAGMSG = %q, want +typing and account", got)
	}
	plain.expect("@+typing=active;msgid=m2 :Alice_A!alice@example.org TAGMSG me")
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "headline", Body: "news"})
	tagged.expect("@account=alice@example.org;msgid=m3 :Alice_A!alice@example.org NOTICE me news")

	// A stranger's JID is known too: the message is the stranger's.
	h.event(xmpp.Message{From: "zed@example.net/x", Type: "chat", Body: "hello"})
	tagged.expect("@account=zed@example.net;msgid=m4 :zed!zed@example.net PRIVMSG me hello")

	// WHOIS names the account; the real name is the roster name, else the JID.
	tagged.send("WHOIS Alice_A")
	tagged.expectContains(
		":irc.test 311 me Alice_A alice example.org * :Alice A",
		":irc.test 330 me Alice_A alice@example.org :is logged in as",
	)
	tagged.send("WHOIS bob")
	tagged.expectContains(
		":irc.test 311 me bob bob example.org * bob@example.org",
		":irc.test 330 me bob bob@example.org :is logged in as",
	)
}

func TestAccountTagInRooms(t *testing.T) {
	h, c := joinedRoom(t, "account-tag", "extended-join")
	c.take()
	// alice's real JID is known (a contact); bob's is not.
	h.event(xmpp.Message{From: roomJID + "/alice", Type: "groupchat", Body: "hello all"})
	c.expect("@account=alice@example.org :Alice!alice@example.org PRIVMSG #room :hello all")
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "hi"})
	c.expect(":bob!room@conference.example.org PRIVMSG #room hi")
	h.event(occ("carol", "none", "participant", "carol@example.net/pc"))
	c.expect(
		"@account=carol@example.net :carol!room@conference.example.org JOIN #room carol@example.net carol",
		":irc.test MODE #room +v carol",
	)
	h.event(occ("dave", "none", "participant", ""))
	c.expect(":dave!room@conference.example.org JOIN #room * dave", ":irc.test MODE #room +v dave")
	h.event(xmpp.Message{From: roomJID + "/carol", Type: "chat", Body: "psst"})
	c.expect("@account=carol@example.net :carol!room@conference.example.org PRIVMSG me psst")
	c.send("WHOIS carol")
	c.expectContains(":irc.test 330 me carol carol@example.net :is logged in as")
}

func TestSetname(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	named := h.attach("me", "setname", "extended-join")
	plain := h.attach("me")
	named.take()
	plain.take()

	// The user's SETNAME is confirmed to every client that has the cap.
	plain.send("SETNAME :Me Myself")
	plain.expect()
	named.expect(":me!user@localhost SETNAME :Me Myself")
	named.send("WHOIS me")
	named.expectContains(":irc.test 311 me me user localhost * :Me Myself")
	later := h.attach("me", "extended-join")
	later.expectContains(":me!user@localhost JOIN &xmpp * :Me Myself")

	// A roster name change is the contact's SETNAME (after its NICK).
	h.event(xmpp.RosterPush{Item: item("alice@example.org", "Alice Liddell")})
	named.expect(
		":Alice!alice@example.org NICK Alice_Liddell",
		":Alice_Liddell!alice@example.org SETNAME :Alice Liddell",
	)
	plain.expect(":Alice!alice@example.org NICK Alice_Liddell")
	// A renamed contact keeps its nick; its real name still follows.
	named.send("PRIVMSG &xmpp :rename Alice_Liddell ali")
	named.take()
	h.event(xmpp.RosterPush{Item: item("alice@example.org", "")})
	named.expect(":ali!alice@example.org SETNAME alice@example.org")
	named.send("WHO ali")
	named.expectContains(":irc.test 352 me &xmpp alice example.org irc.test ali H+ :0 alice@example.org")
}

func TestMonitor(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"), item("bob@example.org", ""))
	h.event(avail("alice@example.org/phone", "away", "lunch", 0))
	c := h.attach("me")
	c.take()

	// Away is online; an offline contact, a stranger's nick and an unknown
	// nick are offline; the user and the service are online.
	c.send("MONITOR + alice,bob,nobody,me,xircd,bad!nick")
	c.expect(
		":irc.test 432 me bad!nick :Erroneous nickname",
		":irc.test 730 me Alice!alice@example.org,me!user@localhost,xircd!xircd@irc.test",
		":irc.test 731 me bob,nobody",
	)
	c.send("MONITOR L")
	c.expect(
		":irc.test 732 me alice,bob,me,nobody,xircd",
		":irc.test 733 me :End of MONITOR list",
	)
	c.send("MONITOR - me,xircd")
	c.expect()

	// Presence changes are announced once, whatever changes in between.
	h.event(avail("bob@example.org/pc", "", "", 0))
	c.expectContains(":irc.test 730 me bob!bob@example.org")
	h.event(avail("bob@example.org/pc", "dnd", "", 0))
	if got := c.take(); strings.Contains(strings.Join(got, "\n"), " 73") {
		t.Fatalf("a show change was announced as a monitor change: %q", got)
	}
	h.event(xmpp.Presence{From: "bob@example.org/pc", Type: "unavailable"})
	c.expectContains(":irc.test 731 me bob")

	// A rename moves the contact off a monitored nick.
	c.send("PRIVMSG &xmpp :rename Alice nobody")
	c.expectContains(":irc.test 731 me alice", ":irc.test 730 me nobody!alice@example.org")

	c.send("MONITOR S")
	c.expect(":irc.test 730 me nobody!alice@example.org", ":irc.test 731 me alice,bob")
	c.send("MONITOR C")
	c.send("MONITOR L")
	c.expect(":irc.test 733 me :End of MONITOR list")
	c.send("MONITOR X")
	c.expect(":irc.test 400 me MONITOR :Unknown MONITOR modifier X; use + - C L or S")
	c.send("MONITOR +")
	c.expect(":irc.test 461 me MONITOR :Not enough parameters")
}

func TestMonitorListIsBounded(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect()
	c := h.attach("me")
	c.take()
	var nicks []string
	for i := 0; i < monitorLimit-1; i++ {
		nicks = append(nicks, "n"+strconv.Itoa(i))
	}
	c.send("MONITOR + " + strings.Join(nicks, ","))
	c.take()
	c.send("MONITOR + n0,x1,x2,x3")
	c.expect(
		":irc.test 734 me 100 x2,x3 :Monitor list is full.",
		":irc.test 731 me n0,x1",
	)
}

func TestExtendedMonitor(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", ""))
	ext := h.attach("me", "extended-monitor", "away-notify", "setname")
	plain := h.attach("me", "away-notify", "setname")
	// Neither is in the control channel: only monitoring tells them.
	ext.send("PART &xmpp")
	plain.send("PART &xmpp")
	ext.send("MONITOR + alice")
	plain.send("MONITOR + alice")
	ext.take()
	plain.take()

	h.event(avail("alice@example.org/phone", "away", "lunch", 0))
	ext.expect(":irc.test 730 me alice!alice@example.org", ":alice!alice@example.org AWAY :away: lunch")
	plain.expect(":irc.test 730 me alice!alice@example.org")
	// A roster name that leaves the nick as it is.
	h.event(xmpp.RosterPush{Item: item("alice@example.org", "alice")})
	ext.expect(":alice!alice@example.org SETNAME alice")
	plain.expect()
	h.event(xmpp.Presence{From: "alice@example.org/phone", Type: "unavailable"})
	ext.expect(":irc.test 731 me alice")
	plain.expect(":irc.test 731 me alice")
}

// The user's real name is the one the client gave, the same in the control
// channel and in a room: in extended-join, WHO and WHOIS (with the JID
// apart in WHOIS).
func TestUserRealnameSameEverywhere(t *testing.T) {
	_, c := joinedRoom(t, "extended-join")
	c.expectContains(":me!user@localhost JOIN #room * :Real Name")
	c.send("JOIN &xmpp")
	c.take()
	c.send("PART &xmpp")
	c.take()
	c.send("JOIN &xmpp")
	c.expectContains(":me!user@localhost JOIN &xmpp * :Real Name")
	c.send("WHO #room")
	c.expectContains(":irc.test 352 me #room user localhost irc.test me H+ :0 Real Name")
	c.send("WHO &xmpp")
	c.expectContains(":irc.test 352 me &xmpp user localhost irc.test me H@ :0 Real Name")
	c.send("WHOIS me")
	c.expectContains(":irc.test 311 me me user localhost * :Real Name")
}
