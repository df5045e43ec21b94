package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

// joinRoom makes the peer join room as nick and waits for its own
// presence; a room the peer creates is configured with config (XEP-0045
// room configuration fields) and opened.
func (p *peer) joinRoom(room, nick, password string, config map[string]string) {
	p.t.Helper()
	if err := p.JoinRoom(room, nick, password, 0, time.Time{}); err != nil {
		p.t.Fatal(err)
	}
	ev := p.expect(func(ev xmpp.Event) bool {
		pr, ok := ev.(xmpp.Presence)
		// Only an available self-presence: an unavailable one is the end of
		// an earlier visit (a room removes its occupants when the server
		// shuts down).
		return ok && pr.From == room+"/"+nick && (pr.Type == "error" || (pr.Type == "" && pr.MUC != nil && slices.Contains(pr.MUC.Codes, 110)))
	}).(xmpp.Presence)
	if ev.Type == "error" {
		p.t.Fatalf("%s cannot join %s: %v", p.jid, room, ev.Error)
	}
	if !slices.Contains(ev.MUC.Codes, 201) {
		return
	}
	var form strings.Builder
	form.WriteString("<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>")
	form.WriteString("<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>")
	for k, v := range config {
		form.WriteString("<field var='" + k + "'><value>" + v + "</value></field>")
	}
	form.WriteString("</x></query>")
	p.iq(room, "set", form.String())
}

// iq sends an IQ and fails the test unless the answer is a result.
func (p *peer) iq(to, typ, payload string) *xmpp.IQResult {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := p.SendIQ(ctx, to, typ, payload)
	if err != nil {
		p.t.Fatal(err)
	}
	if res.Type != "result" {
		p.t.Fatalf("iq to %s refused: %v", to, res.Err)
	}
	return res
}

// groupchat sends a message to a room.
func (p *peer) groupchat(room, body string) {
	p.t.Helper()
	if _, err := p.SendMessage(xmpp.OutMessage{To: room, Type: "groupchat", Body: body}); err != nil {
		p.t.Fatal(err)
	}
}

// expectGroupchat waits for a groupchat message with body from room/nick.
func (p *peer) expectGroupchat(from, body string) xmpp.Message {
	p.t.Helper()
	return p.expect(func(ev xmpp.Event) bool {
		m, ok := ev.(xmpp.Message)
		return ok && m.Type == "groupchat" && m.From == from && m.Body == body
	}).(xmpp.Message)
}

var openRoom = map[string]string{"muc#roomconfig_whois": "anyone", "muc#roomconfig_persistentroom": "1", "muc#roomconfig_changesubject": "1", "muc#roomconfig_publicroom": "1"}

// roomLine matches a message in channel by command and a part of its text.
func roomLine(command, channel, text string) func(*irc.Message) bool {
	return func(m *irc.Message) bool {
		return m.Command == command && m.Param(0) == channel && strings.Contains(m.Trailing(), text)
	}
}

