package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"xircd/xmpp"
)

const roomJID = "room@conference.example.org"

func occ(nick, affiliation, role, jid string, codes ...int) xmpp.Presence {
	return xmpp.Presence{From: roomJID + "/" + nick, MUC: &xmpp.MUCPresence{Affiliation: affiliation, Role: role, JID: jid, Codes: codes}}
}

// joinedRoom returns a harness whose user "me" is in #room with alice (a
// roster contact, owner), bob (a stranger, participant) and "Alice" (a
// stranger whose room nick is a contact's nick).
func joinedRoom(t *testing.T, caps ...string) (*harness, *ircClient) {
	t.Helper()
	h := newHarness(t, Config{MUCService: "conference.example.org"})
	c := h.attach("me", caps...)
	h.connect(item("alice@example.org", "Alice"))
	c.take()
	h.x.takeCalls()
	c.send("JOIN #room")
	c.expect()
	h.expectCalls(`join room@conference.example.org nick=me password="" since=`)
	h.event(occ("alice", "owner", "moderator", "alice@example.org/phone"))
	h.event(occ("bob", "none", "participant", ""))
	h.event(occ("Alice", "member", "visitor", ""))
	h.event(occ("me", "none", "participant", "me@example.org/xircd", 110))
	return h, c
}

func TestRoomJoinNamesTopicHistory(t *testing.T) {
	h, c := joinedRoom(t, "multi-prefix")
	c.expect(
		":me!user@localhost JOIN #room",
		":irc.test 353 me = #room :~@Alice Alice_2 +bob +me",
		":irc.test 366 me #room :End of /NAMES list",
	)
	// 04:00 UTC, given in a zone east of UTC.
	stamp := time.Date(2026, 3, 4, 9, 30, 0, 0, time.FixedZone("UTC+5:30", 5*60*60+30*60))
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "earlier", Delay: stamp})
	c.expect(":bob!room@conference.example.org PRIVMSG #room :[2026-03-04 04:00:00] earlier")
	h.event(xmpp.Message{From: roomJID + "/alice", Type: "groupchat", Subject: "Plans", HasSubject: true, Delay: stamp})
	c.expect(
		":irc.test 332 me #room Plans",
		":irc.test 333 me #room Alice!alice@example.org 1772596800",
	)
	// A later client gets the room too, without multi-prefix.
	c2 := h.attach("me", "server-time")
	got := c2.take()
	want := []string{
		":me!user@localhost JOIN #room",
		":irc.test 332 me #room Plans",
		":irc.test 333 me #room Alice!alice@example.org 1772596800",
		":irc.test 353 me = #room :~Alice Alice_2 +bob +me",
		":irc.test 366 me #room :End of /NAMES list",
	}
	joined := strings.Join(got, "\n")
	if !strings.Contains(joined, strings.Join(want, "\n")) {
		t.Fatalf("second client got:\n%s\nwant the sequence:\n%s", joined, strings.Join(want, "\n"))
	}
	// History for a server-time client keeps the stamp as a tag.
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "old", Delay: stamp.Add(time.Minute)})
	c2.expect("@time=2026-03-04T04:01:00.000Z :bob!room@conference.example.org PRIVMSG #room old")
	// The occupant holds its nick while it is there.
	if h.b.nicks.occupant("Alice_2") == nil {
		t.Fatal("an occupant does not hold its nick")
	}
}

func TestRoomTopicSetsTheSubject(t *testing.T) {
	h, c := joinedRoom(t)
	c.take()
	h.x.takeCalls()
	// Without text TOPIC only asks: nothing goes to the room.
	c.send("TOPIC #room")
	c.expect(":irc.test 331 me #room :No topic is set")
	h.expectCalls()
	// With text it asks the room to set exactly that subject; the topic
	// changes when the room reflects it, not before.
	c.send("TOPIC #room :Plans for Friday: 18:00, at Bob's")
	h.expectCalls(`message id=id1 to=room@conference.example.org type=groupchat state= body="" subject="Plans for Friday: 18:00, at Bob's"`)
	c.expect()
	// An empty text clears the subject.
	c.send("TOPIC #room :")
	h.expectCalls(`message id=id2 to=room@conference.example.org type=groupchat state= body="" subject=""`)
}

