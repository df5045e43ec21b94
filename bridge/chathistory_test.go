package bridge

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"xircd/xmpp"
)

func TestParseHistory(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.UTC)
	for _, tc := range []struct {
		params []string
		want   historyCmd
		fail   *historyFail
	}{
		{[]string{"LATEST", "alice", "*", "50"}, historyCmd{sub: "LATEST", target: "alice", limit: 50}, nil},
		{[]string{"latest", "#room", "msgid=abc", "5"}, historyCmd{sub: "LATEST", target: "#room", from: msgRef{msgid: "abc"}, limit: 5}, nil},
		{[]string{"BEFORE", "alice", "timestamp=2026-03-04T05:06:07.890Z", "10"}, historyCmd{sub: "BEFORE", target: "alice", from: msgRef{at: at}, limit: 10}, nil},
		{[]string{"AFTER", "alice", "msgid=x", "1000"}, historyCmd{sub: "AFTER", target: "alice", from: msgRef{msgid: "x"}, limit: historyMax}, nil},
		{[]string{"AROUND", "alice", "msgid=x", "3"}, historyCmd{sub: "AROUND", target: "alice", from: msgRef{msgid: "x"}, limit: 3}, nil},
		{[]string{"BETWEEN", "alice", "msgid=x", "timestamp=2026-03-04T05:06:07.890Z", "7"}, historyCmd{sub: "BETWEEN", target: "alice", from: msgRef{msgid: "x"}, to: msgRef{at: at}, limit: 7}, nil},
		{[]string{"TARGETS", "timestamp=2026-03-04T05:06:07.890Z", "timestamp=2026-03-04T05:06:07.890Z", "7"}, historyCmd{sub: "TARGETS", from: msgRef{at: at}, to: msgRef{at: at}, limit: 7}, nil},
		// A timestamp in the future is a valid bound (clients add a
		// margin for clock skew).
		{[]string{"BEFORE", "alice", "timestamp=2999-01-01T00:00:00.000Z", "1"}, historyCmd{sub: "BEFORE", target: "alice", from: msgRef{at: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}, limit: 1}, nil},

		{[]string{"FETCH", "alice", "*", "5"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"FETCH"}, "Unknown command"}},
		{[]string{"LATEST", "alice", "*"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"LATEST"}, "Insufficient parameters"}},
		{[]string{"BETWEEN", "alice", "msgid=a", "5"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"BETWEEN"}, "Insufficient parameters"}},
		{[]string{"LATEST", "alice", "*", "5", "6"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"LATEST"}, "Too many parameters"}},
		{[]string{"BEFORE", "alice", "*", "5"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"BEFORE", "*"}, "Only LATEST takes *"}},
		{[]string{"BEFORE", "alice", "timestamp=2026-03-04", "5"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"BEFORE", "timestamp=2026-03-04"}, "Invalid timestamp"}},
		{[]string{"BEFORE", "alice", "timestamp=2026-03-04T05:06:07+02:00", "5"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"BEFORE", "timestamp=2026-03-04T05:06:07+02:00"}, "Invalid timestamp"}},
		{[]string{"BEFORE", "alice", "msgid=", "5"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"BEFORE", "msgid="}, "Invalid msgid"}},
		{[]string{"BEFORE", "alice", "abc", "5"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"BEFORE", "abc"}, "Invalid message reference"}},
		{[]string{"BEFORE", "alice", "seq=4", "5"}, historyCmd{}, &historyFail{"INVALID_MSGREFTYPE", []string{"BEFORE", "alice", "seq"}, "Only msgid and timestamp references are supported"}},
		{[]string{"TARGETS", "msgid=a", "timestamp=2026-03-04T05:06:07.890Z", "5"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"TARGETS", "msgid=a"}, "TARGETS takes timestamps"}},
		{[]string{"LATEST", "alice", "*", "0"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"LATEST", "0"}, "Invalid limit"}},
		{[]string{"LATEST", "alice", "*", "-3"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"LATEST", "-3"}, "Invalid limit"}},
		{[]string{"LATEST", "alice", "*", "many"}, historyCmd{}, &historyFail{"INVALID_PARAMS", []string{"LATEST", "many"}, "Invalid limit"}},
	} {
		got, fail := parseHistory(tc.params)
		if !reflect.DeepEqual(got, tc.want) || !reflect.DeepEqual(fail, tc.fail) {
			t.Errorf("parseHistory(%q) = %+v, %+v; want %+v, %+v", tc.params, got, fail, tc.want, tc.fail)
		}
	}
}

