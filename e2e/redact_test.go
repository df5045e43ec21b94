package e2e

import (
	"strings"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"
	"gopkg.in/irc.v4"

	"xircd/internal/prosodytest"
)

// elemID is the id attribute of m's element space:local; ok is false
// when m has no such element.
func elemID(m goxmpp.Chat, space, local string) (id string, ok bool) {
	e := element(m, space, local)
	if e == nil {
		return "", false
	}
	return attr(e, "id"), true
}

const retractFallback = "/me retracted a previous message, but it's unsupported by your client."

// Retractions both ways in a chat, seen by a client with
// draft/message-redaction and a plain one; an encrypted message is named;
// a receipt answers a message a client saw; blocking on a server without
// XEP-0191 says so.
func TestRedactChat(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	e.start()
	tagged := e.client("me", "message-tags", "echo-message", "draft/message-redaction")
	plain := e.client("me") // attaches as the user too
	waitContact(t, tagged, "Alice")
	alice := e.rawPeer("alice", "phone")
	me := e.userJID

	// A message asking for a receipt (XEP-0184), then its retraction as
	// XEP-0424 shows it.
	alice.send(`<message to='%s' type='chat' id='a1'><body>oops, wrong chat</body><origin-id xmlns='urn:xmpp:sid:0' id='o1'/><request xmlns='urn:xmpp:receipts'/></message>`, me)
	got := tagged.expectLine("PRIVMSG me :oops, wrong chat")
	plain.expectLine("PRIVMSG me :oops, wrong chat")
	msgid := got.Tags["msgid"]
	if id, ok := elemID(alice.expect(func(m goxmpp.Chat) bool { _, ok := elemID(m, "urn:xmpp:receipts", "received"); return ok }), "urn:xmpp:receipts", "received"); id != "a1" || !ok {
		t.Errorf("receipt for %q, want a1", id)
	}
	alice.send(`<message type='chat' to='%s' id='retract-message-1'><retract id='o1' xmlns='urn:xmpp:message-retract:1'/>`+
		`<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/><body>%s</body><store xmlns="urn:xmpp:hints"/></message>`, me, retractFallback)
	tagged.expect(func(m *irc.Message) bool {
		return m.Command == "REDACT" && m.Prefix.Name == "Alice" && m.Param(0) == "me" && m.Param(1) == msgid
	})
	plain.expectLine("NOTICE me :", `Alice deleted the message "oops, wrong chat"`)

	// The user's REDACT of their own message: a retraction naming its
	// origin-id, echoed as REDACT.
	tagged.send("PRIVMSG Alice :sent by mistake")
	echo := tagged.expectLine("PRIVMSG Alice :sent by mistake")
	sent := alice.expect(func(m goxmpp.Chat) bool { return m.Text == "sent by mistake" })
	tagged.send("REDACT Alice %s :typo", echo.Tags["msgid"])
	retraction := alice.expect(func(m goxmpp.Chat) bool { _, ok := elemID(m, "urn:xmpp:message-retract:1", "retract"); return ok })
	if id, _ := elemID(retraction, "urn:xmpp:message-retract:1", "retract"); id != sent.OriginID || id != echo.Tags["msgid"] {
		t.Errorf("retraction names %q, want the origin-id %q (the echo's msgid %q)", id, sent.OriginID, echo.Tags["msgid"])
	}
	if retraction.Text != retractFallback {
		t.Errorf("retraction body %q, want the XEP's fallback", retraction.Text)
	}
	tagged.expect(func(m *irc.Message) bool { return m.Command == "REDACT" && m.Param(1) == echo.Tags["msgid"] })
	plain.expectLine("NOTICE me :", `you deleted your message "sent by mistake"`)
	tagged.send("REDACT Alice %s", msgid) // alice's, not the user's
	tagged.expectLine("FAIL REDACT REDACT_FORBIDDEN Alice " + msgid)
	tagged.send("REDACT Alice unknown-id")
	tagged.expectLine("FAIL REDACT UNKNOWN_MSGID Alice unknown-id")

	// OMEMO, as XEP-0384's example sends it (placeholders for its keys):
	// named, with why xircd cannot read it, not its fallback.
	alice.send(`<message to='%s' type='chat' id='send1'><encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='27183'>`+
		`<key rid='31415'>BASE64ENCODED...</key><iv>BASE64ENCODED...</iv></header><payload>BASE64ENCODED</payload></encrypted>`+
		`<encryption xmlns='urn:xmpp:eme:0' namespace='eu.siacs.conversations.axolotl' name='OMEMO'/>`+
		`<body>I sent you an OMEMO encrypted message but your client doesn't seem to support that.</body><store xmlns='urn:xmpp:hints'/></message>`, me)
	for _, c := range []*ircClient{tagged, plain} {
		m := c.expectLine("sent an OMEMO-encrypted message, which xircd cannot read (omemo: ", "); read it on another client")
		if m.Prefix.Name != "Alice" || !strings.HasPrefix(m.Trailing(), "\x01ACTION ") {
			t.Errorf("encrypted message shown as %q", m)
		}
	}
	if n := plain.count(lineWith("doesn't seem to support")); n != 0 {
		t.Errorf("the fallback body was shown %d times", n)
	}

	tagged.send("PRIVMSG &xmpp :blocklist")
	tagged.expectLine("NOTICE &xmpp :Could not fetch the block list: your XMPP server does not support blocking (XEP-0191).")
}

