package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"xircd/xmpp"
)

func (f *fakeXMPP) SendRetraction(to, typ, id string) error {
	if !f.isConnected() {
		return errFakeNotConnected
	}
	f.record("retract to=%s type=%s id=%s", to, typ, id)
	return nil
}

// ModerateMessage is refused for the stanza-id "refuse".
func (f *fakeXMPP) ModerateMessage(ctx context.Context, room, stanzaID, reason string) (string, error) {
	f.record("moderate %s id=%s reason=%q", room, stanzaID, reason)
	return f.request(func(id string) xmpp.Event {
		if stanzaID == "refuse" {
			return xmpp.RequestDone{ID: id, Op: "moderate", Err: &xmpp.StanzaError{Type: "cancel", Condition: "feature-not-implemented"}}
		}
		return xmpp.RequestDone{ID: id, Op: "moderate"}
	})
}

func (f *fakeXMPP) SendReceipt(to, id string) error {
	f.record("receipt to=%s id=%s", to, id)
	return nil
}

// The block list: blocking "eve@example.org" is refused as a server
// without XEP-0191 would.
func (f *fakeXMPP) GetBlockList(ctx context.Context) (string, error) {
	return f.request(func(id string) xmpp.Event { return xmpp.BlockList{ID: id, JIDs: []string{"spam@example.net"}} })
}

func (f *fakeXMPP) Block(ctx context.Context, jid string) (string, error) {
	f.record("block %s", jid)
	return f.request(func(id string) xmpp.Event {
		if jid == "eve@example.org" {
			return xmpp.RequestDone{ID: id, Op: "block", Err: &xmpp.StanzaError{Type: "cancel", Condition: "service-unavailable"}}
		}
		return xmpp.RequestDone{ID: id, Op: "block"}
	})
}

func (f *fakeXMPP) Unblock(ctx context.Context, jid string) (string, error) {
	f.record("unblock %s", jid)
	return f.request(func(id string) xmpp.Event { return xmpp.RequestDone{ID: id, Op: "unblock"} })
}

// chatWithRedaction is a connected bridge with Alice and Bob online, a
// client with draft/message-redaction and a plain one.
func chatWithRedaction(t *testing.T) (*harness, *ircClient, *ircClient) {
	t.Helper()
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"), item("bob@example.org", "Bob"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	h.event(avail("bob@example.org/desk", "", "", 0))
	tagged := h.attach("me", "message-tags", capRedaction)
	plain := h.attach("me")
	tagged.take()
	plain.take()
	h.x.takeCalls()
	return h, tagged, plain
}

// lastLine is the last of lines, "" when there is none.
func lastLine(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return lines[len(lines)-1]
}

