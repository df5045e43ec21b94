package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

// messageWith matches a PRIVMSG whose text contains text.
func messageWith(text string) func(*irc.Message) bool {
	return func(m *irc.Message) bool { return m.Command == "PRIVMSG" && strings.Contains(m.Trailing(), text) }
}

// identityOf checks that m carries a msgid and a valid time, and returns
// the msgid.
func identityOf(t *testing.T, what string, m *irc.Message) string {
	t.Helper()
	if _, err := time.Parse(time.RFC3339, m.Tags["time"]); err != nil {
		t.Errorf("%s: no valid time tag in %q", what, m.String())
	}
	if m.Tags["msgid"] == "" {
		t.Errorf("%s: no msgid in %q", what, m.String())
	}
	return m.Tags["msgid"]
}

// A message's msgid is the id the account's archive (MAM) has for it: live,
// delivered from offline storage after a restart of xircd, and, for the
// user's own message, its origin-id, which its echo already carries.
func TestMessageIdentity(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	caps := []string{"message-tags", "server-time", "echo-message"}
	c := e.client("me", caps...)
	waitContact(t, c, "alice")

	alice.send(e.userJID, "live hello")
	liveID := identityOf(t, "live message", c.expect(messageWith("live hello")))

	c.send("PRIVMSG alice :my answer")
	echo := c.expect(func(m *irc.Message) bool { return messageWith("my answer")(m) && m.Prefix.Name == "me" })
	echoID := identityOf(t, "echo", echo)
	if got := alice.expectMessage("my answer"); got.OriginID != echoID {
		t.Errorf("alice got origin-id %q, the echo's msgid is %q", got.OriginID, echoID)
	}

	e.stop()
	alice.expect(func(ev xmpp.Event) bool {
		p, ok := ev.(xmpp.Presence)
		return ok && strings.HasPrefix(p.From, e.userJID+"/") && p.Type == "unavailable"
	})
	alice.send(e.userJID, "while you were down")
	e.start()
	c = e.client("me", caps...)
	downID := identityOf(t, "offline message", c.expect(messageWith("while you were down")))

	// What the archive says about the same messages.
	me := e.peer("me", "check")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	id, err := me.QueryArchive(ctx, xmpp.ArchiveQuery{With: alice.jid})
	if err != nil {
		t.Fatal(err)
	}
	page := me.expect(func(ev xmpp.Event) bool {
		p, ok := ev.(xmpp.ArchivePage)
		return ok && p.ID == id
	}).(xmpp.ArchivePage)
	if page.Err != nil {
		t.Fatal(page.Err)
	}
	archived := map[string]xmpp.Message{}
	for _, m := range page.Messages {
		archived[m.Body] = m
	}
	if a := archived["live hello"]; a.StanzaID == "" || a.StanzaID != liveID {
		t.Errorf("live message: msgid %q, archive id %q", liveID, a.StanzaID)
	}
	if a := archived["while you were down"]; a.StanzaID == "" || a.StanzaID != downID {
		t.Errorf("offline message: msgid %q, archive id %q", downID, a.StanzaID)
	}
	if a := archived["my answer"]; a.OriginID != echoID {
		t.Errorf("own message: echo msgid %q, archived origin-id %q", echoID, a.OriginID)
	}
}

// In a room a message is known by the room's stanza-id, live and in the
// history a later join brings; the user's own message by its origin-id,
// which its echo carries.
func TestRoomMessageIdentity(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "laptop")
	room := "ids@" + e.srv.MUCDomain
	alice.joinRoom(room, "alice", "", openRoom)
	e.start()
	caps := []string{"message-tags", "server-time", "echo-message"}
	c := e.client("me", caps...)
	waitContact(t, c, "alice")
	c.send("JOIN #ids")
	c.expectLine(":me!", "JOIN #ids")

	alice.groupchat(room, "hi room")
	roomID := alice.expectGroupchat(room+"/alice", "hi room").StanzaID
	if got := identityOf(t, "room message", c.expect(roomLine("PRIVMSG", "#ids", "hi room"))); roomID == "" || got != roomID {
		t.Errorf("room message: msgid %q, the room's stanza-id %q", got, roomID)
	}

	c.send("PRIVMSG #ids :mine")
	echoID := identityOf(t, "echo", c.expect(roomLine("PRIVMSG", "#ids", "mine")))
	if got := alice.expectGroupchat(room+"/me", "mine"); got.OriginID != echoID {
		t.Errorf("the room got origin-id %q, the echo's msgid is %q", got.OriginID, echoID)
	}

	// A new xircd joins again and gets both from the room's history.
	e.stop()
	e.start()
	c = e.client("me", caps...)
	waitContact(t, c, "alice")
	c.send("JOIN #ids")
	if got := identityOf(t, "history", c.expect(roomLine("PRIVMSG", "#ids", "hi room"))); got != roomID {
		t.Errorf("room history: msgid %q, the room's stanza-id %q", got, roomID)
	}
	if got := identityOf(t, "own history", c.expect(roomLine("PRIVMSG", "#ids", "mine"))); got != echoID {
		t.Errorf("own message in the room history: msgid %q, its echo had %q", got, echoID)
	}
}
