package bridge

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

func TestMsgIDFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    xmpp.Message
		own  bool
		want string
	}{
		{"archived chat", xmpp.Message{ID: "i", OriginID: "o", StanzaID: "s"}, false, "s"},
		{"chat without archive", xmpp.Message{ID: "i", OriginID: "o"}, false, "o"},
		{"bare chat", xmpp.Message{ID: "i"}, false, ""},
		{"own message: its origin-id, known when it was sent", xmpp.Message{ID: "i", OriginID: "o", StanzaID: "s"}, true, "o"},
		{"own message from a client without origin-id", xmpp.Message{ID: "i", StanzaID: "s"}, true, "s"},
	} {
		if got := msgIDFor(&tc.m, tc.own); got != tc.want {
			t.Errorf("%s: msgid %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestXMPPRefFor(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    xmpp.Message
		want string
	}{
		{"group chat: the room's stanza-id", xmpp.Message{Type: "groupchat", ID: "i", OriginID: "o", StanzaID: "r"}, "r"},
		{"group chat without one", xmpp.Message{Type: "groupchat", ID: "i", OriginID: "o"}, ""},
		{"chat: the origin-id", xmpp.Message{Type: "chat", ID: "i", OriginID: "o", StanzaID: "s"}, "o"},
		{"chat: else the id", xmpp.Message{Type: "chat", ID: "i", StanzaID: "s"}, "i"},
	} {
		if got := xmppRefFor(&tc.m); got != tc.want {
			t.Errorf("%s: ref %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestIRCLines(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.FixedZone("x", 3600))
	alice := &irc.Prefix{Name: "Alice", User: "alice", Host: "example.org"}
	for _, tc := range []struct {
		name string
		in   shown
		want []string
	}{
		{"chat with account", shown{from: alice, target: "me", body: "hi", account: "alice@example.org", msgid: "s1", at: at},
			[]string{"@account=alice@example.org;msgid=s1;time=2026-03-04T04:06:07.890Z :Alice!alice@example.org PRIVMSG me hi"}},
		{"lines of one message", shown{from: alice, target: "#room", body: "/me one\ntwo", msgid: "r1", at: at},
			[]string{
				"@msgid=r1;time=2026-03-04T04:06:07.890Z :Alice!alice@example.org PRIVMSG #room :\x01ACTION one\x01",
				"@msgid=r1/2;time=2026-03-04T04:06:07.890Z :Alice!alice@example.org PRIVMSG #room two",
			}},
		{"notice", shown{from: alice, target: "me", body: "/me news", notice: true, msgid: "h", at: at},
			[]string{"@msgid=h;time=2026-03-04T04:06:07.890Z :Alice!alice@example.org NOTICE me news"}},
		{"empty body", shown{from: alice, target: "me", body: "\n \n", msgid: "e", at: at}, nil},
	} {
		if got := wireLines(ircLines(&tc.in, viewer{nick: "me", serverTime: true})); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// wireLines is msgs as ircd writes them (tags sorted).
func wireLines(msgs []*irc.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, ircd.FormatLines(m, nil)...)
	}
	return out
}

func TestXMPPRef(t *testing.T) {
	b := &Bridge{msgs: newMessageStore(2)}
	b.rememberRef("a", "xa")
	b.rememberRef("b/c", "xbc")
	b.rememberRef("", "ignored")
	for _, tc := range []struct {
		msgid, want string
		ok          bool
	}{
		{"a", "xa", true},
		{"a/2", "xa", true}, // a later line of the message
		{"b/c", "xbc", true},
		{"a/x", "", false},
		{"unknown", "", false},
	} {
		if got, ok := b.xmppRef(tc.msgid); got != tc.want || ok != tc.ok {
			t.Errorf("xmppRef(%q) = %q, %v; want %q, %v", tc.msgid, got, ok, tc.want, tc.ok)
		}
	}
	b.rememberRef("c", "xc")
	if _, ok := b.xmppRef("a"); ok {
		t.Error("the oldest msgid is not forgotten")
	}
}

// tagsOf is the msgid and time tag of the one line received by c.
func tagsOf(t *testing.T, c *ircClient) (msgid, at string) {
	t.Helper()
	got := c.take()
	if len(got) != 1 {
		t.Fatalf("got %d lines, want 1:\n\t%s", len(got), strings.Join(got, "\n\t"))
	}
	m, err := irc.ParseMessage(got[0])
	if err != nil {
		t.Fatal(err)
	}
	return m.Tags["msgid"], m.Tags["time"]
}

// A live message, a carbon, an echo and a room message each carry a msgid
// and a time; the msgid is what an XMPP reference to it will use.
func TestMessagesCarryIdentity(t *testing.T) {
	h, c := joinedRoom(t, "message-tags", "server-time", "echo-message")
	c.take()
	now := "2026-03-04T05:06:07.000Z"

	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "hi", ID: "a1", OriginID: "o1", StanzaID: "s1"})
	if id, at := tagsOf(t, c); id != "s1" || at != now {
		t.Errorf("live chat: msgid %q time %q, want s1 %s", id, at, now)
	}
	if ref, _ := h.b.xmppRef("s1"); ref != "o1" {
		t.Errorf("s1 refers to %q, want the origin-id o1", ref)
	}

	h.event(xmpp.Message{From: "me@example.org/laptop", To: "alice@example.org", Type: "chat", Body: "mine", OriginID: "o2", StanzaID: "s2", Carbon: xmpp.CarbonSent})
	if id, at := tagsOf(t, c); id != "o2" || at != now {
		t.Errorf("carbon: msgid %q time %q, want o2 %s", id, at, now)
	}

	h.x.takeCalls()
	c.send("PRIVMSG Alice :hello")
	if id, at := tagsOf(t, c); id != "id1" || at != now {
		t.Errorf("echo: msgid %q time %q, want id1 (the message's id) %s", id, at, now)
	}
	h.expectCalls(`message id=id1 to=alice@example.org/phone type=chat state= body="hello"`)
	if ref, _ := h.b.xmppRef("id1"); ref != "id1" {
		t.Errorf("own chat refers to %q, want its origin-id id1", ref)
	}

	c.send("PRIVMSG #room :hello room")
	if id, _ := tagsOf(t, c); id != "id2" {
		t.Errorf("room echo: msgid %q, want id2", id)
	}
	h.x.takeCalls()
	// The reflection tells the room's stanza-id that references need.
	h.event(xmpp.Message{ID: "id2", OriginID: "id2", StanzaID: "r2", From: roomJID + "/me", Type: "groupchat", Body: "hello room"})
	c.expect()
	if ref, _ := h.b.xmppRef("id2"); ref != "r2" {
		t.Errorf("own room message refers to %q, want the room's stanza-id r2", ref)
	}
	// A room that drops the origin-id still reflects the stanza's id.
	c.send("PRIVMSG #room :again")
	c.take()
	h.event(xmpp.Message{ID: "id3", StanzaID: "r3", From: roomJID + "/me", Type: "groupchat", Body: "again"})
	c.expect()
	if ref, _ := h.b.xmppRef("id3"); ref != "r3" {
		t.Errorf("own room message without origin-id refers to %q, want r3", ref)
	}

	h.event(xmpp.Message{ID: "b1", OriginID: "bo", StanzaID: "r5", From: roomJID + "/bob", Type: "groupchat", Body: "hi all"})
	if id, at := tagsOf(t, c); id != "r5" || at != now {
		t.Errorf("room message: msgid %q time %q, want r5 %s", id, at, now)
	}
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "no ids"})
	if id, _ := tagsOf(t, c); id == "" {
		t.Error("a message without ids has no msgid")
	}
	// Room history after a rejoin shows the user's own message as it was echoed.
	old := time.Date(2026, 3, 4, 4, 0, 0, 0, time.UTC)
	h.event(xmpp.Message{ID: "x", OriginID: "id9", StanzaID: "r9", From: roomJID + "/me", Type: "groupchat", Body: "said before", Delay: old})
	if id, at := tagsOf(t, c); id != "id9" || at != "2026-03-04T04:00:00.000Z" {
		t.Errorf("own history: msgid %q time %q, want id9 and its stamp", id, at)
	}
}