func TestChatRetractionShownAsRedactOrNotice(t *testing.T) {
	h, tagged, plain := chatWithRedaction(t)
	h.event(xmpp.Message{ID: "a1", OriginID: "o1", StanzaID: "s1", From: "alice@example.org/phone", Type: "chat", Body: "oops, wrong chat"})
	tagged.take()
	plain.take()
	// Bob cannot retract Alice's message: in his chat, its id is unknown.
	h.event(xmpp.Message{ID: "b1", From: "bob@example.org/desk", Type: "chat", Retract: &xmpp.Retraction{ID: "o1"}, Body: "/me retracted"})
	tagged.expect("@msgid=m1 :Bob!bob@example.org NOTICE me :[xircd] Bob deleted a message that xircd no longer remembers.")
	plain.take()
	// Nor can the user's other clients (a carbon of a retraction of it).
	h.event(xmpp.Message{ID: "m0", From: "me@example.org/laptop", To: "alice@example.org", Type: "chat", Carbon: xmpp.CarbonSent, Retract: &xmpp.Retraction{ID: "o1"}})
	tagged.expect()
	plain.expect()
	h.event(xmpp.Message{ID: "r1", From: "alice@example.org/phone", Type: "chat", Retract: &xmpp.Retraction{ID: "o1"}, Body: "/me retracted a previous message, but it's unsupported by your client."})
	tagged.expect(":Alice!alice@example.org REDACT me s1")
	if got := lastLine(plain.take()); !strings.HasSuffix(got, ` NOTICE me :[xircd] Alice deleted the message "oops, wrong chat"`) {
		t.Errorf("plain client got %q", got)
	}
	// Again, or an id never seen: a notice without a quote.
	h.event(xmpp.Message{ID: "r2", From: "alice@example.org/phone", Type: "chat", Retract: &xmpp.Retraction{ID: "o1"}})
	for _, c := range []*ircClient{tagged, plain} {
		if got := lastLine(c.take()); !strings.HasSuffix(got, "NOTICE me :[xircd] Alice deleted a message that xircd no longer remembers.") {
			t.Errorf("client got %q", got)
		}
	}
	// Delayed (room history, offline storage): only logged.
	h.event(xmpp.Message{ID: "r3", From: "alice@example.org/phone", Type: "chat", Retract: &xmpp.Retraction{ID: "o9"}, Delay: readT1})
	tagged.expect()
	// The user's retraction from another client (a carbon).
	h.event(xmpp.Message{ID: "m1", OriginID: "m1", From: "me@example.org/laptop", To: "alice@example.org", Type: "chat", Body: "mine", Carbon: xmpp.CarbonSent})
	tagged.take()
	plain.take()
	h.event(xmpp.Message{ID: "m2", From: "me@example.org/laptop", To: "alice@example.org", Type: "chat", Carbon: xmpp.CarbonSent, Retract: &xmpp.Retraction{ID: "m1"}})
	tagged.expect(":me!user@localhost REDACT Alice m1")
	if got := lastLine(plain.take()); !strings.HasSuffix(got, `NOTICE me :[xircd] you deleted the message "mine"`) {
		t.Errorf("plain client got %q", got)
	}
}

func TestRedactFromIRC(t *testing.T) {
	h, tagged, plain := chatWithRedaction(t)
	tagged.send("PRIVMSG Alice :sent by mistake")
	tagged.take()
	plain.take()
	h.x.takeCalls()
	tagged.send("REDACT Alice nope")
	tagged.expect(":irc.test FAIL REDACT UNKNOWN_MSGID Alice nope :No such message here (it may be too old): nothing was sent")
	tagged.send("REDACT Nobody id1")
	tagged.expect(":irc.test FAIL REDACT INVALID_TARGET Nobody :No such channel or contact")
	tagged.send("REDACT Bob id1")
	tagged.expect(":irc.test FAIL REDACT UNKNOWN_MSGID Bob id1 :No such message here (it may be too old): nothing was sent")
	tagged.send("REDACT Alice id1 :typo")
	h.expectCalls("retract to=alice@example.org type=chat id=id1")
	tagged.expect(":me!user@localhost REDACT Alice id1 typo")
	if got := lastLine(plain.take()); !strings.HasSuffix(got, `NOTICE me :[xircd] you deleted your message "sent by mistake"`) {
		t.Errorf("plain client got %q", got)
	}
	// The echo answers a labelled REDACT.
	tagged.send("PRIVMSG Alice :again")
	tagged.take()
	labeled := h.attach("me", "message-tags", "labeled-response", capRedaction)
	labeled.take()
	h.x.takeCalls()
	labeled.send("@label=L1 REDACT Alice id2")
	h.expectCalls("retract to=alice@example.org type=chat id=id2")
	labeled.expect("@label=L1 :me!user@localhost REDACT Alice id2")
	tagged.expect(":me!user@localhost REDACT Alice id2")
	plain.take()
	// A contact's message is not the user's to delete.
	h.event(xmpp.Message{ID: "a1", OriginID: "o1", StanzaID: "s1", From: "alice@example.org/phone", Type: "chat", Body: "hers"})
	tagged.take()
	tagged.send("REDACT Alice s1")
	tagged.expect(":irc.test FAIL REDACT REDACT_FORBIDDEN Alice s1 :Only the sender may delete a message in a chat")
	h.expectCalls()
}