// In a room the user created (and so moderates): an occupant's
// retraction, the user's own, a moderation the room cannot do, and an
// encrypted message.
func TestRedactRoom(t *testing.T) {
	e := newEnv(t)
	e.srvAccount(t, "bob")
	e.start()
	tagged := e.client("me", "message-tags", "echo-message", "draft/message-redaction")
	plain := e.client("me") // attaches as the user too
	room := "team@" + e.srv.MUCDomain
	tagged.send("JOIN #team")
	tagged.expectLine("366", "#team")
	plain.expectLine("JOIN #team")
	bob := e.rawPeer("bob", "pc")
	bob.send(`<presence to='%s/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room)
	tagged.expectLine("JOIN #team")

	bob.send(`<message to='%s' type='groupchat' id='b1'><body>spam spam</body><origin-id xmlns='urn:xmpp:sid:0' id='bo1'/></message>`, room)
	reflection := bob.expect(func(m goxmpp.Chat) bool { return m.Text == "spam spam" })
	shown := tagged.expectLine("PRIVMSG #team :spam spam")
	if shown.Tags["msgid"] != reflection.StanzaID.ID {
		t.Fatalf("msgid %q, want the room's stanza-id %q", shown.Tags["msgid"], reflection.StanzaID.ID)
	}
	bob.send(`<message type='groupchat' to='%s' id='retract-message-1'><retract id='%s' xmlns='urn:xmpp:message-retract:1'/>`+
		`<fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:message-retract:1'/><body>%s</body><store xmlns="urn:xmpp:hints"/></message>`,
		room, reflection.StanzaID.ID, retractFallback)
	tagged.expect(func(m *irc.Message) bool {
		return m.Command == "REDACT" && m.Prefix.Name == "bob" && m.Param(0) == "#team" && m.Param(1) == shown.Tags["msgid"]
	})
	plain.expectLine("NOTICE #team :", `bob deleted the message "spam spam"`)

	// The user's own message: retracted by the room's stanza-id.
	tagged.send("PRIVMSG #team :hello all")
	echo := tagged.expectLine("PRIVMSG #team :hello all")
	mine := bob.expect(func(m goxmpp.Chat) bool { return m.Text == "hello all" })
	waitFor(t, func() bool { // the reflection tells xircd the room's stanza-id
		tagged.send("REDACT #team %s", echo.Tags["msgid"])
		m := tagged.expect(func(m *irc.Message) bool { return m.Command == "REDACT" || m.Command == "FAIL" })
		return m.Command == "REDACT"
	})
	retraction := bob.expect(func(m goxmpp.Chat) bool { _, ok := elemID(m, "urn:xmpp:message-retract:1", "retract"); return ok })
	if id, _ := elemID(retraction, "urn:xmpp:message-retract:1", "retract"); id != mine.StanzaID.ID {
		t.Errorf("retraction names %q, want the room's stanza-id %q", id, mine.StanzaID.ID)
	}

	// A moderation request: this Prosody has no XEP-0425, and says so.
	bob.send(`<message to='%s' type='groupchat' id='b2'><body>more spam</body></message>`, room)
	spam := tagged.expectLine("PRIVMSG #team :more spam")
	// The room reflected the user's retraction before this: not shown again.
	plain.expectLine("PRIVMSG #team :more spam")
	if n := plain.count(lineWith("NOTICE #team", "deleted")); n != 2 {
		t.Errorf("%d notices of deleted messages, want 2 (bob's and the user's)", n)
	}
	tagged.send("REDACT #team %s :no spam", spam.Tags["msgid"])
	tagged.expectLine("FAIL REDACT REDACT_FORBIDDEN #team "+spam.Tags["msgid"], "XEP-0425")

	bob.send(`<message to='%s' type='groupchat' id='b3'><openpgp xmlns='urn:xmpp:openpgp:0'>BASE64</openpgp><body>This message is encrypted.</body></message>`, room)
	m := plain.expectLine("PRIVMSG #team :\x01ACTION sent an OpenPGP-encrypted message")
	if m.Prefix.Name != "bob" {
		t.Errorf("encrypted message from %q, want bob", m.Prefix.Name)
	}
}

// Blocking with a server that has XEP-0191: block, the list, unblock, and
// a block made by another client of the user.
func TestBlockCommands(t *testing.T) {
	e := newEnvWith(t, prosodytest.Options{ExtraModules: []string{"blocklist"}}, contact{user: "alice", name: "Alice"})
	e.start()
	c := e.client("me")
	waitContact(t, c, "Alice")
	alice := "alice@" + e.srv.Domain
	c.send("PRIVMSG &xmpp :block Alice")
	c.expectLine("NOTICE &xmpp :Blocked " + alice + ".")
	c.send("PRIVMSG &xmpp :blocklist")
	c.expectLine("NOTICE &xmpp :Blocked: " + alice + ".")
	other := e.rawPeer("me", "phone")
	other.send(`<iq type='set' id='block1'><block xmlns='urn:xmpp:blocking'><item jid='eve@%s'/></block></iq>`, e.srv.Domain)
	c.expectLine("NOTICE &xmpp :Another client of yours blocked eve@" + e.srv.Domain + ".")
	c.send("PRIVMSG &xmpp :unblock Alice")
	c.expectLine("NOTICE &xmpp :Unblocked " + alice + ".")
}