func TestRoomMessagesBothWays(t *testing.T) {
	h, c := joinedRoom(t)
	c2 := h.attach("me", "echo-message")
	c.take()
	c2.take()
	h.x.takeCalls()
	c.send("PRIVMSG #room :hello all")
	c.expect()
	c2.expect(":me!user@localhost PRIVMSG #room :hello all")
	h.expectCalls(`message id=id1 to=room@conference.example.org type=groupchat state= body="hello all"`)
	// The room's reflection is not shown again.
	h.event(xmpp.Message{ID: "id1", From: roomJID + "/me", Type: "groupchat", Body: "hello all"})
	c.expect()
	c2.expect()
	// The same text sent from another client of the account is shown.
	h.event(xmpp.Message{ID: "other", From: roomJID + "/me", Type: "groupchat", Body: "from my phone"})
	c.expect(":me!user@localhost PRIVMSG #room :from my phone")
	c2.take()
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "hi\n/me waves"})
	c.expect(
		":bob!room@conference.example.org PRIVMSG #room hi",
		":bob!room@conference.example.org PRIVMSG #room :/me waves",
	)
	c2.take()
	// A contact in the room speaks with the contact's nick.
	h.event(xmpp.Message{From: roomJID + "/alice", Type: "groupchat", Body: "yo"})
	c.expect(":Alice!alice@example.org PRIVMSG #room yo")
	c2.take()
	// Private messages with an occupant.
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "chat", Body: "psst"})
	c.expect(":bob!room@conference.example.org PRIVMSG me psst")
	c2.take()
	// The user's own, sent from another client, is shown in the query.
	h.event(xmpp.Message{From: "me@example.org/laptop", To: roomJID + "/bob", Type: "chat", Body: "psst back", Carbon: xmpp.CarbonSent})
	c.expect(":me!user@localhost PRIVMSG bob :psst back")
	c2.take()
	c.send("WHOIS bob")
	c.expect(
		":irc.test 311 me bob room conference.example.org * bob",
		":irc.test 319 me bob +#room",
		":irc.test 312 me bob irc.test :XMPP group chat occupant",
		":irc.test 320 me bob :room room@conference.example.org, nick bob",
		":irc.test 320 me bob :affiliation: none, role: participant",
		":irc.test 318 me bob :End of /WHOIS list",
	)
	c.send("WHO #room")
	c.expect(
		":irc.test 352 me #room alice example.org irc.test Alice H~ :0 Alice",
		":irc.test 352 me #room room conference.example.org irc.test Alice_2 H :0 Alice",
		":irc.test 352 me #room room conference.example.org irc.test bob H+ :0 bob",
		":irc.test 352 me #room user localhost irc.test me H+ :0 Real Name",
		":irc.test 315 me #room :End of /WHO list",
	)
	c.send("PRIVMSG bob :what")
	h.expectCalls(`message id=id2 to=room@conference.example.org/bob type=chat state=active body="what"`)
	// A room error about our message.
	h.event(xmpp.Message{ID: "id2", From: roomJID + "/bob", Type: "error", Error: &xmpp.StanzaError{Condition: "item-not-found"}})
	c.expectContains(":xircd!xircd@irc.test NOTICE #room :The room refused a request: item-not-found")
	// A contact in the room who leaves the roster keeps a usable nick.
	h.event(xmpp.RosterPush{Item: xmpp.RosterItem{JID: "alice@example.org", Subscription: "remove"}})
	c.take()
	c2.take()
	h.event(xmpp.Message{From: roomJID + "/alice", Type: "groupchat", Body: "still here"})
	c.expect(":alice!room@conference.example.org PRIVMSG #room :still here")
	c2.take()
}

