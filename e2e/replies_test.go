package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	goxmpp "github.com/xmppo/go-xmpp"
	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

// rawPeer is a contact's XMPP client that sends stanzas as written and
// shows what it receives as go-xmpp parses it, extension elements whole.
type rawPeer struct {
	t   *testing.T
	c   *goxmpp.Client
	jid string
	in  chan goxmpp.Chat
}

func (e *env) rawPeer(user, resource string) *rawPeer {
	e.t.Helper()
	opts := e.goxmppOptions(user, resource)
	c, err := opts.NewClient()
	if err != nil {
		e.t.Fatalf("raw peer %s: %v", user, err)
	}
	// No Close: go-xmpp's Close reads the stream while Recv does (a data
	// race); the connection ends with Prosody at the end of the test.
	p := &rawPeer{t: e.t, c: c, jid: user + "@" + e.srv.Domain, in: make(chan goxmpp.Chat, 100)}
	go func() {
		defer close(p.in)
		for {
			st, err := c.Recv()
			if err != nil {
				return
			}
			if m, ok := st.(goxmpp.Chat); ok {
				p.in <- m
			}
		}
	}()
	p.send("<presence/>")
	return p
}

func (p *rawPeer) send(format string, args ...any) {
	p.t.Helper()
	if _, err := p.c.SendOrg(fmt.Sprintf(format, args...)); err != nil {
		p.t.Fatal(err)
	}
}

// expect waits for a message that matches.
func (p *rawPeer) expect(match func(goxmpp.Chat) bool) goxmpp.Chat {
	p.t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case m, ok := <-p.in:
			if !ok {
				p.t.Fatalf("%s disconnected", p.jid)
			}
			if match(m) {
				return m
			}
		case <-deadline:
			p.t.Fatalf("%s: expected message not received", p.jid)
		}
	}
}

// element is m's extension element named local in namespace space.
func element(m goxmpp.Chat, space, local string) *goxmpp.XMLElement {
	for i, e := range m.OtherElem {
		if e.XMLName.Space == space && e.XMLName.Local == local {
			return &m.OtherElem[i]
		}
	}
	return nil
}

