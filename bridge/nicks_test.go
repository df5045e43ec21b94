package bridge

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"xircd/xmpp"
)

// The user always gets the nick they ask for; whoever held it is moved to
// a suffix, told about, and the move is saved.

func TestRegisterWithContactsNick(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("carol@example.org", "carol"), item("dave@example.org", ""))
	h.event(avail("carol@example.org/phone", "", "", 0))
	// A message kept while no client is attached is replayed from the
	// contact's new nick, not from the user's.
	h.event(xmpp.Message{From: "carol@example.org/phone", Type: "chat", Body: "are you there?"})
	// As ircd does before registering the client.
	if err := h.b.CheckNick("carol"); err != nil {
		t.Fatalf("CheckNick(carol) = %v, want the nick allowed", err)
	}
	c := h.attach("carol")
	c.expect(
		":carol!user@localhost JOIN &xmpp",
		`:irc.test 332 carol &xmpp :XMPP contacts of me@example.org — type "help" here for commands`,
		":irc.test 333 carol &xmpp xircd!xircd@irc.test 1772600767",
		":irc.test 353 carol = &xmpp :@carol @xircd +carol_2",
		":irc.test 366 carol &xmpp :End of /NAMES list",
		":xircd!xircd@irc.test NOTICE &xmpp :carol@example.org is now carol_2: carol is your own nick.",
		":carol_2!carol@example.org PRIVMSG carol :[2026-03-04 05:06:07] are you there?",
	)
	h.event(xmpp.Message{From: "carol@example.org/phone", Type: "chat", Body: "hi"})
	c.expect(":carol_2!carol@example.org PRIVMSG carol hi")
	c.send("PRIVMSG carol_2 :hello")
	h.expectCalls(`message id=id1 to=carol@example.org/phone type=chat state= body="hello"`)

	// The move is saved: after a restart the contact is carol_2 before
	// any client attaches.
	h.stop()
	h2 := newHarness(t, Config{StateDir: dir})
	h2.connect(item("carol@example.org", "carol"), item("dave@example.org", ""))
	if got := h2.b.contacts.get("carol@example.org").nick; got != "carol_2" {
		t.Errorf("after a restart carol is %q, want carol_2", got)
	}
}

func TestSavedNickThatIsTheUsersIsReplaced(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("carol@example.org", "carol"))
	h.stop()
	// After a restart the client attaches before the roster arrives: the
	// saved nick is the user's, so the contact's suffixed nick is saved
	// instead and stays the same whatever comes first next time.
	h = newHarness(t, Config{StateDir: dir})
	c := h.attach("carol")
	c.take()
	h.connect(item("carol@example.org", "carol"))
	if got := h.b.contacts.get("carol@example.org").nick; got != "carol_2" {
		t.Errorf("contact is %q, want carol_2", got)
	}
	h.stop()
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Nicks["carol@example.org"]; got != "carol_2" {
		t.Errorf("saved nick %q, want carol_2", got)
	}
}

func TestLaterClientKeepsSharedNick(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("carol@example.org", "carol"))
	a := h.attach("me")
	a.take()
	// A second client registering with a contact's nick is moved to the
	// user's nick; the contact keeps its own.
	b := h.attach("carol")
	b.expectContains(":carol!user@localhost NICK me")
	a.expect()
	if got := h.b.contacts.get("carol@example.org").nick; got != "carol" {
		t.Errorf("contact is %q, want carol", got)
	}
}

func TestNickChangeOntoContact(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("carol@example.org", "carol"))
	h.event(avail("carol@example.org/phone", "", "", 0))
	a := h.attach("me")
	b := h.attach("me")
	a.take()
	b.take()
	a.send("NICK Carol")
	// The contact moves first, while the clients are still "me", so that
	// its NICK cannot read as theirs.
	want := []string{
		":carol!carol@example.org NICK carol_2",
		":me!user@localhost NICK Carol",
		":xircd!xircd@irc.test NOTICE &xmpp :carol@example.org is now carol_2: Carol is your own nick.",
	}
	a.expect(want...)
	b.expect(want...)
	if a.Nick() != "Carol" || b.Nick() != "Carol" {
		t.Errorf("clients are %q and %q, want Carol", a.Nick(), b.Nick())
	}
	h.event(xmpp.Message{From: "carol@example.org/phone", Type: "chat", Body: "hi"})
	a.expect(":carol_2!carol@example.org PRIVMSG Carol hi")
	h.stop()
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Nicks["carol@example.org"]; got != "carol_2" {
		t.Errorf("saved nick %q, want carol_2", got)
	}
}

func TestServiceNickStaysReserved(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("xircd@example.org", "xircd"))
	c := h.attach("me")
	c.take()
	c.send("NICK XIRCD")
	c.expect(":irc.test 433 me XIRCD :Nickname is reserved for the gateway's service")
	if got := h.b.contacts.get("xircd@example.org").nick; got != "xircd_2" {
		t.Errorf("contact got %q, want xircd_2", got)
	}
}