func TestRoomEvents(t *testing.T) {
	h, c := joinedRoom(t)
	h.event(xmpp.Message{From: roomJID, Type: "groupchat", HasSubject: true})
	c.take()
	h.event(occ("carol", "none", "participant", ""))
	c.expect(":carol!room@conference.example.org JOIN #room", ":irc.test MODE #room +v carol")
	h.event(occ("bob", "none", "moderator", ""))
	c.expect(":irc.test MODE #room +o-v bob bob")
	p := occ("bob", "none", "participant", "", 303)
	p.Type, p.MUC.Nick = "unavailable", "robert"
	h.event(p)
	c.expect(":bob!room@conference.example.org NICK robert")
	h.event(occ("robert", "none", "moderator", ""))
	c.expect()
	k := occ("carol", "none", "none", "", 307)
	k.Type, k.MUC.Reason, k.MUC.Actor = "unavailable", "spam", "alice"
	h.event(k)
	c.expect(":xircd!xircd@irc.test KICK #room carol :kicked by alice: spam")
	l := occ("robert", "none", "none", "")
	l.Type, l.Status = "unavailable", "gone home"
	h.event(l)
	c.expect(":robert!room@conference.example.org PART #room :gone home")
	h.event(xmpp.Message{From: roomJID + "/alice", Type: "groupchat", Subject: "New plans", HasSubject: true})
	c.expect(":Alice!alice@example.org TOPIC #room :New plans")
	c.send("TOPIC #room :Newer")
	h.expectCalls(`message id=id1 to=room@conference.example.org type=groupchat state= body="" subject="Newer"`)
	c.send("TOPIC #room")
	c.expect(":irc.test 332 me #room :New plans", ":irc.test 333 me #room Alice!alice@example.org 1772600767")
	// Moderation requests.
	c.send("KICK #room Alice_2 :bye")
	h.expectCalls(`set-role room@conference.example.org nick=Alice role=none reason="bye"`)
	c.send("MODE #room -v Alice")
	h.expectCalls(`set-role room@conference.example.org nick=alice role=visitor reason=""`)
	c.expect(":irc.test 482 me #room :The room refused to make Alice a visitor: forbidden")
	c.send("INVITE Alice #room")
	c.expect(":irc.test 341 me Alice #room")
	h.expectCalls("invite room@conference.example.org to=alice@example.org")
	// The user's new IRC nick becomes the room nick.
	c.send("NICK mee")
	c.expect(":me!user@localhost NICK mee")
	h.expectCalls(`join room@conference.example.org nick=mee password="" since=`)
	self := occ("me", "none", "participant", "", 110, 303)
	self.Type, self.MUC.Nick = "unavailable", "mee"
	h.event(self)
	c.expect(`:xircd!xircd@irc.test NOTICE #room :Your nick in this room is now "mee".`)
	h.event(occ("mee", "none", "participant", "", 110))
	c.expect()
	c.send("NICK me")
	c.take()
	h.expectCalls(`join room@conference.example.org nick=me password="" since=`)
	h.event(xmpp.Presence{From: roomJID + "/me", Type: "error", Error: &xmpp.StanzaError{Condition: "conflict"}})
	c.expect(`:xircd!xircd@irc.test NOTICE #room :The room refused the nick "me": conflict`)
	h.expectCalls(`join room@conference.example.org nick=mee password="" since=`)
	// Being banned ends the room.
	b := occ("mee", "outcast", "none", "", 110, 301)
	b.Type, b.MUC.Reason = "unavailable", "enough"
	h.event(b)
	c.expect(":xircd!xircd@irc.test KICK #room me :banned: enough")
	c.send("NAMES #room")
	c.expect(":irc.test 366 me #room :End of /NAMES list")
	if h.b.nicks.occupant("alice_2") != nil {
		t.Fatal("occupant nicks are kept after the room was left")
	}
}

