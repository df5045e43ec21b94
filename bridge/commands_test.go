package bridge

import (
	"slices"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"xircd/ircd"
	"xircd/xmpp"
)

func TestNickAssignment(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.attach("me")
	c.take()
	long := strings.Repeat("x", 40)
	h.connect(
		item("a1@example.org", "Ann Lee"),
		item("a2@example.org", "Ann Lee"),
		item("a3@example.org", "ann lee"),
		item("me@other.org", ""),       // collides with the user's nick
		item("xircd@other.org", ""),    // collides with the service nick
		item("9lives@example.org", ""), // may not start with a digit
		item("jörg@example.org", "Jörg!"),
		item("@@@@", ""),
		item("long@example.org", long),
	)
	want := map[string]string{
		"a1@example.org":     "Ann_Lee",
		"a2@example.org":     "Ann_Lee_2",
		"a3@example.org":     "ann_lee_3",
		"me@other.org":       "me_2",
		"xircd@other.org":    "xircd_2",
		"9lives@example.org": "_9lives",
		"jörg@example.org":   "Jrg",
		"long@example.org":   strings.Repeat("x", ircd.NickLen),
	}
	for jid, nick := range want {
		got := h.b.contacts.get(xmpp.BareJID(jid))
		if got == nil || got.nick != nick {
			t.Errorf("%s: nick %v, want %q", jid, got, nick)
		}
	}
	for _, ct := range h.b.contacts.all() {
		if !ircd.ValidNick(ct.nick) {
			t.Errorf("%s got invalid nick %q", ct.jid(), ct.nick)
		}
	}
	// Only the service nick is refused: a contact's nick is the user's
	// for the asking (see nicks_test.go).
	for _, n := range []string{"xircd", "XIRCD"} {
		if err := h.b.CheckNick(n); err == nil {
			t.Errorf("CheckNick(%q) allowed the service nick", n)
		} else if e, ok := err.(*ircd.Error); !ok || e.Code != "433" {
			t.Errorf("CheckNick(%q) = %v, want 433", n, err)
		}
	}
	for _, n := range []string{"someone", "Ann_Lee", "ann_LEE_2"} {
		if err := h.b.CheckNick(n); err != nil {
			t.Errorf("CheckNick(%q) = %v", n, err)
		}
	}
}

func TestRenameSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"), item("bob@example.org", "Bob"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	c := h.attach("me")
	c.take()
	c.send("PRIVMSG &xmpp :rename Alice ally")
	c.expect(
		":Alice!alice@example.org NICK ally",
		":xircd!xircd@irc.test PRIVMSG &xmpp :Alice is now known as ally.",
	)
	c.send("PRIVMSG &xmpp :rename ally Bob")
	c.expect(`:xircd!xircd@irc.test PRIVMSG &xmpp :The nick "Bob" is already in use.`)
	c.send("PRIVMSG &xmpp :rename ally bad!nick")
	c.expectContains(":xircd!xircd@irc.test PRIVMSG &xmpp :\"bad!nick\" is not a valid nick (letters, digits and []\\`_^{|}- only, at most 32 characters, not starting with a digit or -).")
	h.stop()

	// A new bridge over the same state directory; the roster name changes,
	// the roster order changes and a newcomer wants the same nick, yet both
	// nicks stay.
	h2 := newHarness(t, Config{StateDir: dir})
	h2.connect(item("bob@example.org", "Robert"), item("aaron@example.org", "ally"), item("alice@example.org", "Alice Smith"))
	if got := h2.b.contacts.get("aaron@example.org").nick; got != "ally_2" {
		t.Errorf("newcomer got %q, want ally_2", got)
	}
	if got := h2.b.contacts.get("alice@example.org").nick; got != "ally" {
		t.Errorf("after restart alice is %q, want ally", got)
	}
	if got := h2.b.contacts.get("bob@example.org").nick; got != "Bob" {
		t.Errorf("after restart bob is %q, want Bob (persisted)", got)
	}
}

func TestRosterNameChangeRenames(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("bob@example.org", "Bob"))
	h.event(avail("bob@example.org/pc", "", "", 0))
	c := h.attach("me")
	c.take()
	h.event(xmpp.RosterPush{Item: item("bob@example.org", "Robert")})
	c.expect(":Bob!bob@example.org NICK Robert")
}