// A room as a channel: join with history and topic, names with roles and
// a server-wide unique nick for a stranger using a contact's nick,
// messages both ways without doubles, topic both ways, nick change, kick,
// private messages, part.
func TestRoomBasics(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	e.srvAccount(t, "zed")
	alice := e.peer("alice", "laptop")
	zed := e.peer("zed", "pc")
	room := "team@" + e.srv.MUCDomain
	alice.joinRoom(room, "alice", "", openRoom)
	zed.joinRoom(room, "Alice", "", nil)
	alice.groupchat(room, "history one")
	alice.expectGroupchat(room+"/alice", "history one")
	if _, err := alice.SendMessage(xmpp.OutMessage{To: room, Type: "groupchat", Subject: "Plans", HasSubject: true}); err != nil {
		t.Fatal(err)
	}
	e.start()
	c := e.client("me")
	waitContact(t, c, "Alice")

	c.send("JOIN #team")
	c.expectLine(":me!", "JOIN #team")
	var names []string
	for {
		m := c.expect(func(m *irc.Message) bool {
			return (m.Command == "353" || m.Command == "366") && slices.Contains(m.Params, "#team")
		})
		if m.Command == "366" {
			break
		}
		names = append(names, strings.Fields(m.Trailing())...)
	}
	slices.Sort(names)
	if strings.Join(names, " ") != "+Alice_2 +me ~Alice" {
		t.Fatalf("NAMES #team = %q, want the owner contact as ~Alice, the stranger called Alice as +Alice_2 and +me", names)
	}
	// History keeps its time as a visible stamp (this client has no server-time).
	h := c.expect(roomLine("PRIVMSG", "#team", "history one"))
	if h.Prefix.Name != "Alice" || !regexp.MustCompile(`^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] history one$`).MatchString(h.Trailing()) {
		t.Fatalf("history line %q from %q, want a time-stamped line from Alice", h.Trailing(), h.Prefix.Name)
	}
	c.expectLine("332", "#team", "Plans")
	c.expectLine("333", "#team", "Alice!")

	// Messages both ways; the room's reflection of ours is not shown.
	c.send("PRIVMSG #team :hello room")
	alice.expectGroupchat(room+"/me", "hello room")
	alice.groupchat(room, "hello me")
	c.expectLine(":Alice!", "PRIVMSG #team :hello me")
	if n := c.count(lineWith("PRIVMSG #team :hello room")); n != 0 {
		t.Fatalf("own message shown %d times to the sender without echo-message", n)
	}
	if n := c.count(lineWith("PRIVMSG #team :hello me")); n != 1 {
		t.Fatalf("a message from the room shown %d times, want once", n)
	}
	// With echo-message it is shown exactly once.
	c2 := e.client("me", "echo-message")
	c2.expectLine("JOIN #team")
	c2.send("PRIVMSG #team :echoed once")
	alice.expectGroupchat(room+"/me", "echoed once")
	alice.groupchat(room, "after echo")
	c2.expectLine(":Alice!", "PRIVMSG #team :after echo")
	c.expectLine(":Alice!", "PRIVMSG #team :after echo")
	if n := c2.count(lineWith("PRIVMSG #team :echoed once")); n != 1 {
		t.Fatalf("with echo-message the sender saw its message %d times, want once", n)
	}
	if n := c.count(lineWith("PRIVMSG #team :echoed once")); n != 1 {
		t.Fatalf("the other client saw the message %d times, want once", n)
	}
	c2.send("QUIT")

	// Topic both ways.
	c.send("TOPIC #team :From IRC")
	c.expectLine(":me!", "TOPIC #team :From IRC")
	alice.expect(func(ev xmpp.Event) bool {
		m, ok := ev.(xmpp.Message)
		return ok && m.HasSubject && m.Subject == "From IRC"
	})
	if _, err := alice.SendMessage(xmpp.OutMessage{To: room, Type: "groupchat", Subject: "From XMPP", HasSubject: true}); err != nil {
		t.Fatal(err)
	}
	c.expectLine(":Alice!", "TOPIC #team :From XMPP")

	// Private messages with an occupant who is not a contact.
	if _, err := zed.SendMessage(xmpp.OutMessage{To: room + "/me", Type: "chat", Body: "psst"}); err != nil {
		t.Fatal(err)
	}
	c.expectLine(":Alice_2!", "PRIVMSG me", "psst")
	c.send("PRIVMSG Alice_2 :yes?")
	zed.expect(func(ev xmpp.Event) bool {
		m, ok := ev.(xmpp.Message)
		return ok && m.From == room+"/me" && m.Body == "yes?"
	})

	// A nick change in the room.
	if err := zed.JoinRoom(room, "Zed", "", 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	c.expectLine(":Alice_2!", "NICK Zed")

	// A kick with a reason.
	alice.iq(room, "set", "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='Zed' role='none'><reason>too loud</reason></item></query>")
	c.expect(func(m *irc.Message) bool {
		return m.Command == "KICK" && m.Param(0) == "#team" && m.Param(1) == "Zed" && strings.Contains(m.Trailing(), "too loud")
	})

	// LIST: the room we are in, and the service's other public rooms.
	alice.joinRoom("lobby@"+e.srv.MUCDomain, "alice", "", openRoom)
	c.send("LIST")
	c.expectLine("322 me #team 2")
	c.expectLine("322 me #lobby")
	c.expectLine("323 me")

	// A mediated invitation through the room.
	c.send("INVITE Alice #team")
	c.expectLine("341 me Alice #team")
	alice.expect(func(ev xmpp.Event) bool {
		m, ok := ev.(xmpp.Message)
		return ok && m.Invite != nil && m.Invite.Room == room
	})

	// Leaving.
	c.send("PART #team :bye")
	c.expectLine(":me!", "PART #team")
	alice.expect(func(ev xmpp.Event) bool {
		p, ok := ev.(xmpp.Presence)
		return ok && p.From == room+"/me" && p.Type == "unavailable"
	})
}

// A password-protected room: the wrong key gets 475, the right one joins.
func TestRoomPassword(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "laptop")
	room := "secret@" + e.srv.MUCDomain
	alice.joinRoom(room, "alice", "", map[string]string{
		"muc#roomconfig_passwordprotectedroom": "1",
		"muc#roomconfig_roomsecret":            "s3cret",
	})
	e.start()
	c := e.client("me")
	c.send("JOIN #secret wrong")
	c.expectLine("475", "#secret", "password")
	c.send("JOIN #secret")
	c.expectLine("475", "#secret")
	c.send("JOIN #secret s3cret")
	c.expectLine(":me!", "JOIN #secret")
	c.send("PRIVMSG #secret :inside")
	alice.expectGroupchat(room+"/me", "inside")
}