func TestRoomJoinErrors(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.attach("me")
	h.connect()
	c.take()
	h.x.takeCalls()
	c.send("JOIN #secret@conference.example.org,#full@conference.example.org wrong")
	h.expectCalls(
		`join secret@conference.example.org nick=me password="wrong" since=`,
		`join full@conference.example.org nick=me password="" since=`,
	)
	h.event(xmpp.Presence{From: "secret@conference.example.org/me", Type: "error", Error: &xmpp.StanzaError{Type: "auth", Condition: "not-authorized"}})
	c.expect(":irc.test 475 me #secret@conference.example.org :Cannot join the room: password required or wrong (+k)")
	h.event(xmpp.Presence{From: "full@conference.example.org/me", Type: "error", Error: &xmpp.StanzaError{Type: "wait", Condition: "service-unavailable", Text: "Room is full"}})
	c.expect(":irc.test 471 me #full@conference.example.org :Cannot join the room: it is full (+l) (Room is full)")
	// A nick conflict is retried with another nick, and the user told.
	c.send("JOIN #busy@conference.example.org")
	h.expectCalls(`join busy@conference.example.org nick=me password="" since=`)
	h.event(xmpp.Presence{From: "busy@conference.example.org/me", Type: "error", Error: &xmpp.StanzaError{Type: "cancel", Condition: "conflict"}})
	c.expect(`:xircd!xircd@irc.test NOTICE &xmpp :#busy@conference.example.org: The nick "me" is taken in busy@conference.example.org; trying "me_2".`)
	h.expectCalls(`join busy@conference.example.org nick=me_2 password="" since=`)
	h.event(xmpp.Presence{From: "busy@conference.example.org/me_2", MUC: &xmpp.MUCPresence{Role: "participant", Codes: []int{110}}})
	c.expect(
		":me!user@localhost JOIN #busy@conference.example.org",
		":irc.test 353 me = #busy@conference.example.org +me",
		":irc.test 366 me #busy@conference.example.org :End of /NAMES list",
		`:xircd!xircd@irc.test NOTICE #busy@conference.example.org :Your nick in this room is "me_2".`,
	)
	c.send("PART #busy@conference.example.org :later")
	c.expect(":me!user@localhost PART #busy@conference.example.org later")
	h.expectCalls(`leave busy@conference.example.org status="later"`)
	c.send("PART #busy@conference.example.org")
	c.expect(":irc.test 442 me #busy@conference.example.org :You're not on that channel")
	c.send("TOPIC #busy@conference.example.org")
	c.expect(":irc.test 403 me #busy@conference.example.org :No such channel")
	// JOIN 0 leaves every room too.
	c.send("JOIN #a@conference.example.org")
	h.event(xmpp.Presence{From: "a@conference.example.org/me", MUC: &xmpp.MUCPresence{Role: "participant", Codes: []int{110}}})
	c.take()
	h.x.takeCalls()
	c.send("JOIN 0")
	c.expect(":me!user@localhost PART &xmpp", ":me!user@localhost PART #a@conference.example.org")
	h.expectCalls(`leave a@conference.example.org status=""`)
}