func TestControlCommands(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	other := h.attach("me")
	c.take()
	other.take()

	c.send("PRIVMSG &xmpp :help rename")
	c.expect(
		":xircd!xircd@irc.test PRIVMSG &xmpp :Usage: rename NICK NEWNICK",
		":xircd!xircd@irc.test PRIVMSG &xmpp :Gives a contact another IRC nick. The choice is kept across restarts.",
	)
	// The other client sees the question and the answer.
	other.expect(
		":me!user@localhost PRIVMSG &xmpp :help rename",
		":xircd!xircd@irc.test PRIVMSG &xmpp :Usage: rename NICK NEWNICK",
		":xircd!xircd@irc.test PRIVMSG &xmpp :Gives a contact another IRC nick. The choice is kept across restarts.",
	)

	c.send("PRIVMSG &xmpp :frobnicate")
	c.expect(`:xircd!xircd@irc.test PRIVMSG &xmpp :Unknown command "frobnicate". Commands: accept, add, block, blocklist, bookmark, deny, fingerprint, help, info, join, omemo, remove, rename, rooms, save, set, status, unblock. Type "help COMMAND" for details.`)
	c.send("PRIVMSG &xmpp :rename Alice")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :Usage: rename NICK NEWNICK")

	c.send("PRIVMSG &xmpp :add bob@example.org Bobby")
	h.expectCalls(`roster-set bob@example.org name="Bobby"`, "subscribe bob@example.org")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :Adding bob@example.org and asking to see its presence.")
	h.event(xmpp.RosterPush{Item: xmpp.RosterItem{JID: "bob@example.org", Name: "Bobby", Subscription: "none", Ask: "subscribe"}})
	c.expect(":xircd!xircd@irc.test NOTICE &xmpp :Contact Bobby (bob@example.org) was added to the roster.")
	c.send("PRIVMSG &xmpp :add not-a-jid/x")
	c.expect(`:xircd!xircd@irc.test PRIVMSG &xmpp :"not-a-jid/x" is not a JID. Usage: add JID [NICK]`)

	// Commands work in a query with the service nick, too.
	c.send("PRIVMSG xircd :info Bobby")
	c.expect(
		":xircd!xircd@irc.test PRIVMSG me Bobby:",
		":xircd!xircd@irc.test PRIVMSG me :  JID: bob@example.org",
		":xircd!xircd@irc.test PRIVMSG me :  roster name: Bobby",
		":xircd!xircd@irc.test PRIVMSG me :  subscription: none (subscription request pending)",
		":xircd!xircd@irc.test PRIVMSG me :  offline",
	)

	h.event(xmpp.Subscription{From: "carol@example.org", Type: "subscribe"})
	c.expect(`:xircd!xircd@irc.test NOTICE &xmpp :carol@example.org asks to see your presence. Type "accept carol@example.org" to allow it or "deny carol@example.org" to refuse.`)
	c.send("PRIVMSG &xmpp :accept carol@example.org")
	h.expectCalls("approve carol@example.org", "subscribe carol@example.org")
	c.send("PRIVMSG &xmpp :deny dave@example.org")
	h.expectCalls("deny dave@example.org")
	c.send("PRIVMSG &xmpp :remove Alice")
	h.expectCalls("roster-remove alice@example.org")
	c.take()
	h.event(xmpp.RosterPush{Item: xmpp.RosterItem{JID: "alice@example.org", Subscription: "remove"}})
	c.expect(":xircd!xircd@irc.test NOTICE &xmpp :Contact Alice (alice@example.org) was removed from the roster.")
	if h.b.CheckNick("Alice") != nil {
		t.Error("a removed contact's nick is still taken")
	}
	c.send("PRIVMSG &xmpp :info Alice")
	c.expect(`:xircd!xircd@irc.test PRIVMSG &xmpp :No contact "Alice".`)

	c.send("PRIVMSG &xmpp :status")
	c.expect(
		":xircd!xircd@irc.test PRIVMSG &xmpp :XMPP: connected as me@example.org.",
		":xircd!xircd@irc.test PRIVMSG &xmpp :Contacts: 0 online of 1.",
		":xircd!xircd@irc.test PRIVMSG &xmpp :Your presence: available.",
		":xircd!xircd@irc.test PRIVMSG &xmpp :IRC clients attached: 2.",
	)
	c.send("PRIVMSG &xmpp :set")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :read_markers = false", ":xircd!xircd@irc.test PRIVMSG &xmpp :sed_corrections = false", ":xircd!xircd@irc.test PRIVMSG &xmpp :show_offline = false", ":xircd!xircd@irc.test PRIVMSG &xmpp :strangers = accept")
	c.send("PRIVMSG &xmpp :set show_offline maybe")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :show_offline takes true or false. Usage: set show_offline true|false")
	c.send("PRIVMSG &xmpp :save")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :No state directory is configured (bridge.state_dir); nothing is saved.")
}