// The backlog replays a message with the msgid and time it got when it
// arrived.
func TestBacklogKeepsIdentity(t *testing.T) {
	h, c := online(t, "message-tags", "server-time")
	c.detach()
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "kept", StanzaID: "s7"})
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "no ids"})
	d := h.attach("me", "message-tags", "server-time")
	got := d.take()
	want := []string{
		"@msgid=s7;time=2026-03-04T05:06:07.000Z :Alice!alice@example.org PRIVMSG me kept",
		"@msgid=m1;time=2026-03-04T05:06:07.000Z :Alice!alice@example.org PRIVMSG me :no ids",
	}
	if len(got) < 2 || strings.Join(got[len(got)-2:], "\n") != strings.Join(want, "\n") {
		t.Errorf("replay:\n\t%s\nwant at the end:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func TestTextRoom(t *testing.T) {
	for _, tc := range []struct {
		p               irc.Prefix
		command, target string
	}{
		{irc.Prefix{Name: "alice", User: "alice", Host: "example.org"}, "PRIVMSG", "me"},
		{irc.Prefix{Name: "xmpp"}, "NOTICE", "&xmpp"},
		{irc.Prefix{Name: "bob", Host: "example.org"}, "PRIVMSG", "#room"},
		{irc.Prefix{Name: "bob", User: "bob"}, "PRIVMSG", "me"},
		{irc.Prefix{Name: strings.Repeat("n", 300), User: strings.Repeat("u", 200), Host: "h"}, "PRIVMSG", "me"},
	} {
		want := ircd.MaxLineLen - len("\r\n") - len(":"+tc.p.String()+" "+tc.command+" "+tc.target+" :")
		if got := textRoom(&tc.p, tc.command, tc.target); got != want {
			t.Errorf("textRoom(%q, %s, %q) = %d, want %d", tc.p.String(), tc.command, tc.target, got, want)
		}
	}
}

// The message store keeps one record per message for its newest messages:
// a kept message is found by its msgid and by each of its XMPP ids in its
// conversation (an id that is also the msgid through the msgid), and what
// goes takes its ids along, except those a later message took.
func TestMessageStore(t *testing.T) {
	ms := newMessageStore(3)
	a := ms.keep(msgFields{msgid: "s1", id: "u1", origin: "u1", stanzaID: "s1", conv: "alice@example.org", text: "one"})
	ms.keep(msgFields{msgid: "o2", id: "o2", origin: "o2", conv: "alice@example.org", sender: ownSender, text: "two"})
	for _, tc := range []struct {
		conv, id, want string
	}{
		{"alice@example.org", "u1", "one"},
		{"alice@example.org", "s1", "one"}, // its msgid
		{"alice@example.org", "o2", "two"},
		{"bob@example.org", "s1", ""}, // another conversation's
		{"alice@example.org", "nope", ""},
	} {
		got := ""
		if k := ms.byXMPP(tc.conv, tc.id); k != nil {
			got = k.text()
		}
		if got != tc.want {
			t.Errorf("byXMPP(%s, %s) = %q, want %q", tc.conv, tc.id, got, tc.want)
		}
	}
	// A later message with the same id in the conversation takes it.
	ms.keep(msgFields{msgid: "s3", id: "u1", stanzaID: "s3", conv: "alice@example.org", text: "three"})
	ms.record("s4") // a message only shown: "s1" goes
	if ms.get("s1") != nil || ms.kept("s1") != nil || ms.order.n != 3 || ms.byMsgid.len() != 3 {
		t.Errorf("the oldest message is not forgotten: %d records", ms.byMsgid.len())
	}
	if k := ms.byXMPP("alice@example.org", "u1"); k == nil || k.text() != "three" {
		t.Errorf("the id a later message took went with the message forgotten: %v", k)
	}
	if ms.index.len() != 1 || a.kept() && ms.index.get(xmppKey{"alice@example.org", "u1"}) == a {
		t.Errorf("index after forgetting: %v", ms.index)
	}
	// A retracted message is no longer kept; its msgid still resolves.
	k := ms.kept("o2/2")
	if k == nil {
		t.Fatal("a later line's msgid does not find the message")
	}
	ms.forget(k)
	if ms.kept("o2") != nil || ms.byXMPP("alice@example.org", "o2") != nil || k.xmppRef() != "o2" {
		t.Errorf("after forget: kept %v, by XMPP %v, ref %q", ms.kept("o2"), ms.byXMPP("alice@example.org", "o2"), k.xmppRef())
	}
	ms.record("s5")
	ms.record("s6")
	ms.record("s7")
	if ms.byMsgid.len() != 3 || ms.index.len() != 0 || len(ms.order.buf) > 3 {
		t.Errorf("after all went: %d records, index %v, order of %d", ms.byMsgid.len(), ms.index, len(ms.order.buf))
	}
}