func TestRoomRetractionAndModeration(t *testing.T) {
	h, c := joinedRoom(t, "message-tags", capRedaction)
	plain := h.attach("me")
	c.take()
	plain.take()
	h.event(xmpp.Message{ID: "b1", StanzaID: "rs1", From: roomJID + "/bob", Type: "groupchat", Body: "spam spam"})
	h.event(xmpp.Message{ID: "b2", StanzaID: "rs2", From: roomJID + "/bob", Type: "groupchat", Body: "more spam"})
	c.take()
	plain.take()
	// Only bob, or the room for a moderator, may retract bob's message.
	h.event(xmpp.Message{From: roomJID + "/alice", Type: "groupchat", Retract: &xmpp.Retraction{ID: "rs1"}})
	h.event(xmpp.Message{From: roomJID + "/alice", Type: "groupchat", Retract: &xmpp.Retraction{ID: "rs1", Moderated: true}})
	c.expect()
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Retract: &xmpp.Retraction{ID: "rs1"}})
	c.expect(":bob!room@conference.example.org REDACT #room rs1")
	if got := lastLine(plain.take()); !strings.HasSuffix(got, `NOTICE #room :bob deleted the message "spam spam"`) {
		t.Errorf("plain client got %q", got)
	}
	h.event(xmpp.Message{From: roomJID, Type: "groupchat", Retract: &xmpp.Retraction{ID: "rs2", Moderated: true, By: roomJID + "/alice", Reason: "spam"}})
	c.expect(":Alice!alice@example.org REDACT #room rs2 spam")
	if got := lastLine(plain.take()); !strings.HasSuffix(got, `NOTICE #room :Alice deleted bob's message "more spam" (spam)`) {
		t.Errorf("plain client got %q", got)
	}
}

func TestRedactInRoom(t *testing.T) {
	h, c := joinedRoom(t, "message-tags", capRedaction)
	c.take()
	h.x.takeCalls()
	// The user's own message: the room's stanza-id, once reflected.
	c.send("PRIVMSG #room :hello all")
	echo := h.x.takeCalls()
	c.take()
	if len(echo) != 1 || !strings.Contains(echo[0], "id=id1") {
		t.Fatalf("calls = %q", echo)
	}
	// Before the room reflects it, the message has no id there yet: the
	// REDACT waits for the reflection (answered at once here, where
	// commands are not held).
	c.send("REDACT #room id1")
	c.expect()
	h.expectCalls()
	h.event(xmpp.Message{ID: "id1", OriginID: "id1", StanzaID: "rs-own", From: roomJID + "/me", Type: "groupchat", Body: "hello all"})
	h.expectCalls("retract to=room@conference.example.org type=groupchat id=rs-own")
	c.expect(":me!user@localhost REDACT #room id1")
	// The room reflects the retraction: not shown again.
	h.event(xmpp.Message{ID: "x1", From: roomJID + "/me", Type: "groupchat", Retract: &xmpp.Retraction{ID: "rs-own"}})
	c.expect()
	// Another's message: only as a moderator.
	h.event(xmpp.Message{ID: "b1", StanzaID: "rs1", From: roomJID + "/bob", Type: "groupchat", Body: "spam"})
	h.event(xmpp.Message{ID: "b2", StanzaID: "refuse", From: roomJID + "/bob", Type: "groupchat", Body: "spam 2"})
	c.take()
	c.send("REDACT #room rs1")
	c.expect(":irc.test FAIL REDACT REDACT_FORBIDDEN #room rs1 :Only the sender or a moderator of the room may delete this message")
	h.event(occ("me", "owner", "moderator", "me@example.org/xircd", 110))
	c.take()
	c.send("REDACT #room rs1 :no spam")
	h.expectCalls(`moderate room@conference.example.org id=rs1 reason="no spam"`)
	c.expect()
	c.send("REDACT #room refuse")
	h.expectCalls(`moderate room@conference.example.org id=refuse reason=""`)
	c.expect(":irc.test FAIL REDACT REDACT_FORBIDDEN #room refuse :The room does not support deleting messages (XEP-0425)")
}

