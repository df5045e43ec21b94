package bridge

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"xircd/xmpp"
)

// Every user keeps a contact per roster item and a resource per online
// resource: a field more can cost 16 bytes for each (the allocator's size
// classes are 16 bytes apart).
func TestContactSize(t *testing.T) {
	if n := unsafe.Sizeof(contact{}); n > 96 {
		t.Errorf("a contact takes %d bytes, more than 96", n)
	}
	if n := unsafe.Sizeof(resource{}); n > 32 {
		t.Errorf("a resource takes %d bytes, more than 32", n)
	}
}

// Every user keeps a Bridge: the allocator's size classes around it are
// 1152, 1280 and 1408 bytes, and an object of more than 512 bytes with
// pointers takes 8 bytes more for its header.
func TestBridgeSize(t *testing.T) {
	if n := unsafe.Sizeof(Bridge{}); n+8 > 1152 {
		t.Errorf("a Bridge takes %d bytes and its header 8, more than 1152", n)
	}
}

// Every user keeps a Bridge: the maps that most users leave empty are
// made when first used, and the requests' table goes once none is
// awaited (a map keeps its room when emptied).
func TestBridgeMapsMadeOnUse(t *testing.T) {
	b, err := New(Config{StateDir: t.TempDir()}, newFakeXMPP())
	if err != nil {
		t.Fatal(err)
	}
	for name, made := range map[string]bool{
		"requests":               b.requests != nil,
		"nick overrides":         b.state.Overrides != nil,
		"settings":               b.state.Settings != nil,
		"backlog senders":        b.backlog.senders != nil,
		"read markers":           b.read.marks != nil,
		"named clients":          b.caught.clients != nil,
		"sent stanza ids":        b.sent.m != nil,
		"receipts owed":          b.receipts.m != nil,
		"OMEMO sessions":         b.omemo.sessions != nil,
		"OMEMO device lists":     b.omemoOut.lists != nil,
		"OMEMO encrypted chats":  b.omemoOut.encrypted != nil,
		"OMEMO bundles":          b.omemoOut.bundles != nil,
		"OMEMO unusable devices": b.omemoOut.unusable != nil,
		"OMEMO waiting chats":    b.omemoOut.waiting != nil,
	} {
		if made {
			t.Errorf("a new user has a map of %s", name)
		}
	}
	send := func(context.Context) (string, error) { return "q1", nil }
	if err := b.startRequestIn(context.Background(), time.Minute, request{}, send); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.answered("q1"); !ok || b.requests != nil {
		t.Errorf("answered request known %v, requests table %v left", ok, b.requests)
	}
}

func TestParseSubscription(t *testing.T) {
	for _, tc := range []struct {
		sub, ask  string
		state     string
		sees      bool // the contact sees the user's presence
		requested bool // the user sees the contact's, or asked to
	}{
		{"none", "", "none", false, false},
		{"", "", "none", false, false},
		{"to", "", "to", false, true},
		{"from", "", "from", true, false},
		{"both", "", "both", true, true},
		{"none", "subscribe", "none", false, true},
		{"from", "subscribe", "from", true, true},
		{"bogus", "unsubscribe", "none", false, false},
	} {
		s := parseSubscription(tc.sub, tc.ask)
		sees, requested := s&subFrom != 0, s&(subTo|subPending) != 0
		if s.state() != tc.state || sees != tc.sees || requested != tc.requested {
			t.Errorf("parseSubscription(%q, %q): state %q, sees %v, requested %v; want %q, %v, %v",
				tc.sub, tc.ask, s.state(), sees, requested, tc.state, tc.sees, tc.requested)
		}
	}
}

func TestGroupSet(t *testing.T) {
	for _, groups := range [][]string{nil, {"Friends"}, {"Friends", "Work"}, {"with, comma", "", "a b"}} {
		got := makeGroupSet(groups).list()
		if !slices.Equal(got, groups) || (got == nil) != (len(groups) == 0) {
			t.Errorf("makeGroupSet(%q).list() = %q", groups, got)
		}
	}
	if makeGroupSet([]string{}) != (groupSet{}) {
		t.Error("no groups must be the zero groupSet")
	}
	// Contacts in the same groups share one string.
	if makeGroupSet([]string{"Friends", "Work"}) != makeGroupSet([]string{"Friends", "Work"}) {
		t.Error("equal groups make different sets")
	}
	if makeGroupSet([]string{"Friends", "Work"}) == makeGroupSet([]string{"FriendsWork"}) {
		t.Error("groups run together")
	}
}