// The help overview shows one summary per command; each must read as a
// whole sentence on its own, not the first line of a longer text.
func TestEveryCommandHasASummarySentence(t *testing.T) {
	for name, cmd := range controlCommands {
		if !strings.HasPrefix(cmd.usage, name) {
			t.Errorf("command %s: usage %q does not start with its name", name, cmd.usage)
		}
		s := cmd.summary
		first, _ := utf8.DecodeRuneInString(s)
		if !unicode.IsUpper(first) || !strings.HasSuffix(s, ".") || strings.ContainsAny(s, "\n") ||
			strings.Count(s, "(") != strings.Count(s, ")") || strings.Count(s, "\"")%2 != 0 {
			t.Errorf("command %s: summary %q is not one complete sentence", name, s)
		}
	}
}

func TestHelpOverviewAndDetail(t *testing.T) {
	_, c := online(t)
	c.send("PRIVMSG &xmpp :help")
	got := c.take()
	for _, want := range []string{
		":xircd!xircd@irc.test PRIVMSG &xmpp :  accept JID — Accepts a request to see your presence.",
		":xircd!xircd@irc.test PRIVMSG &xmpp :  join ROOM [PASSWORD] — Joins a group chat.",
		":xircd!xircd@irc.test PRIVMSG &xmpp :  help [COMMAND] — Lists the commands, or explains one.",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("help overview lacks %q; got:\n%s", want, strings.Join(got, "\n"))
		}
	}
	c.send("PRIVMSG &xmpp :help accept")
	c.expect(
		":xircd!xircd@irc.test PRIVMSG &xmpp :Usage: accept JID",
		":xircd!xircd@irc.test PRIVMSG &xmpp :Allows JID to see your presence (answers its subscription request)",
		":xircd!xircd@irc.test PRIVMSG &xmpp :and asks to see JID's presence in return.",
	)
	c.send("PRIVMSG &xmpp :help help")
	c.expect(
		":xircd!xircd@irc.test PRIVMSG &xmpp :Usage: help [COMMAND]",
		":xircd!xircd@irc.test PRIVMSG &xmpp :Lists the commands, or explains one.",
	)
}

func TestIRCQueries(t *testing.T) {
	h, c := online(t)
	h.event(avail("alice@example.org/phone", "away", "", 0))
	c.take()
	c.send("ISON Alice nobody xircd me")
	c.expect(":irc.test 303 me :Alice xircd me")
	c.send("USERHOST Alice me")
	c.expect(":irc.test 302 me :Alice=-alice@example.org me=+user@localhost")
	c.send("MODE &xmpp")
	c.expect(":irc.test 324 me &xmpp +nt", ":irc.test 329 me &xmpp 1772600767")
	c.send("MODE &xmpp +o Alice")
	c.expectContains(":irc.test 482 me &xmpp :The control channel's modes follow XMPP presence and cannot be changed")
	c.send("JOIN #room")
	c.expect(":irc.test 403 me #room :No default conference service (xmpp.muc_service) is configured: use #room@conference.example.org")
	c.send("PART &xmpp :bye")
	c.expect(":me!user@localhost PART &xmpp bye")
	// Presence changes no longer reach a client outside the channel.
	h.event(avail("alice@example.org/phone", "", "", 0))
	c.expect()
	c.send("JOIN &xmpp")
	c.expectContains(":me!user@localhost JOIN &xmpp", ":irc.test 353 me = &xmpp :@me @xircd +Alice")
	c.send("TOPIC &xmpp :new")
	c.expect(":irc.test 482 me &xmpp :The control channel's topic is fixed")
	c.send("LIST")
	c.expect(
		":irc.test 321 me Channel :Users  Name",
		`:irc.test 322 me &xmpp 3 :XMPP contacts of me@example.org — type "help" here for commands`,
		":irc.test 323 me :End of /LIST",
	)
	c.send("WHOIS nobody")
	c.expect(":irc.test 401 me nobody :No such nick/channel", ":irc.test 318 me nobody :End of /WHOIS list")
	// The user's own WHOIS shows the real name the client gave.
	c.send("WHOIS me")
	c.expect(
		":irc.test 311 me me user localhost * :Real Name",
		":irc.test 319 me me @&xmpp",
		":irc.test 312 me me irc.test :xircd XMPP gateway",
		":irc.test 320 me me :JID: me@example.org",
		":irc.test 318 me me :End of /WHOIS list",
	)
	// WHOWAS knows contacts who are offline, nobody else.
	h.event(xmpp.Roster{Items: []xmpp.RosterItem{item("alice@example.org", "Alice"), item("bob@example.org", "")}})
	c.take()
	c.send("WHOWAS bob,Alice,nobody 1")
	c.expect(
		":irc.test 314 me bob bob example.org * bob@example.org",
		":irc.test 312 me bob irc.test :XMPP contact, offline",
		":irc.test 369 me bob :End of WHOWAS",
		":irc.test 406 me Alice :There was no such nickname",
		":irc.test 369 me Alice :End of WHOWAS",
		":irc.test 406 me nobody :There was no such nickname",
		":irc.test 369 me nobody :End of WHOWAS",
	)
	c.send("WHOIS")
	c.expect(":irc.test 431 me :No nickname given")
	c.send("PRIVMSG")
	c.expect(":irc.test 411 me :No recipient given (PRIVMSG)")
	c.send("NOTICE Alice")
	c.expect(":irc.test 412 me :No text to send")
	c.send("PRIVMSG Alice :")
	c.expect(":irc.test 412 me :No text to send")
	c.send("KNOCK &xmpp")
	c.expect(":irc.test 421 me KNOCK :Unknown command")
	c.send("PRIVMSG nobody :hi")
	c.expect(":irc.test 401 me nobody :No such nick/channel")
}