func TestEncryptedMessagesNamed(t *testing.T) {
	h, tagged, plain := chatWithRedaction(t)
	h.event(xmpp.Message{ID: "e1", From: "alice@example.org/phone", Type: "chat", Encryption: "OMEMO",
		Body: "I sent you an OMEMO encrypted message but your client doesn't seem to support that."})
	want := "PRIVMSG me :\x01ACTION sent an OMEMO-encrypted message, which xircd cannot read yet; read it on another client\x01"
	for _, c := range []*ircClient{tagged, plain} {
		if got := lastLine(c.take()); !strings.HasSuffix(got, want) || !strings.Contains(got, "Alice!") {
			t.Errorf("client got %q", got)
		}
	}
	// Without a body too (OMEMO 2), and in rooms.
	h.event(xmpp.Message{ID: "e2", From: "bob@example.org/desk", Type: "chat", Encryption: "OpenPGP"})
	if got := lastLine(plain.take()); !strings.Contains(got, "Bob!") || !strings.Contains(got, "sent an OpenPGP-encrypted message") {
		t.Errorf("client got %q", got)
	}
	tests := map[string]string{
		"OMEMO":          "/me sent an OMEMO-encrypted message, which xircd cannot read yet; read it on another client",
		"legacy OpenPGP": "/me sent a legacy OpenPGP-encrypted message, which xircd cannot read yet; read it on another client",
		"New\nCrypt":     "/me sent a New Crypt-encrypted message, which xircd cannot read yet; read it on another client",
	}
	for method, want := range tests {
		m := xmpp.Message{Body: "fallback", Encryption: method}
		if readable(&m); m.Body != want {
			t.Errorf("readable(%q) = %q, want %q", method, m.Body, want)
		}
	}
	m := xmpp.Message{Body: "plain"}
	if readable(&m); m.Body != "plain" {
		t.Errorf("readable of a plain message = %q", m.Body)
	}
}

func TestEncryptedRoomMessageNamed(t *testing.T) {
	h, c := joinedRoom(t)
	c.take()
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Encryption: "OMEMO", Body: "fallback"})
	c.expect(":bob!room@conference.example.org PRIVMSG #room :\x01ACTION sent an OMEMO-encrypted message, which xircd cannot read yet; read it on another client\x01")
}

func TestReceipts(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"), xmpp.RosterItem{JID: "carol@example.org", Name: "Carol", Subscription: "to"})
	h.x.takeCalls()
	// No client: owed until one sees it.
	h.event(xmpp.Message{ID: "a1", StanzaID: "s1", From: "alice@example.org/phone", Type: "chat", Body: "while away", ReceiptRequest: true})
	h.expectCalls()
	c := h.attach("me")
	c.take()
	h.expectCalls("receipt to=alice@example.org/phone id=a1")
	h.event(xmpp.Message{ID: "a2", StanzaID: "s2", From: "alice@example.org/phone", Type: "chat", Body: "live", ReceiptRequest: true})
	h.expectCalls("receipt to=alice@example.org/phone id=a2")
	// Carol does not see the user's presence: no receipt. A receipt is
	// not a message.
	h.event(xmpp.Message{ID: "c1", StanzaID: "s3", From: "carol@example.org/x", Type: "chat", Body: "hi", ReceiptRequest: true})
	h.event(xmpp.Message{ID: "r1", From: "alice@example.org/phone", Type: "chat", ReceiptFor: "id9"})
	h.expectCalls()
	if got := c.take(); len(got) != 2 || !strings.HasSuffix(got[0], "live") || !strings.HasSuffix(got[1], "hi") {
		t.Errorf("client got %q", got)
	}
}