func TestNewResource(t *testing.T) {
	for _, tc := range []struct {
		p                    xmpp.Presence
		show, status, client string
		priority             int8
	}{
		{xmpp.Presence{}, "", "", "", 0},
		{xmpp.Presence{Show: "chat", Priority: 5, Client: "https://gajim.org"}, "chat", "", "https://gajim.org", 5},
		{xmpp.Presence{Show: "away", Status: "  lunch\n", Priority: -1}, "away", "lunch", "", -1},
		{xmpp.Presence{Show: "xa", Priority: 127}, "xa", "", "", 127},
		{xmpp.Presence{Show: "dnd", Priority: -128}, "dnd", "", "", -128},
		{xmpp.Presence{Show: "bogus", Priority: 1000}, "", "", "", 127},
	} {
		r := newResource("phone", tc.p)
		if r.id() != "phone" || r.show() != tc.show || r.status() != tc.status || r.clientNode() != tc.client || r.priority != tc.priority {
			t.Errorf("newResource(%+v) = id %q, show %q, status %q, client %q, priority %d; want %q, %q, %q, %d",
				tc.p, r.id(), r.show(), r.status(), r.clientNode(), r.priority, tc.show, tc.status, tc.client, tc.priority)
		}
	}
	if (&resource{}).clientNode() != "" {
		t.Error("a zero resource has a client")
	}
}

// The info command shows a contact's groups and its resources' clients,
// and "add" for a contact with a new nick keeps its groups.
func TestContactGroupsAndClients(t *testing.T) {
	h := newHarness(t, Config{})
	alice := item("alice@example.org", "Alice")
	alice.Groups = []string{"Friends", "Work"}
	h.connect(alice)
	h.event(xmpp.Presence{From: "alice@example.org/phone", Show: "away", Priority: 2, Client: "https://conversations.im"})
	h.event(xmpp.Presence{From: "alice@example.org/a-pc", Client: "https://gajim.org"})
	c := h.attach("me")
	c.take()

	c.send("PRIVMSG &xmpp :info Alice")
	c.expect(
		":xircd!xircd@irc.test PRIVMSG &xmpp Alice:",
		":xircd!xircd@irc.test PRIVMSG &xmpp :  JID: alice@example.org",
		":xircd!xircd@irc.test PRIVMSG &xmpp :  roster name: Alice",
		":xircd!xircd@irc.test PRIVMSG &xmpp :  groups: Friends, Work",
		":xircd!xircd@irc.test PRIVMSG &xmpp :  subscription: both",
		":xircd!xircd@irc.test PRIVMSG &xmpp :  resource a-pc: available, priority 0, client https://gajim.org",
		":xircd!xircd@irc.test PRIVMSG &xmpp :  resource phone: away, priority 2, client https://conversations.im",
	)
	c.send("PRIVMSG &xmpp :add alice@example.org Ali")
	h.expectCalls(`roster-set alice@example.org name="Ali" groups=["Friends" "Work"]`, "subscribe alice@example.org")
}

// "accept" asks for the contact's presence in return only when the user
// neither sees it nor asked to.
func TestAcceptAsksInReturnOnce(t *testing.T) {
	h := newHarness(t, Config{})
	sees := xmpp.RosterItem{JID: "to@example.org", Subscription: "to"}
	asked := xmpp.RosterItem{JID: "asked@example.org", Subscription: "none", Ask: "subscribe"}
	seen := xmpp.RosterItem{JID: "from@example.org", Subscription: "from"}
	h.connect(sees, asked, seen)
	c := h.attach("me")
	c.take()
	for _, tc := range []struct{ jid, want string }{
		{"to@example.org", "Accepted to@example.org."},
		{"asked@example.org", "Accepted asked@example.org."},
		{"from@example.org", "Accepted from@example.org and asked to see its presence in return."},
	} {
		c.send("PRIVMSG &xmpp :accept " + tc.jid)
		c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :" + tc.want)
	}
	h.expectCalls("approve to@example.org", "approve asked@example.org", "approve from@example.org", "subscribe from@example.org")
}