func TestNickChangeSharedByClients(t *testing.T) {
	h, a := online(t)
	b := h.attach("me")
	b.take()
	a.send("NICK xircd")
	a.expect(":irc.test 433 me xircd :Nickname is reserved for the gateway's service")
	a.send("NICK newme")
	a.expect(":me!user@localhost NICK newme")
	b.expect(":me!user@localhost NICK newme")
	if b.Nick() != "newme" {
		t.Errorf("other client's nick %q", b.Nick())
	}
	// New contacts avoid the user's nick.
	h.event(xmpp.RosterPush{Item: item("newme@example.org", "")})
	if got := h.b.contacts.get("newme@example.org").nick; got != "newme_2" {
		t.Errorf("contact got %q, want newme_2", got)
	}
}

func TestIncompleteRosterKeepsRenames(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	c.send("PRIVMSG &xmpp :rename Alice ally")
	h.event(xmpp.Disconnected{})
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	h.event(xmpp.Roster{})
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	h.event(xmpp.Roster{Items: []xmpp.RosterItem{item("alice@example.org", "Alice")}})
	if got := h.b.contacts.get("alice@example.org").nick; got != "ally" {
		t.Errorf("after an empty roster alice is %q, want ally", got)
	}
	// An explicit removal forgets the nick.
	h.event(xmpp.RosterPush{Item: xmpp.RosterItem{JID: "alice@example.org", Subscription: "remove"}})
	h.event(xmpp.RosterPush{Item: item("alice@example.org", "Alice")})
	if got := h.b.contacts.get("alice@example.org").nick; got != "Alice" {
		t.Errorf("after remove and add alice is %q, want Alice", got)
	}
}

func TestListFilters(t *testing.T) {
	_, c := online(t)
	c.send("LIST #other")
	c.expect(":irc.test 321 me Channel :Users  Name", ":irc.test 323 me :End of /LIST")
	c.send("LIST &xmpp")
	c.expectContains(":irc.test 322 me &xmpp 3 :XMPP contacts of me@example.org — type \"help\" here for commands")
}

func TestBlockedSavedNickIsKept(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	h.stop()

	// A stranger who wrote before the roster came holds the nick for now.
	// (The user's own nick is no such block: see nicks_test.go.)
	h2 := newHarness(t, Config{StateDir: dir})
	c := h2.attach("me")
	h2.event(xmpp.Connected{JID: "me@example.org/xircd"})
	h2.event(xmpp.Message{From: "alice@elsewhere.net/x", Type: "chat", Body: "hi"})
	h2.event(xmpp.Roster{Items: []xmpp.RosterItem{item("alice@example.org", "alice")}})
	c.take()
	if got := h2.b.contacts.get("alice@example.org").nick; got != "alice_2" {
		t.Fatalf("contact got %q while a stranger is alice, want alice_2", got)
	}
	h2.stop()

	h3 := newHarness(t, Config{StateDir: dir})
	h3.connect(item("alice@example.org", "alice"))
	if got := h3.b.contacts.get("alice@example.org").nick; got != "alice" {
		t.Errorf("saved nick not restored: %q", got)
	}
}