func TestJoinAnsweredOnceTheRoomLetsUsIn(t *testing.T) {
	h := newHarness(t, Config{MUCService: "conference.example.org"}, func(b *Bridge) { b.holdFor = time.Minute })
	c := h.attach("me", "labeled-response", "batch")
	other := h.attach("me")
	h.connect()
	c.take()
	other.take()
	h.x.takeCalls()

	// The JOIN's answer (JOIN, NAMES) is the reply to the command, so
	// that it comes before anything the client sends next and inside a
	// labeled-response batch; the other client just sees the JOIN.
	held := c.gateNextAnswer()
	c.write("@label=j1 JOIN #room")
	waitFor(t, func() bool { return len(h.x.takeCalls()) > 0 })
	h.barrier()
	select {
	case err := <-held.answered:
		t.Fatalf("JOIN answered (%v) before the room let us in", err)
	default:
	}
	h.event(occ("bob", "none", "participant", ""))
	h.event(occ("me", "none", "participant", "me@example.org/xircd", 110))
	if err := <-held.answered; err != nil {
		t.Fatal(err)
	}
	joined := []string{
		":me!user@localhost JOIN #room",
		":irc.test 353 me = #room :+bob +me",
		":irc.test 366 me #room :End of /NAMES list",
	}
	other.expect(joined...)
	// The room's history comes right after; it waits until ircd has
	// queued the JOIN's answer, so that it does not overtake it.
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "earlier", Delay: fixedNow})
	held.release()
	c.sync() // the JOIN is handled; what it released may still be under way
	c.expect(
		"@label=j1 :irc.test BATCH +L1 labeled-response",
		"@batch=L1 "+joined[0],
		"@batch=L1 "+joined[1],
		"@batch=L1 "+joined[2],
		":irc.test BATCH -L1",
		":bob!room@conference.example.org PRIVMSG #room :[2026-03-04 05:06:07] earlier",
	)
	other.take()

	// A refusal is the answer too.
	c.write("@label=j2 JOIN #secret")
	waitFor(t, func() bool { return len(h.x.takeCalls()) > 0 })
	h.event(xmpp.Presence{From: "secret@conference.example.org/me", Type: "error", Error: &xmpp.StanzaError{Type: "auth", Condition: "not-authorized"}})
	refused := ":irc.test 475 me #secret :Cannot join the room: password required or wrong (+k)"
	c.expect("@label=j2 " + refused)
	other.expect(refused)

	// LIST waits for the conference service's public rooms likewise.
	c.write("@label=l1 LIST")
	c.awaitLine("BATCH -")
	got := strings.Join(c.take(), "\n")
	if !strings.HasPrefix(got, "@label=l1 :irc.test BATCH +L2 labeled-response\n") ||
		!strings.Contains(got, "@batch=L2 :irc.test 322 me #lobby 0 :The lobby\n@batch=L2 :irc.test 323 me :End of /LIST\n:irc.test BATCH -L2") {
		t.Errorf("LIST answered with:\n%s", got)
	}
}

// waitFor polls cond, for what happens in its own time (a command's
// answer that waits for XMPP).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A room that does not answer in time: the JOIN is answered empty and the
// channel shows up when the room lets us in.
func TestJoinOfASilentRoom(t *testing.T) {
	h := newHarness(t, Config{MUCService: "conference.example.org"}, func(b *Bridge) { b.holdFor = time.Millisecond })
	c := h.attach("me", "labeled-response")
	h.connect()
	c.take()
	c.send("@label=s1 JOIN #slow")
	c.expect("@label=s1 :irc.test ACK")
	h.event(xmpp.Presence{From: "slow@conference.example.org/me", MUC: &xmpp.MUCPresence{Role: "participant", Codes: []int{110}}})
	c.expect(":me!user@localhost JOIN #slow", ":irc.test 353 me = #slow +me", ":irc.test 366 me #slow :End of /NAMES list")
}

func TestRoomRejoinAfterReconnect(t *testing.T) {
	h, c := joinedRoom(t)
	c.take()
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "before"})
	c.take()
	h.x.setConnected(false)
	h.event(xmpp.Disconnected{Err: context.DeadlineExceeded, RetryIn: time.Second})
	c.take()
	c.send("PRIVMSG #room :while down")
	c.expect(`:xircd!xircd@irc.test NOTICE #room :Not in the room at the moment; message queued, it will be sent on rejoin: "while down"`)
	h.x.setConnected(true)
	h.x.takeCalls()
	h.connect(item("alice@example.org", "Alice"))
	h.expectCalls(`join room@conference.example.org nick=me password="" since=2026-03-04T05:06:07.000Z`)
	c.take()
	h.event(occ("alice", "owner", "moderator", "alice@example.org/phone"))
	h.event(occ("dave", "none", "participant", ""))
	h.event(occ("me", "none", "participant", "", 110))
	c.expect(
		":dave!room@conference.example.org JOIN #room",
		":irc.test MODE #room +v dave",
		":Alice_2!room@conference.example.org PART #room :left while the gateway was disconnected",
		":bob!room@conference.example.org PART #room :left while the gateway was disconnected",
		`:xircd!xircd@irc.test NOTICE #room :queued message sent: "while down"`,
	)
	h.expectCalls(`message id=id1 to=room@conference.example.org type=groupchat state= body="while down"`)
	// History repeated by the room after the rejoin is not shown again.
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "before", Delay: fixedNow})
	c.expect()
}

