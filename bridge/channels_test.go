package bridge

import (
	"strings"
	"testing"

	"xircd/xmpp"
)

// Replies about a channel carry its name as the gateway spells it,
// whatever case the client typed it in.
func TestChannelRepliesSpellTheChannelsName(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect()
	c := h.attach("me")
	c.take()

	c.send("MODE &XMPP")
	c.expect(":irc.test 324 me &xmpp +nt", ":irc.test 329 me &xmpp 1772600767")
	c.send("MODE &XMPP +b")
	c.expect(":irc.test 368 me &xmpp :End of channel ban list")
	c.send("TOPIC &XMPP :new")
	c.expect(":irc.test 482 me &xmpp :The control channel's topic is fixed")
	c.send("PART &XMPP")
	c.expect(":me!user@localhost PART &xmpp")
	c.send("PART &XMPP")
	c.expect(":irc.test 442 me &xmpp :You're not on that channel")
}

// TOPIC and LIST show a room's subject on one line.
func TestRoomTopicAndListingOnOneLine(t *testing.T) {
	h, c := joinedRoom(t)
	c.take()
	h.event(xmpp.Message{From: roomJID + "/alice", Type: "groupchat", Subject: "Plans\nfor \t today", HasSubject: true})
	c.take()
	c.send("TOPIC #room")
	c.expectContains(":irc.test 332 me #room :Plans for today")
	c.send("LIST #room")
	got := ""
	waitFor(t, func() bool {
		got += strings.Join(c.take(), "\n") + "\n"
		return strings.Contains(got, ":irc.test 323 me :End of /LIST")
	})
	if !strings.Contains(got, ":irc.test 322 me #room 4 :Plans for today\n") {
		t.Errorf("LIST #room: got\n%s", got)
	}
}