func TestAddressingAContactInTheChannel(t *testing.T) {
	h, c := online(t)
	c.send("PRIVMSG &xmpp :Alice: hello there")
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="hello there"`)
	c.send("PRIVMSG &xmpp :alice, \x01ACTION waves\x01")
	h.expectCalls(`message id=id2 to=alice@example.org type=chat state=active body="/me waves"`)
	c.expect()
	// Commands still work, and an unknown nick is not a message.
	c.send("PRIVMSG &xmpp :nobody: hi")
	h.expectCalls()
	c.expectContains(`:xircd!xircd@irc.test PRIVMSG &xmpp :Unknown command "nobody:". Commands: accept, add, block, blocklist, bookmark, deny, fingerprint, help, info, join, omemo, remove, rename, rooms, save, set, status, unblock. Type "help COMMAND" for details.`)
}

func TestMoreIRCCommands(t *testing.T) {
	h, c := online(t)
	c.send("NAMES &xmpp")
	c.expect(":irc.test 353 me = &xmpp :@me @xircd +Alice", ":irc.test 366 me &xmpp :End of /NAMES list")
	c.send("NAMES #nowhere")
	c.expect(":irc.test 366 me #nowhere :End of /NAMES list")
	c.send("INVITE Alice &xmpp")
	c.expect(`:irc.test 482 me &xmpp :Contacts join the control channel by being in your roster: use "add JID"`)
	c.send("KICK &xmpp Alice :go")
	c.expect(`:irc.test 482 me &xmpp :Use "remove nick" to remove a contact from your roster`)
	c.send("KICK #room Alice")
	c.expect(":irc.test 442 me #room :You're not on that channel")
	c.send("TOPIC &xmpp")
	c.expect(
		`:irc.test 332 me &xmpp :XMPP contacts of me@example.org — type "help" here for commands`,
		":irc.test 333 me &xmpp xircd!xircd@irc.test 1772600767",
	)
	c.send("PRIVMSG #room :hi")
	c.expect(":irc.test 404 me #room :You are not in that room: JOIN it first")
	c.send("PRIVMSG &other :hi")
	c.expect(":irc.test 403 me &other :No such channel")

	h.event(xmpp.RequestDone{ID: "r1", Op: "roster-set", Err: &xmpp.StanzaError{Condition: "not-allowed"}})
	c.expect(":xircd!xircd@irc.test NOTICE &xmpp :The XMPP server refused roster-set: not-allowed.")
	h.event(xmpp.Message{From: "bob@example.org/x", Type: "normal", Invite: &xmpp.MUCInvite{Room: "team@conference.example.org", From: "bob@example.org", Reason: "standup"}})
	c.expect(":xircd!xircd@irc.test NOTICE &xmpp :bob@example.org invites you to the group chat team@conference.example.org (standup). Type \"/join #team@conference.example.org\" to accept.")

	c.send("PRIVMSG xircd :help")
	got := c.take()
	if len(got) != len(controlCommands)+2 || !strings.Contains(got[1], "accept JID") {
		t.Errorf("help lists:\n%s", strings.Join(got, "\n"))
	}
	c.send("PRIVMSG xircd :help nosuch")
	c.expectContains(`:xircd!xircd@irc.test PRIVMSG me :No command "nosuch". Commands: accept, add, block, blocklist, bookmark, deny, fingerprint, help, info, join, omemo, remove, rename, rooms, save, set, status, unblock.`)
	c.send("PRIVMSG xircd :\x01VERSION\x01")
	c.expect(":xircd!xircd@irc.test NOTICE me :\x01VERSION xircd XMPP gateway\x01")
}

func TestSaveCommand(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	c := h.attach("me")
	c.take()
	c.send("PRIVMSG &xmpp :save")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :Saved to " + dir + "/bridge.json.")
}

func TestValidBareJID(t *testing.T) {
	for s, want := range map[string]bool{
		"alice@example.org": true, "example.org": true, "Zoë@example.org": true,
		"": false, "alice@": false, "@example.org": false, "a@b@c": false,
		"alice@example.org/phone": false, "al ice@example.org": false, "a\x01@b": false,
		`"a"@b`: false, "a'b@c": false, "a<b@c": false, "a&b@c": false, "a@b\xff": false,
	} {
		if got := validBareJID(s); got != want {
			t.Errorf("validBareJID(%q) = %v, want %v", s, got, want)
		}
	}
}