func TestRoomBookmarksListInvites(t *testing.T) {
	h := newHarness(t, Config{MUCService: "conference.example.org"})
	c := h.attach("me")
	h.x.mu.Lock()
	h.x.bookmarks = []xmpp.Bookmark{{JID: "team@conference.example.org", Autojoin: true, Password: "pw"}, {JID: "quiet@elsewhere.org"}}
	h.x.mu.Unlock()
	h.connect()
	h.expectCalls(`join team@conference.example.org nick=me password="pw" since=`)
	h.event(xmpp.Presence{From: "team@conference.example.org/me", MUC: &xmpp.MUCPresence{Role: "participant", Codes: []int{110}}})
	c.expectContains(":me!user@localhost JOIN #team")
	c.send("LIST")
	got := strings.Join(c.take(), "\n")
	if !strings.HasSuffix(got, ":irc.test 322 me #lobby 0 :The lobby\n:irc.test 323 me :End of /LIST") {
		t.Fatalf("LIST answered:\n%s", got)
	}
	h.event(xmpp.Message{From: "lobby@conference.example.org", Type: "normal", Invite: &xmpp.MUCInvite{Room: "lobby@conference.example.org", From: "alice@example.org", Password: "s3"}})
	c.expect(`:xircd!xircd@irc.test NOTICE &xmpp :alice@example.org invites you to the group chat lobby@conference.example.org. Type "/join #lobby s3" to accept.`)
	c.send("PRIVMSG &xmpp :rooms")
	c.expectContains(`:xircd!xircd@irc.test PRIVMSG &xmpp :#team = team@conference.example.org as "me", joined, 1 occupants`)
}

func TestRoomControlCommands(t *testing.T) {
	h := newHarness(t, Config{MUCService: "conference.example.org"})
	c := h.attach("me")
	h.connect()
	c.take()
	h.x.takeCalls()
	c.send("PRIVMSG &xmpp :join lounge pw")
	c.expect(`:xircd!xircd@irc.test PRIVMSG &xmpp :Joining #lounge…`)
	h.expectCalls(`join lounge@conference.example.org nick=me password="pw" since=`)
	h.event(xmpp.Presence{From: "lounge@conference.example.org/me", MUC: &xmpp.MUCPresence{Role: "participant", Codes: []int{110}}})
	c.expectContains(":me!user@localhost JOIN #lounge")
	c.send("PRIVMSG &xmpp :bookmark add #lounge")
	h.expectCalls(`bookmark-set lounge@conference.example.org autojoin=true password="pw"`)
	c.expect(":xircd!xircd@irc.test NOTICE &xmpp :Bookmarked lounge@conference.example.org (joined at connect).")
	c.send("PRIVMSG &xmpp :bookmark list")
	c.expect(":xircd!xircd@irc.test NOTICE &xmpp :Bookmarks: #lounge = lounge@conference.example.org, autojoin")
	c.send("PRIVMSG &xmpp :bookmark remove other@elsewhere.org")
	h.expectCalls("bookmark-remove other@elsewhere.org")
	c.expect(":xircd!xircd@irc.test NOTICE &xmpp :Bookmark for other@elsewhere.org removed.")
	c.send("PRIVMSG &xmpp :bookmark frob x")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :Usage: bookmark list | add ROOM [noautojoin] | remove ROOM")
	c.send("WHOIS lounge")
	c.expectContains(":irc.test 401 me lounge :No such nick/channel")
}