func attr(e *goxmpp.XMLElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// tagged matches a message of command carrying tag=value.
func tagged(command, tag, value string) func(*irc.Message) bool {
	return func(m *irc.Message) bool { return m.Command == command && m.Tags[tag] == value }
}

// Replies, reactions and corrections between a contact's XMPP client
// (stanzas as the XEPs' examples write them) and IRC clients with and
// without message-tags, both ways.
func TestRepliesReactionsCorrections(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.rawPeer("alice", "raw")
	e.start()
	c := e.client("me", "message-tags", "echo-message", "server-time")
	waitContact(t, c, "alice")
	plain := e.client("me")
	plain.roundtrip()

	alice.send("<message to='%s' id='orig1' type='chat'><body>We should bake a cake 🎂</body><origin-id xmlns='urn:xmpp:sid:0' id='orig1'/></message>", e.userJID)
	origID := identityOf(t, "original", c.expect(messageWith("We should bake a cake")))
	plain.expect(messageWith("We should bake a cake"))

	// XEP-0461 example 1, with its XEP-0428 fallback.
	quote := "> Änna wrote:\n> We should bake a cake 🎂\n"
	alice.send(`<message to='%s' id='message-id2' type='chat'><body>%sGreat idea!</body><reply to='%s/raw' id='orig1' xmlns='urn:xmpp:reply:0'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start="0" end="%d"/></fallback></message>`,
		e.userJID, strings.ReplaceAll(quote, ">", "&gt;"), alice.jid, utf8.RuneCountInString(quote))
	if m := c.expect(lineWith("PRIVMSG me")); m.Trailing() != "Great idea!" || m.Tags["+draft/reply"] != origID {
		t.Errorf("tag client got the reply as %q", m.String())
	}
	plain.expect(lineWith("PRIVMSG me :> alice: \"We should bake a cake 🎂\""))
	plain.expect(lineWith("PRIVMSG me :Great idea!"))

	// XEP-0444 example 1.
	alice.send(`<message to='%s' id='96d73204-a57a-11e9-88b8-4889e7820c76' type='chat'><reactions id='orig1' xmlns='urn:xmpp:reactions:0'><reaction>👋</reaction><reaction>🐢</reaction></reactions><store xmlns="urn:xmpp:hints"/></message>`, e.userJID)
	for _, emoji := range []string{"👋", "🐢"} {
		if m := c.expect(tagged("TAGMSG", "+draft/react", emoji)); m.Tags["+draft/reply"] != origID {
			t.Errorf("reaction %s names %q, want %q", emoji, m.Tags["+draft/reply"], origID)
		}
	}
	plain.expect(lineWith("NOTICE me :alice reacted 👋 🐢 to alice's message \"We should bake a cake 🎂\""))

	// XEP-0308 example 1 (a correction by the original's sender).
	alice.send(`<message to='%s' id='good1'><body>We should bake two cakes 🎂🎂</body><replace id='orig1' xmlns='urn:xmpp:message-correct:0'/></message>`, e.userJID)
	if m := c.expect(messageWith("two cakes")); m.Trailing() != "(corrected) We should bake two cakes 🎂🎂" || m.Tags["+draft/reply"] != origID {
		t.Errorf("tag client got the correction as %q", m.String())
	}
	plain.expect(lineWith("PRIVMSG me :(corrected) We should bake two cakes 🎂🎂"))

	// From IRC: a reply, with a quote for clients without replies.
	c.send("@+draft/reply=%s PRIVMSG alice :yes, two", origID)
	got := alice.expect(func(m goxmpp.Chat) bool { return strings.HasSuffix(m.Text, "yes, two") })
	reply, fb := element(got, "urn:xmpp:reply:0", "reply"), element(got, "urn:xmpp:fallback:0", "fallback")
	if reply == nil || attr(reply, "id") != "orig1" || attr(reply, "to") != alice.jid || fb == nil || attr(fb, "for") != "urn:xmpp:reply:0" {
		t.Fatalf("alice got the reply as %q %+v", got.Text, got.OtherElem)
	}
	quoted := strings.TrimSuffix(got.Text, "yes, two")
	end := fmt.Sprintf("end='%d'", utf8.RuneCountInString(quoted))
	if inner := strings.ReplaceAll(fb.InnerXML, `"`, "'"); !strings.Contains(inner, end) || !strings.Contains(inner, "start='0'") {
		t.Errorf("fallback %q, want start 0 and %s for the quote %q", fb.InnerXML, end, quoted)
	}
	ownID := got.OriginID

	// A reaction and its removal: the whole set each time.
	c.send("@+draft/react=👍;+draft/reply=%s TAGMSG alice", origID)
	got = alice.expect(func(m goxmpp.Chat) bool { return element(m, "urn:xmpp:reactions:0", "reactions") != nil })
	if r := element(got, "urn:xmpp:reactions:0", "reactions"); attr(r, "id") != "orig1" || r.InnerXML != "<reaction>👍</reaction>" {
		t.Errorf("alice got the reaction as %+v", r)
	}
	c.send("@+draft/unreact=👍;+draft/reply=%s TAGMSG alice", origID)
	got = alice.expect(func(m goxmpp.Chat) bool { return element(m, "urn:xmpp:reactions:0", "reactions") != nil })
	if r := element(got, "urn:xmpp:reactions:0", "reactions"); attr(r, "id") != "orig1" || r.InnerXML != "" {
		t.Errorf("alice got the removal as %+v", r)
	}

	// s/old/new/ corrects the user's last message.
	c.send("PRIVMSG alice :s/two/three/")
	got = alice.expect(func(m goxmpp.Chat) bool { return m.Text == "yes, three" })
	if r := element(got, "urn:xmpp:message-correct:0", "replace"); r == nil || attr(r, "id") != ownID {
		t.Errorf("alice got the correction with %+v, want replace id %q", got.OtherElem, ownID)
	}
	c.expect(lineWith("PRIVMSG alice :(corrected) yes, three"))

	// A msgid xircd cannot resolve: FAIL, nothing sent.
	c.send("@+draft/reply=nosuchid PRIVMSG alice :lost?")
	if m := c.expect(func(m *irc.Message) bool { return m.Command == "FAIL" }); m.Param(0) != "PRIVMSG" || m.Param(1) != "UNKNOWN_MSGID" {
		t.Errorf("unknown msgid answered %q", m.String())
	}
	c.send("PRIVMSG alice :after")
	if got := alice.expect(func(m goxmpp.Chat) bool { return m.Text != "" }); got.Text != "after" {
		t.Errorf("alice got %q after the refused reply", got.Text)
	}
}

// The same in a room: references are the room's stanza-ids, sent as
// groupchat; corrections name the message's id.
func TestRoomRepliesReactionsCorrections(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	e.srvAccount(t, "bob")
	alice := e.peer("alice", "laptop")
	room := "fun@" + e.srv.MUCDomain
	alice.joinRoom(room, "alice", "", openRoom)
	e.start()
	c := e.client("me", "message-tags", "echo-message", "server-time")
	waitContact(t, c, "alice")
	plain := e.client("me")
	c.send("JOIN #fun")
	c.expectLine(":me!", "JOIN #fun")
	bob := e.rawPeer("bob", "raw")
	bob.send("<presence to='%s/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>", room)
	c.expectLine(":bob!", "JOIN #fun")

	bob.send("<message to='%s' type='groupchat' id='b1'><body>Who brings the cake?</body></message>", room)
	sid := bob.expect(func(m goxmpp.Chat) bool { return m.Text == "Who brings the cake?" }).StanzaID.ID
	if got := identityOf(t, "room message", c.expect(roomLine("PRIVMSG", "#fun", "Who brings"))); sid == "" || got != sid {
		t.Fatalf("msgid %q, the room's stanza-id %q", got, sid)
	}

	quote := "> bob wrote:\n> Who brings the cake?\n"
	bob.send(`<message to='%s' type='groupchat' id='b2'><body>%sI do</body><reply to='%s/bob' id='%s' xmlns='urn:xmpp:reply:0'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start="0" end="%d"/></fallback></message>`,
		room, strings.ReplaceAll(quote, ">", "&gt;"), room, sid, utf8.RuneCountInString(quote))
	if m := c.expect(lineWith("PRIVMSG #fun")); m.Trailing() != "I do" || m.Tags["+draft/reply"] != sid {
		t.Errorf("tag client got the reply as %q", m.String())
	}
	plain.expect(lineWith("PRIVMSG #fun :> bob: \"Who brings the cake?\""))
	plain.expect(lineWith("PRIVMSG #fun :I do"))

	bob.send(`<message to='%s' type='groupchat' id='b3'><reactions id='%s' xmlns='urn:xmpp:reactions:0'><reaction>🎂</reaction></reactions><store xmlns='urn:xmpp:hints'/></message>`, room, sid)
	if m := c.expect(tagged("TAGMSG", "+draft/react", "🎂")); m.Param(0) != "#fun" || m.Tags["+draft/reply"] != sid {
		t.Errorf("reaction shown as %q", m.String())
	}
	plain.expect(lineWith("NOTICE #fun :bob reacted 🎂 to bob's message \"Who brings the cake?\""))

	bob.send(`<message to='%s' type='groupchat' id='b4'><body>Who brings the cakes?</body><replace id='b1' xmlns='urn:xmpp:message-correct:0'/></message>`, room)
	if m := c.expect(lineWith("PRIVMSG #fun")); m.Trailing() != "(corrected) Who brings the cakes?" || m.Tags["+draft/reply"] != sid {
		t.Errorf("tag client got the correction as %q", m.String())
	}

	c.send("@+draft/reply=%s PRIVMSG #fun :me too", sid)
	got := bob.expect(func(m goxmpp.Chat) bool { return strings.HasSuffix(m.Text, "me too") })
	if r := element(got, "urn:xmpp:reply:0", "reply"); got.Type != "groupchat" || r == nil || attr(r, "id") != sid || attr(r, "to") != room+"/bob" {
		t.Errorf("bob got the reply as %s %+v", got.Type, got.OtherElem)
	}
	c.send("@+draft/react=👍;+draft/reply=%s TAGMSG #fun", sid)
	got = bob.expect(func(m goxmpp.Chat) bool { return element(m, "urn:xmpp:reactions:0", "reactions") != nil })
	if r := element(got, "urn:xmpp:reactions:0", "reactions"); got.Type != "groupchat" || attr(r, "id") != sid || r.InnerXML != "<reaction>👍</reaction>" {
		t.Errorf("bob got the reaction as %s %+v", got.Type, r)
	}

	c.send("PRIVMSG #fun :I brnig candles")
	own := bob.expect(func(m goxmpp.Chat) bool { return m.Text == "I brnig candles" })
	c.send("PRIVMSG #fun :s/brnig/bring/")
	got = bob.expect(func(m goxmpp.Chat) bool { return m.Text == "I bring candles" })
	if r := element(got, "urn:xmpp:message-correct:0", "replace"); r == nil || own.OriginID == "" || attr(r, "id") != own.OriginID {
		t.Errorf("bob got the correction with %+v, want replace id %q", got.OtherElem, own.OriginID)
	}

	// Alice's client sees the same reply, reaction and correction.
	alice.expect(func(ev xmpp.Event) bool {
		m, ok := ev.(xmpp.Message)
		return ok && m.Reply != nil && m.Reply.ID == sid && m.Reply.To == room+"/bob" && m.ReplyText == "me too"
	})
	alice.expect(func(ev xmpp.Event) bool {
		m, ok := ev.(xmpp.Message)
		return ok && m.Reactions != nil && m.Reactions.ID == sid && slices.Equal(m.Reactions.Emojis, []string{"👍"})
	})
	alice.expect(func(ev xmpp.Event) bool {
		m, ok := ev.(xmpp.Message)
		return ok && m.Body == "I bring candles" && m.Replace == own.OriginID
	})
	// Her reply reaches IRC as one.
	if _, err := alice.SendMessage(xmpp.OutMessage{To: room, Type: "groupchat", Body: "great",
		Reply: &xmpp.OutReply{To: room + "/bob", ID: sid, Quote: quote}}); err != nil {
		t.Fatal(err)
	}
	if m := c.expect(roomLine("PRIVMSG", "#fun", "great")); m.Trailing() != "great" || m.Tags["+draft/reply"] != sid {
		t.Errorf("tag client got alice's reply as %q", m.String())
	}
	if n := c.count(lineWith("bob wrote")); n != 0 {
		t.Errorf("the tag client got %d lines of a reply's fallback quote", n)
	}
}

// A real weechat (without echo-message: it shows what was typed) corrects
// its last message with s/old/new/ and sees a contact's reply and
// correction.
func TestWeechatRepliesAndCorrections(t *testing.T) {
	needTool(t, "tmux", "weechat")
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	alice := e.rawPeer("alice", "raw")
	e.start()

	term := startWeechat(t, e)
	term.waitScreen("&xmpp")
	term.keys("/buffer &xmpp")
	term.waitScreen("Alice")
	term.keys("/query Alice")
	term.keys("helo from weechat")
	first := alice.expect(func(m goxmpp.Chat) bool { return m.Text == "helo from weechat" })
	term.keys("s/helo/hello/")
	got := alice.expect(func(m goxmpp.Chat) bool { return m.Text == "hello from weechat" })
	if r := element(got, "urn:xmpp:message-correct:0", "replace"); r == nil || attr(r, "id") != first.OriginID {
		t.Errorf("alice got the correction with %+v, want replace id %q", got.OtherElem, first.OriginID)
	}

	quote := "> me wrote:\n> hello from weechat\n"
	alice.send(`<message to='%s' id='r1' type='chat'><body>%sHi weechat!</body><reply to='%s' id='%s' xmlns='urn:xmpp:reply:0'/><fallback xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start="0" end="%d"/></fallback></message>`,
		e.userJID, strings.ReplaceAll(quote, ">", "&gt;"), e.userJID, first.OriginID, utf8.RuneCountInString(quote))
	term.waitScreen("Hi weechat!")
	alice.send(`<message to='%s' id='r2' type='chat'><body>Hi, weechat!</body><replace id='r1' xmlns='urn:xmpp:message-correct:0'/></message>`, e.userJID)
	term.waitScreen("(corrected) Hi, weechat!")
	term.keys("/quit")
	waitFor(t, func() bool { return !term.alive() })
}