// minutes is fixedNow plus n minutes, in UTC.
func minutes(n int) time.Time { return fixedNow.Add(time.Duration(n) * time.Minute).UTC() }

// chatArchive is the account's archive of a chat with Alice: her
// messages, the user's own (from this gateway and another client), a
// multi-line message, a headline, and what is never shown (a chat state, an
// error); and a room's messages.
var chatArchive = []xmpp.Message{
	{StanzaID: "s1", From: "alice@example.org/phone", To: "me@example.org/xircd", Type: "chat", Body: "one", Delay: minutes(1)},
	{StanzaID: "s2", OriginID: "o2", From: "me@example.org/xircd", To: "alice@example.org", Type: "chat", Body: "mine", Delay: minutes(2)},
	{StanzaID: "s3", From: "alice@example.org/phone", To: "me@example.org/xircd", Type: "chat", ChatState: "composing", Delay: minutes(3)},
	{StanzaID: "s4", From: "alice@example.org/phone", To: "me@example.org/xircd", Type: "chat", Body: "/me waves\nsecond line", Delay: minutes(4)},
	{StanzaID: "s5", From: "bob@example.org/pc", To: "me@example.org/xircd", Type: "chat", Body: "not Alice's", Delay: minutes(5)},
	{StanzaID: "s6", From: "alice@example.org/phone", To: "me@example.org/xircd", Type: "headline", Body: "news", Delay: minutes(6)},
	{StanzaID: "s7", From: "alice@example.org/phone", To: "me@example.org/xircd", Type: "error", Body: "bounced", Delay: minutes(7)},
	{StanzaID: "s8", From: "me@example.org/laptop", To: "alice@example.org/phone", Type: "chat", Body: "from my laptop", Delay: minutes(8)},
	{StanzaID: "r1", From: "room@conference.example.org/alice", Type: "groupchat", Body: "hi room", Delay: minutes(1)},
	{StanzaID: "r2", OriginID: "o9", From: "room@conference.example.org/me", Type: "groupchat", Body: "my room message", Delay: minutes(2)},
	{StanzaID: "r3", From: "room@conference.example.org", Type: "groupchat", Body: "the room speaks", Delay: minutes(3)},
	{StanzaID: "r4", From: "room@conference.example.org/bob", Type: "groupchat", Body: "from bob", Delay: minutes(4)},
}