func TestRosterPushWithUsersNick(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect()
	c := h.attach("carol")
	c.take()
	h.event(xmpp.RosterPush{Item: item("carol@example.org", "Carol")})
	c.expect(":xircd!xircd@irc.test NOTICE &xmpp :Contact Carol_2 (carol@example.org) was added to the roster.")
	if got := h.b.contacts.get("carol@example.org").nick; got != "Carol_2" {
		t.Errorf("contact got %q, want Carol_2", got)
	}
	// A stranger whose localpart is the user's nick, too.
	h.event(xmpp.Message{From: "CAROL@elsewhere.net/x", Type: "chat", Body: "hi"})
	c.expect(":CAROL_3!CAROL@elsewhere.net PRIVMSG carol hi")
}

func TestOccupantsAndUsersNick(t *testing.T) {
	h, c := joinedRoom(t)
	c.take()
	h.x.takeCalls()
	// A newcomer whose room nick is the user's nick gets a suffix.
	h.event(occ("Me!", "none", "participant", ""))
	c.expect(":Me_2!room@conference.example.org JOIN #room", ":irc.test MODE #room +v Me_2")
	// The user takes an occupant's nick: the occupant moves aside.
	c.send("NICK bob")
	c.expect(
		":bob!room@conference.example.org NICK bob_2",
		":me!user@localhost NICK bob",
		":xircd!xircd@irc.test NOTICE &xmpp :bob in #room is now bob_2: bob is your own nick.",
	)
	h.expectCalls(`join room@conference.example.org nick=bob password="" since=`)
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "still here"})
	c.expect(":bob_2!room@conference.example.org PRIVMSG #room :still here")
	c.send("NAMES #room")
	c.expect(
		":irc.test 353 bob = #room :~Alice Alice_2 +bob +bob_2 +Me_2",
		":irc.test 366 bob #room :End of /NAMES list",
	)
}

// Contacts are found by their nicks in any case, however many hold nicks
// and in whatever order they took them.
func TestNickSpaceContacts(t *testing.T) {
	ns := newNickSpace("xircd")
	var cs []*contact
	for _, i := range rand.Perm(60) {
		c := &contact{}
		ns.hold(c, "", fmt.Sprintf("Peer%02d", i))
		cs = append(cs, c)
	}
	for _, c := range cs {
		if got := ns.contact(strings.ToLower(c.nick)); got != c {
			t.Fatalf("contact(%q) = %v, want the one holding %s", strings.ToLower(c.nick), got, c.nick)
		}
	}
	for _, c := range cs[:30] {
		ns.hold(c, c.nick, "x"+c.nick)
	}
	for _, c := range cs[30:40] {
		ns.release(c, c.nick)
	}
	for i, c := range cs {
		want := c
		if i >= 30 && i < 40 {
			want = nil
		}
		if got := ns.contact(strings.ToUpper(c.nick)); got != want || !strings.HasPrefix(c.nick, "Peer") != (i < 30) {
			t.Errorf("%d: contact(%q) = %v, want %v", i, strings.ToUpper(c.nick), got, want)
		}
	}
	if n := len(ns.contacts); n != 50 {
		t.Errorf("%d contacts hold nicks, want 50", n)
	}
}

func TestNickSpace(t *testing.T) {
	ns := newNickSpace("xircd")
	me := "Me"
	ns.user.Store(&me)
	alice, bob := &contact{}, &occupant{}
	ns.hold(alice, "", "Alice")
	ns.hold(bob, "", "bob")
	for _, tc := range []struct {
		nick string
		h    nickHolder
		free bool
	}{
		{"XIRCD", nil, false}, // the service's, for everyone
		{"xircd", alice, false},
		{"me", nil, false},     // the user's
		{"alice", nil, false},  // held, any case
		{"ALICE", alice, true}, // by the one asking
		{"alice", bob, false},
		{"bob", alice, false},
		{"carol", nil, true},
	} {
		if got := ns.free(tc.nick, tc.h); got != tc.free {
			t.Errorf("free(%q, %v) = %v, want %v", tc.nick, tc.h, got, tc.free)
		}
	}
	if got := ns.unique("alice", bob); got != "alice_2" {
		t.Errorf("unique(alice) = %q, want alice_2", got)
	}
	if got := ns.unique("me", nil); got != "me_2" {
		t.Errorf("unique(me) = %q, want me_2", got)
	}
	ns.hold(alice, "Alice", "ally")
	ns.release(bob, "ally") // not bob's: stays
	if ns.contact("ALLY") != alice || ns.holder("alice") != nil || ns.occupant("bob") != bob || ns.contact("bob") != nil {
		t.Errorf("holders after moves: %v, %v", ns.contacts, ns.occupants)
	}
	// Whoever takes a nick takes it from whoever held it.
	ns.hold(bob, "bob", "ally")
	if ns.holder("ally") != bob || ns.contact("ally") != nil {
		t.Errorf("ally held by %v after bob took it", ns.holder("ally"))
	}
	ns.hold(alice, "", "ally")
	if ns.holder("ally") != alice || ns.occupant("ally") != nil {
		t.Errorf("ally held by %v after alice took it back", ns.holder("ally"))
	}
}