// A nick already used in the room gets a suffix, and the user is told.
func TestRoomNickConflict(t *testing.T) {
	e := newEnv(t)
	e.srvAccount(t, "other")
	other := e.peer("other", "pc")
	room := "busy@" + e.srv.MUCDomain
	other.joinRoom(room, "me", "", openRoom)
	e.start()
	c := e.client("me")
	c.send("JOIN #busy")
	c.expectLine(":me!", "JOIN #busy")
	c.expectLine("NOTICE #busy", `"me_2"`)
	c.send("PRIVMSG #busy :hi")
	other.expectGroupchat(room+"/me_2", "hi")
}

// Bookmarked rooms with autojoin are joined at start, and rooms are
// rejoined after the XMPP server restarts.
func TestRoomBookmarksAndRejoin(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "laptop")
	room := "club@" + e.srv.MUCDomain
	alice.joinRoom(room, "alice", "", openRoom)
	setup := e.peer("me", "setup")
	setup.iq("", "set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:bookmarks:1'><item id='"+room+"'>"+
		"<conference xmlns='urn:xmpp:bookmarks:1' name='Club' autojoin='true'/></item></publish>"+
		"<publish-options><x xmlns='jabber:x:data' type='submit'>"+
		"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"+
		"<field var='pubsub#persist_items'><value>true</value></field>"+
		"<field var='pubsub#access_model'><value>whitelist</value></field>"+
		"</x></publish-options></pubsub>")
	setup.Close()

	e.start()
	c := e.client("me")
	c.expectLine(":me!", "JOIN #club")
	alice.groupchat(room, "before restart")
	c.expectLine("PRIVMSG #club :before restart")

	if err := e.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	c.expectLine("NOTICE &xmpp", "Disconnected from XMPP")
	if err := e.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	c.expectLine("NOTICE &xmpp", "Connected to XMPP")
	// The peer lost its stream too and logs in again.
	alice.expect(func(ev xmpp.Event) bool { _, ok := ev.(xmpp.Disconnected); return ok })
	alice = e.peer("alice", "laptop")
	alice.joinRoom(room, "alice", "", nil)
	waitFor(t, func() bool { return hasName(namesOf(c, "#club"), "+me") })
	c.send("PRIVMSG #club :after restart")
	alice.expectGroupchat(room+"/me", "after restart")
	alice.groupchat(room, "welcome back")
	c.expectLine("PRIVMSG #club :welcome back")
	if n := c.count(func(m *irc.Message) bool {
		return m.Command == "JOIN" && m.Prefix != nil && m.Prefix.Name == "me" && m.Param(0) == "#club"
	}); n != 1 {
		t.Errorf("#club was joined %d times, want once: the channel is kept across the reconnect", n)
	}
}

// A real irssi in a room: it joins, shows the topic and the occupants
// with their prefixes, and talks both ways.
func TestIrssiRoom(t *testing.T) {
	needTool(t, "tmux", "irssi")
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	alice := e.peer("alice", "phone")
	room := "team@" + e.srv.MUCDomain
	alice.joinRoom(room, "alice", "", openRoom)
	if _, err := alice.SendMessage(xmpp.OutMessage{To: room, Type: "groupchat", Subject: "Plans for today", HasSubject: true}); err != nil {
		t.Fatal(err)
	}
	e.start()

	host, port, _ := strings.Cut(e.ircAddr, ":")
	home := filepath.Join(t.TempDir(), "irssi")
	os.MkdirAll(home, 0o700)
	term := startTmux(t, fmt.Sprintf("irssi --home=%s -n me -c %s -p %s", home, host, port))
	term.waitScreen("Act: 2")
	term.keys("/join #team")
	term.waitScreen("Topic for #team: Plans for today", "[~Alice]", "[+me]")
	term.keys("hello from irssi")
	alice.expectGroupchat(room+"/me", "hello from irssi")
	alice.groupchat(room, "hello irssi")
	term.waitScreen("Alice> hello irssi")
	if strings.Count(term.screen(), "hello from irssi") != 1 {
		t.Fatalf("own message not shown exactly once:\n%s", term.screen())
	}
	term.keys("/part #team")
	alice.expect(func(ev xmpp.Event) bool {
		p, ok := ev.(xmpp.Presence)
		return ok && p.From == room+"/me" && p.Type == "unavailable"
	})
	term.keys("/quit bye")
}