// The archive's messages as a chathistory batch: shown as they show live,
// with their msgid and time, oldest first, paged, cut at the references.
func TestHistoryBatches(t *testing.T) {
	tags := "batch=H1;msgid="
	for _, tc := range []struct {
		name, cmd string
		want      []string
	}{
		{"latest of a chat", "CHATHISTORY LATEST Alice * 10", []string{
			":irc.test BATCH +H1 chathistory Alice",
			"@account=alice@example.org;" + tags + "s1;time=" + serverTime(minutes(1)) + " :Alice!alice@example.org PRIVMSG me one",
			"@" + tags + "o2;time=" + serverTime(minutes(2)) + " :me!user@localhost PRIVMSG Alice mine",
			"@account=alice@example.org;" + tags + "s4;time=" + serverTime(minutes(4)) + " :Alice!alice@example.org PRIVMSG me :\x01ACTION waves\x01",
			"@account=alice@example.org;" + tags + "s4/2;time=" + serverTime(minutes(4)) + " :Alice!alice@example.org PRIVMSG me :second line",
			"@account=alice@example.org;" + tags + "s6;time=" + serverTime(minutes(6)) + " :Alice!alice@example.org NOTICE me news",
			"@" + tags + "s8;time=" + serverTime(minutes(8)) + " :me!user@localhost PRIVMSG Alice :from my laptop",
			":irc.test BATCH -H1",
		}},
		{"latest two", "CHATHISTORY LATEST alice * 2", []string{
			":irc.test BATCH +H1 chathistory Alice",
			"@account=alice@example.org;" + tags + "s6;time=" + serverTime(minutes(6)) + " :Alice!alice@example.org NOTICE me news",
			"@" + tags + "s8;time=" + serverTime(minutes(8)) + " :me!user@localhost PRIVMSG Alice :from my laptop",
			":irc.test BATCH -H1",
		}},
		{"before a msgid", "CHATHISTORY BEFORE Alice msgid=s6 2", []string{
			":irc.test BATCH +H1 chathistory Alice",
			"@" + tags + "o2;time=" + serverTime(minutes(2)) + " :me!user@localhost PRIVMSG Alice mine",
			"@account=alice@example.org;" + tags + "s4;time=" + serverTime(minutes(4)) + " :Alice!alice@example.org PRIVMSG me :\x01ACTION waves\x01",
			"@account=alice@example.org;" + tags + "s4/2;time=" + serverTime(minutes(4)) + " :Alice!alice@example.org PRIVMSG me :second line",
			":irc.test BATCH -H1",
		}},
		{"after a timestamp", "CHATHISTORY AFTER Alice timestamp=" + serverTime(minutes(4)) + " 5", []string{
			":irc.test BATCH +H1 chathistory Alice",
			"@account=alice@example.org;" + tags + "s6;time=" + serverTime(minutes(6)) + " :Alice!alice@example.org NOTICE me news",
			"@" + tags + "s8;time=" + serverTime(minutes(8)) + " :me!user@localhost PRIVMSG Alice :from my laptop",
			":irc.test BATCH -H1",
		}},
		{"between timestamps backwards", "CHATHISTORY BETWEEN Alice timestamp=" + serverTime(minutes(8)) + " timestamp=" + serverTime(minutes(1)) + " 1", []string{
			":irc.test BATCH +H1 chathistory Alice",
			"@account=alice@example.org;" + tags + "s6;time=" + serverTime(minutes(6)) + " :Alice!alice@example.org NOTICE me news",
			":irc.test BATCH -H1",
		}},
		{"room", "CHATHISTORY LATEST #room * 10", []string{
			":irc.test BATCH +H1 chathistory #room",
			"@account=alice@example.org;" + tags + "r1;time=" + serverTime(minutes(1)) + " :Alice!alice@example.org PRIVMSG #room :hi room",
			"@" + tags + "o9;time=" + serverTime(minutes(2)) + " :me!user@localhost PRIVMSG #room :my room message",
			"@" + tags + "r3;time=" + serverTime(minutes(3)) + " :xircd!xircd@irc.test NOTICE #room :the room speaks",
			"@" + tags + "r4;time=" + serverTime(minutes(4)) + " :bob!room@conference.example.org PRIVMSG #room :from bob",
			":irc.test BATCH -H1",
		}},
		{"around a room message", "CHATHISTORY AROUND #room msgid=r3 2", []string{
			":irc.test BATCH +H1 chathistory #room",
			"@" + tags + "o9;time=" + serverTime(minutes(2)) + " :me!user@localhost PRIVMSG #room :my room message",
			"@" + tags + "r3;time=" + serverTime(minutes(3)) + " :xircd!xircd@irc.test NOTICE #room :the room speaks",
			":irc.test BATCH -H1",
		}},
		{"the control channel has none", "CHATHISTORY LATEST &xmpp * 10", []string{
			":irc.test BATCH +H1 chathistory &xmpp",
			":irc.test BATCH -H1",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, c := joinedRoom(t, "batch", "message-tags", "server-time", "account-tag")
			c.take()
			h.x.mu.Lock()
			h.x.archive, h.x.pageMax = chatArchive, 2
			h.x.mu.Unlock()
			c.send(tc.cmd)
			c.expect(tc.want...)
		})
	}
}

// A client without batch and server-time gets the same messages as plain
// lines with a visible time stamp.
func TestHistoryForPlainClients(t *testing.T) {
	h, c := online(t)
	h.x.mu.Lock()
	h.x.archive = chatArchive[:2]
	h.x.mu.Unlock()
	c.send("CHATHISTORY LATEST Alice * 10")
	c.expect(
		":Alice!alice@example.org PRIVMSG me :"+timestampPrefix(minutes(1))+"one",
		":me!user@localhost PRIVMSG Alice :"+timestampPrefix(minutes(2))+"mine",
	)
}

