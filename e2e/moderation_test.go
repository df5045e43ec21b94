package e2e

import (
	"encoding/xml"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"
	"gopkg.in/irc.v4"

	"xircd/internal/prosodytest"
)

// moderation is the room's announcement that a moderator retracted a
// message, as mod_muc_moderation sends it (XEP-0425 in its :0 form).
type moderation struct {
	ID     string // the room's stanza-id of the retracted message
	By     string // the moderator's occupant JID
	Reason string
}

// moderationOf reads the moderation m announces; ok is false when m is
// none.
func moderationOf(m goxmpp.Chat) (_ moderation, ok bool) {
	applyTo := element(m, "urn:xmpp:fasten:0", "apply-to")
	if applyTo == nil {
		return moderation{}, false
	}
	var inner struct {
		Moderated *struct {
			By      string    `xml:"by,attr"`
			Retract *struct{} `xml:"urn:xmpp:message-retract:0 retract"`
			Reason  string    `xml:"reason"`
		} `xml:"urn:xmpp:message-moderate:0 moderated"`
	}
	if err := xml.Unmarshal([]byte("<x>"+applyTo.InnerXML+"</x>"), &inner); err != nil || inner.Moderated == nil || inner.Moderated.Retract == nil {
		return moderation{}, false
	}
	return moderation{ID: attr(applyTo, "id"), By: inner.Moderated.By, Reason: inner.Moderated.Reason}, true
}

// Moderation (XEP-0425) against Prosody's mod_muc_moderation: the user,
// owner of the room, deletes an occupant's message with REDACT; another
// moderator deletes one, and xircd shows it.
func TestRedactModerated(t *testing.T) {
	e := newEnvWith(t, prosodytest.Options{Moderation: true})
	e.srvAccount(t, "alice")
	e.srvAccount(t, "bob")
	e.start()
	tagged := e.client("me", "message-tags", "echo-message", "draft/message-redaction")
	plain := e.client("me") // attaches as the user too
	room := "team@" + e.srv.MUCDomain
	tagged.send("JOIN #team")
	tagged.expectLine("366", "#team")
	plain.expectLine("JOIN #team")
	alice := e.rawPeer("alice", "pc")
	alice.send(`<presence to='%s/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room)
	tagged.expectLine("JOIN #team")
	bob := e.rawPeer("bob", "pc")
	bob.send(`<presence to='%s/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room)
	tagged.expect(func(m *irc.Message) bool { return m.Command == "JOIN" && m.Prefix.Name == "bob" })

	alice.send(`<message to='%s' type='groupchat' id='a1'><body>buy cheap watches</body></message>`, room)
	spam := alice.expect(func(m goxmpp.Chat) bool { return m.Text == "buy cheap watches" })
	shown := tagged.expectLine("PRIVMSG #team :buy cheap watches")
	plain.expectLine("PRIVMSG #team :buy cheap watches")
	if shown.Tags["msgid"] != spam.StanzaID.ID {
		t.Fatalf("msgid %q, want the room's stanza-id %q", shown.Tags["msgid"], spam.StanzaID.ID)
	}
	tagged.send("REDACT #team %s :spam", shown.Tags["msgid"])
	for _, p := range []*rawPeer{alice, bob} {
		m := p.expect(func(m goxmpp.Chat) bool { _, ok := moderationOf(m); return ok })
		mod, _ := moderationOf(m)
		if m.Remote != room || mod.ID != spam.StanzaID.ID || mod.By != room+"/me" || mod.Reason != "spam" {
			t.Errorf("%s got a moderation from %q of %+v, want the room's of %q by %s/me for spam", p.jid, m.Remote, mod, spam.StanzaID.ID, room)
		}
	}
	tagged.expect(func(m *irc.Message) bool {
		return m.Command == "REDACT" && m.Prefix.Name == "me" && m.Param(0) == "#team" && m.Param(1) == shown.Tags["msgid"] && m.Trailing() == "spam"
	})
	plain.expectLine("NOTICE #team :", `you deleted alice's message "buy cheap watches"`)

	// alice, made a moderator, deletes bob's message.
	tagged.send("MODE #team +o alice")
	tagged.expectLine("MODE #team +o")
	bob.send(`<message to='%s' type='groupchat' id='b1'><body>off topic</body></message>`, room)
	offTopic := bob.expect(func(m goxmpp.Chat) bool { return m.Text == "off topic" })
	shown = tagged.expectLine("PRIVMSG #team :off topic")
	plain.expectLine("PRIVMSG #team :off topic")
	alice.send(`<iq type='set' to='%s' id='mod1'><apply-to xmlns='urn:xmpp:fasten:0' id='%s'><moderate xmlns='urn:xmpp:message-moderate:0'>`+
		`<retract xmlns='urn:xmpp:message-retract:0'/><reason>not here</reason></moderate></apply-to></iq>`, room, offTopic.StanzaID.ID)
	tagged.expect(func(m *irc.Message) bool {
		return m.Command == "REDACT" && m.Prefix.Name == "alice" && m.Param(0) == "#team" && m.Param(1) == shown.Tags["msgid"] && m.Trailing() == "not here"
	})
	plain.expectLine("NOTICE #team :", `alice deleted bob's message "off topic"`)
}
