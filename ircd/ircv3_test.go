package ircd

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

func TestAccountTagOnlyForClientsThatAsk(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.send("CAP REQ :account-tag", "CAP END")
	c.expect("CAP", "*", "ACK", "account-tag")
	c.register("me")
	s := b.waitAttach(t)
	s.d.Send(&irc.Message{Tags: irc.Tags{"account": "bob@example.org", "msgid": "m1"},
		Prefix: &irc.Prefix{Name: "bob"}, Command: "PRIVMSG", Params: []string{"me", "hi"}})
	m := c.expect("PRIVMSG", "me", "hi")
	if m.Tags["account"] != "bob@example.org" {
		t.Errorf("account tag lost: %q", m)
	}
	if _, ok := m.Tags["msgid"]; ok {
		t.Errorf("msgid without message-tags: %q", m)
	}
}

func TestSetnameIsCheckedThenHandedToTheBackend(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.send("CAP LS 302")
	ls := c.expect("CAP", "*", "LS")
	if !slices.Contains(strings.Fields(ls.Trailing()), "setname") {
		t.Errorf("setname not offered: %q", ls)
	}
	c.send("CAP REQ setname", "CAP END")
	c.expect("CAP", "*", "ACK", "setname")
	burst := c.register("me")
	found := false
	for _, m := range burst {
		found = found || m.Command == irc.RPL_ISUPPORT && slices.Contains(m.Params, "NAMELEN=128")
	}
	if !found {
		t.Error("ISUPPORT lacks NAMELEN=128")
	}
	s := b.waitAttach(t)

	c.send("SETNAME :" + strings.Repeat("x", NameLen+1))
	c.expect("FAIL", "SETNAME", "INVALID_REALNAME", "Realname is not valid")
	c.send("SETNAME : ")
	c.expect("FAIL", "SETNAME", "INVALID_REALNAME")
	c.send("SETNAME")
	c.expect(irc.ERR_NEEDMOREPARAMS, "me", "SETNAME")
	c.send("SETNAME :" + strings.Repeat("x", NameLen))
	if m := s.waitHandled(t); m.Command != "SETNAME" || len(m.Params[0]) != NameLen {
		t.Errorf("backend got %q", m)
	}
}

func TestMonitorIsAdvertisedAndHandedToTheBackend(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	burst := c.register("me")
	found := false
	for _, m := range burst {
		found = found || m.Command == irc.RPL_ISUPPORT && slices.Contains(m.Params, "MONITOR=100")
	}
	if !found {
		t.Error("ISUPPORT lacks MONITOR=100")
	}
	s := b.waitAttach(t)
	c.send("MONITOR")
	c.expect(irc.ERR_NEEDMOREPARAMS, "me", "MONITOR")
	c.send("MONITOR + alice")
	if m := s.waitHandled(t); m.Command != "MONITOR" || m.Params[1] != "alice" {
		t.Errorf("backend got %q", m)
	}
}

func TestCapNotifyNewAndDel(t *testing.T) {
	b := newFakeBackend()
	srv, l := testServer(t, Config{}, b)
	v302 := dial(t, l)
	v302.send("CAP LS 302", "CAP REQ :setname server-time", "CAP END")
	v302.expect("CAP", "*", "LS")
	v302.expect("CAP", "*", "ACK")
	v302.register("new")
	old := dial(t, l)
	old.send("CAP REQ :setname", "CAP END")
	old.expect("CAP", "*", "ACK")
	old.register("old")

	// cap-notify cannot be turned off by a CAP 302 client.
	v302.send("CAP REQ -cap-notify")
	v302.expect("CAP", "new", "NAK", "-cap-notify")

	if err := srv.SetCapAvailable("setname", false); err != nil {
		t.Fatal(err)
	}
	v302.expect("CAP", "new", "DEL", "setname")
	for nick, c := range map[string]*client{"new": v302, "old": old} {
		c.send("CAP LIST")
		list := strings.Fields(c.expect("CAP", nick, "LIST").Trailing())
		if slices.Contains(list, "setname") {
			t.Errorf("setname still enabled after DEL: %v", list)
		}
		c.send("CAP LS")
		if ls := c.expect("CAP", nick, "LS"); slices.Contains(strings.Fields(ls.Trailing()), "setname") {
			t.Errorf("withdrawn setname still offered: %q", ls)
		}
		c.send("CAP REQ setname")
		c.expect("CAP", nick, "NAK", "setname")
	}
	// Withdrawing twice changes nothing; an unknown name is refused.
	if err := srv.SetCapAvailable("setname", false); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetCapAvailable("no-such-cap", true); err == nil {
		t.Error("SetCapAvailable accepted an unknown capability")
	}
	if err := srv.SetCapAvailable("cap-notify", false); err == nil {
		t.Error("SetCapAvailable withdrew cap-notify")
	}

	if err := srv.SetCapAvailable("setname", true); err != nil {
		t.Fatal(err)
	}
	v302.expect("CAP", "new", "NEW", "setname")
	v302.send("CAP REQ setname")
	v302.expect("CAP", "new", "ACK", "setname")
	old.roundtrip() // no CAP NEW without cap-notify
}

// A client may hold every capability the server offers at once, and CAP
// LIST names exactly those.
func TestEveryCapabilityAtOnce(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.send("CAP LS")
	names := strings.Fields(c.expect("CAP", "*", "LS").Trailing())
	if len(names) < 15 {
		t.Fatalf("only %d capabilities offered: %q", len(names), names)
	}
	c.send("CAP REQ :"+strings.Join(names, " "), "CAP END")
	c.expect("CAP", "*", "ACK", strings.Join(names, " "))
	c.register("me")
	c.send("CAP LIST")
	list := strings.Fields(c.expect("CAP", "me", "LIST").Trailing())
	slices.Sort(list)
	slices.Sort(names)
	if !slices.Equal(list, names) {
		t.Errorf("CAP LIST %q, want %q", list, names)
	}
	// Turning one off leaves the others.
	c.send("CAP REQ -setname")
	c.expect("CAP", "me", "ACK", "-setname")
	c.send("CAP LIST")
	list = strings.Fields(c.expect("CAP", "me", "LIST").Trailing())
	if len(list) != len(names)-1 || slices.Contains(list, "setname") {
		t.Errorf("CAP LIST after -setname %q, want all of %q but setname", list, names)
	}
}

// manyCapsBackend offers more capabilities than a server can hold.
type manyCapsBackend struct{ *fakeBackend }

func (b manyCapsBackend) Features() Features {
	f := b.fakeBackend.Features()
	for i := range maxCaps {
		f.Caps = append(f.Caps, fmt.Sprintf("example.org/cap%d", i))
	}
	return f
}

func TestTooManyCapabilitiesPanic(t *testing.T) {
	defer func() {
		if p := recover(); p == nil || !strings.Contains(fmt.Sprint(p), "capabilities") {
			t.Errorf("NewServer with too many capabilities: panic %v", p)
		}
	}()
	NewServer(Config{Logger: discardLogger()}, manyCapsBackend{newFakeBackend()})
}