// What cannot be answered is a FAIL, never silence: an unknown msgid, a
// target that is neither contact nor room, an archive query the server
// refuses or that times out, XMPP down, a server without an archive.
func TestHistoryFailures(t *testing.T) {
	h, c := online(t)
	h.x.mu.Lock()
	h.x.archive = chatArchive
	h.x.mu.Unlock()
	c.send("CHATHISTORY BEFORE Alice msgid=nope 10")
	c.expect(":irc.test FAIL CHATHISTORY MESSAGE_ERROR BEFORE Alice msgid=nope :Unknown message id")
	c.send("CHATHISTORY LATEST stranger * 10")
	c.expect(":irc.test FAIL CHATHISTORY INVALID_TARGET LATEST stranger :Not a contact or a room of yours")

	h.x.holdAnswers = true
	c.send("CHATHISTORY LATEST Alice * 10")
	refused := heldAnswer[xmpp.ArchivePage](t, h)
	h.event(xmpp.ArchivePage{ID: refused.ID, Err: &xmpp.StanzaError{Type: "cancel", Condition: "service-unavailable"}})
	c.expect(":irc.test FAIL CHATHISTORY MESSAGE_ERROR LATEST Alice :Messages could not be retrieved: service-unavailable")
	c.send("CHATHISTORY LATEST Alice * 10")
	late := heldAnswer[xmpp.ArchivePage](t, h)
	h.event(xmpp.ArchivePage{ID: late.ID, Err: context.DeadlineExceeded})
	c.expect(":irc.test FAIL CHATHISTORY MESSAGE_ERROR LATEST Alice :Messages could not be retrieved: context deadline exceeded")
	h.x.holdAnswers = false

	h.event(xmpp.Disconnected{})
	c.take()
	c.send("CHATHISTORY LATEST Alice * 10")
	c.expect(":irc.test FAIL CHATHISTORY MESSAGE_ERROR LATEST Alice :XMPP is not connected")

	h.x.noMAM = true
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	c.take()
	c.send("CHATHISTORY TARGETS timestamp=2026-01-01T00:00:00.000Z timestamp=2027-01-01T00:00:00.000Z 10")
	c.expect(":irc.test FAIL CHATHISTORY MESSAGE_ERROR TARGETS :The XMPP server keeps no message archive")
}

// draft/chathistory is offered once the server is found to keep an
// archive, and withdrawn when a reconnect finds none.
func TestHistoryCapFollowsTheArchive(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.attach("me", "cap-notify")
	c.take()
	c.send("CAP LS 302")
	if got := c.take(); len(got) != 1 || strings.Contains(got[0], capChathistory) {
		t.Fatalf("before XMPP is connected: %q", got)
	}
	h.connect(item("alice@example.org", "Alice"))
	c.expectContains(":irc.test CAP me NEW " + capChathistory)
	c.send("CAP REQ " + capChathistory)
	c.expect(":irc.test CAP me ACK " + capChathistory)
	h.x.noMAM = true
	h.event(xmpp.Disconnected{})
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	c.expectContains(":irc.test CAP me DEL " + capChathistory)
}

// TARGETS lists who the user exchanged messages with in the range, oldest
// latest message first, reading the account's archive backwards.
func TestHistoryTargets(t *testing.T) {
	h, c := online(t, "batch", "server-time")
	h.x.mu.Lock()
	h.x.archive, h.x.pageMax = chatArchive, 2
	h.x.mu.Unlock()
	c.send("CHATHISTORY TARGETS timestamp=" + serverTime(minutes(9)) + " timestamp=" + serverTime(minutes(0)) + " " + strconv.Itoa(10))
	c.expect(
		":irc.test BATCH +H1 draft/chathistory-targets",
		"@batch=H1 :irc.test CHATHISTORY TARGETS bob "+serverTime(minutes(5)),
		"@batch=H1 :irc.test CHATHISTORY TARGETS Alice "+serverTime(minutes(8)),
		":irc.test BATCH -H1",
	)
}

// Each archive page asks for what is still missing, not more.
func TestHistoryAsksForWhatIsMissing(t *testing.T) {
	h, c := online(t)
	h.x.mu.Lock()
	h.x.archive, h.x.pageMax, h.x.archiveQ = chatArchive, 2, nil
	h.x.mu.Unlock()
	c.send("CHATHISTORY LATEST Alice * 3")
	if got := len(c.take()); got != 4 { // s4 takes two lines
		t.Errorf("%d lines, want 4", got)
	}
	h.x.mu.Lock()
	defer h.x.mu.Unlock()
	var asked []int
	for _, q := range h.x.archiveQ {
		asked = append(asked, q.Max)
	}
	// The newest page has an error and s8; the next, s4 and s6.
	if !reflect.DeepEqual(asked, []int{3, 2}) {
		t.Errorf("pages asked of sizes %v, want [3 2]", asked)
	}
}

// AROUND a message with a limit of 1 gives the message itself, although
// its time has more than the milliseconds its time tag shows.
func TestHistoryAroundItself(t *testing.T) {
	h, c := online(t, "server-time", "message-tags")
	at := minutes(1).Add(123456789)
	m := xmpp.Message{StanzaID: "s1", From: "alice@example.org/phone", To: "me@example.org/xircd", Type: "chat", Body: "one", Delay: at}
	h.event(m)
	c.take()
	h.x.mu.Lock()
	h.x.archive = []xmpp.Message{m}
	h.x.mu.Unlock()
	c.send("CHATHISTORY AROUND Alice msgid=s1 1")
	c.expect("@msgid=s1;time=" + serverTime(at) + " :Alice!alice@example.org PRIVMSG me one")
}