// Roster contacts keep their saved nicks themselves, not in a second
// table; the state file still lists every saved nick, a contact missing
// from a reloaded roster keeps its nick for when it returns, and an
// explicit removal forgets it.
func TestSavedNicksKeptByContacts(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"), item("bob@example.org", "Bob"))
	c := h.attach("me")
	c.take()
	c.send("PRIVMSG &xmpp :rename Alice ally")
	c.expect(":Alice!alice@example.org NICK ally", ":xircd!xircd@irc.test PRIVMSG &xmpp :Alice is now known as ally.")
	h.barrier()
	if n := len(h.b.state.Nicks); n != 0 {
		t.Errorf("the state keeps %d nicks of roster contacts: %v", n, h.b.state.Nicks)
	}
	savedNicks := func() map[string]string {
		t.Helper()
		h.barrier()
		h.b.files.flush()
		st, err := loadState(dir)
		if err != nil {
			t.Fatal(err)
		}
		return st.Nicks
	}
	if got := savedNicks(); !maps.Equal(got, map[string]string{"alice@example.org": "ally", "bob@example.org": "Bob"}) {
		t.Errorf("saved nicks %v", got)
	}

	// A roster without alice (as after an incomplete reload), then with.
	h.event(xmpp.Roster{Items: []xmpp.RosterItem{item("bob@example.org", "Bob")}})
	if got := savedNicks(); !maps.Equal(got, map[string]string{"alice@example.org": "ally", "bob@example.org": "Bob"}) {
		t.Errorf("saved nicks with alice out of the roster %v", got)
	}
	h.event(xmpp.Roster{Items: []xmpp.RosterItem{item("alice@example.org", "Alice"), item("bob@example.org", "Bob")}})
	if got := h.b.contacts.get("alice@example.org").nick; got != "ally" {
		t.Errorf("alice is back as %q, want ally", got)
	}

	h.event(xmpp.RosterPush{Item: xmpp.RosterItem{JID: "bob@example.org", Subscription: "remove"}})
	if got := savedNicks(); !maps.Equal(got, map[string]string{"alice@example.org": "ally"}) {
		t.Errorf("saved nicks after bob's removal %v", got)
	}
}

// A contact's key is its JID in lower case however the server spelled it:
// its saved nick is filed under it, and a removal forgets it.
func TestContactKeyInLowerCase(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("Alice@Example.org", "Alice"))
	c := h.attach("me")
	c.take()
	c.send("PRIVMSG &xmpp :rename Alice ally")
	h.barrier()
	h.b.files.flush()
	st, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"alice@example.org": "ally"}; !maps.Equal(st.Nicks, want) || !st.Overrides["alice@example.org"] {
		t.Errorf("saved nicks %v and overrides %v, want %v and alice's", st.Nicks, st.Overrides, want)
	}
	h.event(xmpp.RosterPush{Item: xmpp.RosterItem{JID: "Alice@Example.org", Subscription: "remove"}})
	if n, held := h.b.contacts.len(), h.b.contactByNick("ally"); n != 0 || held != nil {
		t.Errorf("after the removal: %d contacts, ally held by %v", n, held)
	}
}

// A chat goes to the resource the contact last wrote from until that
// resource goes offline or the stream is new, then to the bare JID.
func TestChatGoesToTheResourceLastHeard(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	c := h.attach("me")
	c.take()
	send := func(want string) {
		t.Helper()
		c.send("PRIVMSG Alice :hello")
		h.expectCalls(want)
	}
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "hi"})
	send(`message id=id1 to=alice@example.org/phone type=chat state= body="hello"`)
	h.event(xmpp.Presence{From: "alice@example.org/phone", Type: "unavailable"})
	send(`message id=id2 to=alice@example.org type=chat state= body="hello"`)

	h.event(xmpp.Message{From: "alice@example.org/pc", Type: "chat", Body: "hi"})
	send(`message id=id3 to=alice@example.org/pc type=chat state= body="hello"`)
	h.event(xmpp.Presence{From: "alice@example.org/phone", Type: "unavailable"})
	send(`message id=id4 to=alice@example.org/pc type=chat state= body="hello"`)
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	send(`message id=id5 to=alice@example.org type=chat state= body="hello"`)

	h.event(xmpp.Message{From: "alice@example.org/pc", Type: "chat", Body: "hi"})
	h.event(xmpp.RosterPush{Item: xmpp.RosterItem{JID: "alice@example.org", Subscription: "remove"}})
	h.barrier()
	if n := len(h.b.lastRes); n != 0 {
		t.Errorf("%d resources last heard from kept for contacts that are gone", n)
	}
	// Strangers beyond maxTemp are forgotten with theirs.
	for i := range maxTemp + 1 {
		h.event(xmpp.Message{From: "s" + strconv.Itoa(i) + "@example.net/x", Type: "chat", Body: "hi"})
	}
	h.barrier()
	if n := len(h.b.lastRes); n != maxTemp {
		t.Errorf("%d resources last heard from kept for %d strangers", n, maxTemp)
	}
}