func TestBlockingCommands(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.attach("me")
	h.connect(item("alice@example.org", "Alice"))
	c.send("JOIN &xmpp")
	c.take()
	h.x.takeCalls()
	c.send("PRIVMSG &xmpp :block Alice")
	h.expectCalls("block alice@example.org")
	if got := lastLine(c.take()); !strings.HasSuffix(got, "NOTICE &xmpp :Blocked alice@example.org.") {
		t.Errorf("got %q", got)
	}
	c.send("PRIVMSG &xmpp :unblock alice@example.org")
	h.expectCalls("unblock alice@example.org")
	if got := lastLine(c.take()); !strings.HasSuffix(got, "NOTICE &xmpp :Unblocked alice@example.org.") {
		t.Errorf("got %q", got)
	}
	c.send("PRIVMSG &xmpp :block eve@example.org")
	if got := lastLine(c.take()); !strings.HasSuffix(got, "Could not block eve@example.org: your XMPP server does not support blocking (XEP-0191).") {
		t.Errorf("got %q", got)
	}
	c.send("PRIVMSG &xmpp :block @example.org")
	if got := lastLine(c.take()); !strings.HasSuffix(got, `No contact or JID "@example.org".`) {
		t.Errorf("got %q", got)
	}
	c.send("PRIVMSG &xmpp :blocklist")
	if got := lastLine(c.take()); !strings.HasSuffix(got, "NOTICE &xmpp :Blocked: spam@example.net.") {
		t.Errorf("got %q", got)
	}
	h.event(xmpp.BlockPush{Blocked: true, JIDs: []string{"troll@example.net"}})
	if got := lastLine(c.take()); !strings.HasSuffix(got, "NOTICE &xmpp :Another client of yours blocked troll@example.net.") {
		t.Errorf("got %q", got)
	}
	h.event(xmpp.BlockPush{})
	if got := lastLine(c.take()); !strings.HasSuffix(got, "NOTICE &xmpp :Another client of yours unblocked everyone.") {
		t.Errorf("got %q", got)
	}
}

// A REDACT of the user's room message sent before the room reflected it
// is answered once the reflection comes, in the command's answer; without
// the reflection in time, nothing is deleted and the answer says so.
func TestRedactWaitsForTheReflection(t *testing.T) {
	for _, tc := range []struct {
		name    string
		holdFor time.Duration
		reflect bool
		want    []string
	}{
		{"reflected", time.Minute, true, []string{"@label=r1 :me!user@localhost REDACT #room id1"}},
		{"not in time", time.Millisecond, false, []string{"@label=r1 :irc.test FAIL REDACT TEMPORARILY_UNAVAILABLE #room id1 :Not deleted: the room has not confirmed the message yet"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, c := joinedRoom(t, "message-tags", "labeled-response", capRedaction)
			h.b.holdFor = tc.holdFor
			c.take()
			c.send("PRIVMSG #room :hello all")
			c.take()
			h.x.takeCalls()
			c.write("@label=r1 REDACT #room id1")
			if tc.reflect {
				h.event(xmpp.Message{ID: "id1", OriginID: "id1", StanzaID: "rs-own", From: roomJID + "/me", Type: "groupchat", Body: "hello all"})
				h.expectCalls("retract to=room@conference.example.org type=groupchat id=rs-own")
			}
			c.expect(tc.want...)
			if !tc.reflect {
				// The reflection after the answer deletes nothing.
				h.event(xmpp.Message{ID: "id1", OriginID: "id1", StanzaID: "rs-own", From: roomJID + "/me", Type: "groupchat", Body: "hello all"})
				h.expectCalls()
				c.expect()
			}
		})
	}
}