// A contact who goes offline while still in a room leaves the control
// channel with PART: a QUIT would take it out of the room on IRC as well.
func TestContactOfflineStaysInRoom(t *testing.T) {
	h, c := joinedRoom(t)
	h.event(xmpp.Presence{From: "alice@example.org/phone"})
	c.take()
	h.event(xmpp.Presence{From: "alice@example.org/phone", Type: "unavailable"})
	c.expect(":Alice!alice@example.org PART &xmpp offline")
	// Once it has left the room too, going offline is a QUIT again.
	h.event(xmpp.Presence{From: "alice@example.org/phone"})
	c.take()
	l := occ("alice", "owner", "none", "alice@example.org/phone")
	l.Type = "unavailable"
	h.event(l)
	c.take()
	h.event(xmpp.Presence{From: "alice@example.org/phone", Type: "unavailable"})
	c.expect(":Alice!alice@example.org QUIT offline")
}

// A resumed stream is still in its rooms: nothing is rejoined, contacts
// keep their presence, no archive is fetched, and what was queued goes out.
func TestResumedStreamRejoinsNothing(t *testing.T) {
	h, c := joinedRoom(t)
	h.event(avail("alice@example.org/phone", "", "", 0))
	c.take()
	h.x.setConnected(false)
	h.event(xmpp.Disconnected{Err: context.DeadlineExceeded, RetryIn: time.Second})
	c.take()
	c.send("PRIVMSG #room :while down")
	c.send("PRIVMSG Alice :to alice")
	c.take()
	h.x.setConnected(true)
	h.x.takeCalls()
	h.event(xmpp.Connected{JID: "me@example.org/xircd", Resumed: true})
	h.expectCalls(
		`message id=id2 to=alice@example.org type=chat state=active body="to alice"`,
		`message id=id1 to=room@conference.example.org type=groupchat state= body="while down"`,
	)
	c.expectContains(":xircd!xircd@irc.test NOTICE &xmpp :Reconnected to XMPP as me@example.org/xircd (session resumed, nothing missed).")
	if got := h.b.contactByNick("Alice"); got == nil || len(got.resources) == 0 {
		t.Error("a resumed stream dropped Alice's presence")
	}
}

// Messages the lost stream may not have delivered are named, each quoted.
func TestUnconfirmedMessagesAreReported(t *testing.T) {
	h, c := joinedRoom(t)
	c.take()
	h.event(xmpp.Unconfirmed{Messages: []xmpp.OutMessage{
		{ID: "a", To: "alice@example.org", Type: "chat", Body: "first"},
		{ID: "b", To: roomJID, Type: "groupchat", Body: "second"},
	}})
	c.expect(
		`:xircd!xircd@irc.test NOTICE &xmpp :The XMPP connection was lost before the server confirmed your message to Alice; it may not have been delivered: "first"`,
		`:xircd!xircd@irc.test NOTICE &xmpp :The XMPP connection was lost before the server confirmed your message to #room; it may not have been delivered: "second"`,
	)
}

// A room that removes us over a delivery error (status 333, as Prosody
// does when stream management bounces what a closing stream never
// acknowledged) is joined again, and the channel stays.
func TestRoomRemovalByErrorRejoins(t *testing.T) {
	h, c := joinedRoom(t)
	c.take()
	h.x.takeCalls()
	gone := occ("me", "none", "none", "", 110, 307, 333)
	gone.Type = "unavailable"
	h.event(gone)
	h.expectCalls(`join room@conference.example.org nick=me password="" since=`)
	c.expect()
	h.event(occ("me", "none", "participant", "", 110))
	c.send("PRIVMSG #room :still here")
	h.expectCalls(`message id=id1 to=room@conference.example.org type=groupchat state= body="still here"`)
}

// A contact in a shown room is observed there: its AWAY reaches a client
// with away-notify that left the control channel.
func TestAwayOfAContactInARoom(t *testing.T) {
	h, c := joinedRoom(t, "away-notify")
	h.event(avail("alice@example.org/phone", "", "", 0))
	c.send("PART &xmpp")
	c.take()
	h.event(avail("alice@example.org/phone", "away", "lunch", 0))
	c.expect(":Alice!alice@example.org AWAY :away: lunch")
}