// A contact keeps its JID and roster name in one string; a roster push
// with the same name keeps that string.
func TestContactJIDAndName(t *testing.T) {
	c := newContact("Alice@example.org")
	for _, name := range []string{"", "Alice", "Alice Liddell", "", "Al"} {
		c.setName(name)
		if c.jid() != "Alice@example.org" || c.name() != name || c.key() != "alice@example.org" {
			t.Errorf("after setName(%q): jid %q, name %q, key %q", name, c.jid(), c.name(), c.key())
		}
	}
	ids := unsafe.StringData(c.ids)
	c.setName(strings.Clone("Al"))
	if unsafe.StringData(c.ids) != ids {
		t.Error("the same name again made a new string")
	}
}

// A new contact's nick made of its roster name or its JID is a slice of
// the contact's own string: the roster item's strings are not kept too.
func TestNewContactNickIsItsOwnString(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", strings.Clone("Alice")), item("bob@example.org", ""))
	for _, key := range []string{"alice@example.org", "bob@example.org"} {
		c := h.b.contacts.get(key)
		start, nick := uintptr(unsafe.Pointer(unsafe.StringData(c.ids))), uintptr(unsafe.Pointer(unsafe.StringData(c.nick)))
		if nick < start || nick >= start+uintptr(len(c.ids)) {
			t.Errorf("%s: the nick %q is not a slice of %q", key, c.nick, c.ids)
		}
	}
}

// The contacts by key: found, replaced and removed by their bare JID,
// listed in its order whatever the order they came in.
func TestContactSet(t *testing.T) {
	var s contactSet
	jids := []string{"mallory@example.org", "alice@example.org", "zoe@example.net", "bob@example.org", "Carol@Example.org", "Émile@example.org", "al@example.org", "alice@example.org.uk"}
	for _, jid := range jids {
		c := newContact(jid)
		c.setName("Some Name")
		s.put(c)
	}
	if s.len() != len(jids) {
		t.Fatalf("%d contacts, want %d", s.len(), len(jids))
	}
	for _, jid := range jids {
		if c := s.get(xmpp.BareJID(jid)); c == nil || c.jid() != jid {
			t.Errorf("get(%q) = %v", xmpp.BareJID(jid), c)
		}
	}
	if c := s.get("dave@example.org"); c != nil {
		t.Errorf("a contact never put is found: %v", c)
	}
	again := newContact("bob@example.org")
	s.put(again)
	if s.get("bob@example.org") != again || s.len() != len(jids) {
		t.Error("put of a known key did not replace its contact")
	}
	s.remove("alice@example.org")
	s.remove("nobody@example.org")
	var keys []string
	for _, c := range s.all() {
		keys = append(keys, c.key())
	}
	want := []string{"al@example.org", "alice@example.org.uk", "bob@example.org", "carol@example.org", "mallory@example.org", "zoe@example.net", "émile@example.org"}
	if !slices.Equal(keys, want) {
		t.Errorf("after removing alice: %q, want %q", keys, want)
	}
}

// A roster's contacts are kept in tables of its size, not grown one
// contact at a time to up to a quarter more.
func TestRosterTablesFit(t *testing.T) {
	h := newHarness(t, Config{})
	items := make([]xmpp.RosterItem, 50)
	for i := range items {
		items[i] = item(fmt.Sprintf("friend%02d@example.org", i), "")
	}
	h.connect(items...)
	for name, s := range map[string][]*contact{"by JID": h.b.contacts.all(), "by nick": h.b.nicks.contacts} {
		if len(s) != len(items) || cap(s)-len(s) >= 8 {
			t.Errorf("contacts %s: %d in room for %d", name, len(s), cap(s))
		}
	}
}
