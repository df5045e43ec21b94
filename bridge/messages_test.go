package bridge

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"xircd/xmpp"
)

// online returns a harness with alice online and one attached client.
func online(t *testing.T, caps ...string) (*harness, *ircClient) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	c := h.attach("me", caps...)
	c.take()
	return h, c
}

func TestIncomingChat(t *testing.T) {
	h, c := online(t)
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "hello\r\nsecond line\n\n/me not an action here\x00\nQUIT :bye\r\n:evil!x@y PRIVMSG #a :b"})
	c.expect(
		":Alice!alice@example.org PRIVMSG me hello",
		":Alice!alice@example.org PRIVMSG me :second line",
		":Alice!alice@example.org PRIVMSG me :/me not an action here",
		":Alice!alice@example.org PRIVMSG me :QUIT :bye",
		":Alice!alice@example.org PRIVMSG me ::evil!x@y PRIVMSG #a :b",
	)
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "/me waves"})
	c.expect(":Alice!alice@example.org PRIVMSG me :\x01ACTION waves\x01")

	// Replies go to the resource last heard from, without a chat state:
	// Alice's client sent none (XEP-0085).
	c.send("PRIVMSG alice :\x01ACTION waves back\x01")
	h.expectCalls(`message id=id1 to=alice@example.org/phone type=chat state= body="/me waves back"`)
	c.expect()
}

func TestLongBodyIsSplit(t *testing.T) {
	h, c := online(t)
	body := strings.Repeat("ünïcödé ", 400) // 4800 bytes
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: body})
	lines := c.take()
	if len(lines) < 8 {
		t.Fatalf("4800 bytes became %d lines", len(lines))
	}
	var joined []string
	for _, l := range lines {
		if len(l)+2 > 512 {
			t.Errorf("line of %d bytes: %q", len(l), l)
		}
		const p = ":Alice!alice@example.org PRIVMSG me :"
		if !strings.HasPrefix(l, p) {
			t.Fatalf("unexpected line %q", l)
		}
		joined = append(joined, strings.TrimPrefix(l, p))
	}
	// The pieces add up to the text: a cut after a space keeps the space.
	if got, want := strings.Join(joined, ""), body; got != want {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Errorf("text changed by splitting at byte %d: %q", i, got[max(0, i-20):min(len(got), i+20)])
	}
}

func TestDelayedMessages(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	tagged := h.attach("me", "server-time")
	plain := h.attach("me")
	tagged.take()
	plain.take()
	// 18:30 UTC, as a server in Kolkata (UTC+5:30) would stamp it.
	stamp := time.Date(2025, 12, 25, 0, 0, 0, 0, time.FixedZone("UTC+5:30", 5*60*60+30*60))
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "sent while you were away", Delay: stamp})
	tagged.expect("@time=2025-12-24T18:30:00.000Z :Alice!alice@example.org PRIVMSG me :sent while you were away")
	plain.expect(":Alice!alice@example.org PRIVMSG me :[2025-12-24 18:30:00] sent while you were away")
}

func TestEchoAndOtherClients(t *testing.T) {
	h, a := online(t, "echo-message")
	b := h.attach("other") // moved to the shared nick
	b.expectContains(":other!user@localhost NICK me")
	if b.Nick() != "me" {
		t.Fatalf("second client's nick is %q, want me", b.Nick())
	}
	a.send("PRIVMSG Alice :hi there")
	a.expect(":me!user@localhost PRIVMSG Alice :hi there")
	b.expect(":me!user@localhost PRIVMSG Alice :hi there")
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="hi there"`)

	b.send("NOTICE Alice :a notice")
	a.expect(":me!user@localhost NOTICE Alice :a notice")
	b.expect()
	h.expectCalls(`message id=id2 to=alice@example.org type=chat state=active body="a notice"`)
}

func TestMessagesToSelf(t *testing.T) {
	h, c := online(t, "echo-message", "message-tags", "labeled-response")
	plain := h.attach("me")
	plain.take()
	h.x.takeCalls()

	// The message comes back to the sender as a delivery, not as a reply
	// (so it stays outside a labeled-response batch); the echo-message
	// copy is the reply. Other clients see it once.
	// Echo and delivery are one message: one msgid.
	for i, cmd := range []string{"PRIVMSG", "NOTICE"} {
		c.send("@label=l" + strconv.Itoa(i) + ";+draft/react=x " + cmd + " ME :note to self")
		msgid := "m" + strconv.Itoa(i+1)
		c.expect(
			"@+draft/react=x;msgid="+msgid+" :me!user@localhost "+cmd+" me :note to self",
			"@+draft/react=x;label=l"+strconv.Itoa(i)+";msgid="+msgid+" :me!user@localhost "+cmd+" me :note to self",
		)
		plain.expect(":me!user@localhost " + cmd + " me :note to self")
	}
	c.send("@label=t;+draft/react=y TAGMSG me")
	c.expect(
		"@+draft/react=y;msgid=m3 :me!user@localhost TAGMSG me",
		"@+draft/react=y;label=t;msgid=m3 :me!user@localhost TAGMSG me",
	)
	plain.take()

	// Without echo-message there is only the delivery.
	plain.send("PRIVMSG me :plain")
	plain.expect(":me!user@localhost PRIVMSG me plain")
	c.expect("@msgid=m4 :me!user@localhost PRIVMSG me plain")
	h.expectCalls()
}

func TestCarbons(t *testing.T) {
	h, c := online(t)
	h.event(xmpp.Message{From: "me@example.org/laptop", To: "alice@example.org/phone", Type: "chat", Body: "from my laptop", Carbon: xmpp.CarbonSent})
	c.expect(":me!user@localhost PRIVMSG Alice :from my laptop")
	h.event(xmpp.Message{From: "alice@example.org/phone", To: "me@example.org/laptop", Type: "chat", Body: "to my laptop", Carbon: xmpp.CarbonReceived})
	c.expect(":Alice!alice@example.org PRIVMSG me :to my laptop")
}

func TestErrorReplyBecomesNotice(t *testing.T) {
	h, c := online(t)
	c.send("PRIVMSG Alice :are you there?")
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="are you there?"`)
	h.event(xmpp.Message{ID: "id1", From: "alice@example.org", Type: "error", Error: &xmpp.StanzaError{Type: "cancel", Condition: "service-unavailable"}})
	c.expect(`:Alice!alice@example.org NOTICE me :[xircd] your message "are you there?" was not delivered: service-unavailable`)
}

func TestQueueWhileDisconnected(t *testing.T) {
	h, c := online(t)
	h.x.setConnected(false)
	h.event(xmpp.Disconnected{Err: errors.New("connection reset\r\nby peer"), RetryIn: 2 * time.Second})
	c.expect(":xircd!xircd@irc.test NOTICE &xmpp :Disconnected from XMPP: connection reset  by peer; reconnecting in 2s. Messages you send from now on are queued (up to 100) and sent once it is back.")
	h.event(xmpp.Disconnected{Err: errors.New("connection refused"), RetryIn: 4 * time.Second})
	c.expect() // told once
	c.send("PRIVMSG &xmpp :status")
	c.expectContains(":xircd!xircd@irc.test PRIVMSG &xmpp :XMPP: not connected (me@example.org); last attempt: connection refused.")
	c.send("PRIVMSG Alice :later")
	c.expect(`:Alice!alice@example.org NOTICE me :[xircd] XMPP is not connected; message queued (1 waiting), it will be sent on reconnect: "later"`)
	h.expectCalls()

	h.x.setConnected(true)
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="later"`)
	c.expect(
		":xircd!xircd@irc.test NOTICE &xmpp :Connected to XMPP as me@example.org/xircd.",
		`:Alice!alice@example.org NOTICE me :[xircd] queued message sent: "later"`,
	)
}

func TestSendErrorIsShown(t *testing.T) {
	h, c := online(t)
	h.x.failWith = errors.New("stanza too large")
	c.send("PRIVMSG Alice :huge")
	c.expect(`:Alice!alice@example.org NOTICE me :[xircd] message NOT sent (stanza too large): "huge"`)
	h.expectCalls()
}

// A stream that drops between the Disconnected event and the request is
// caught by the session's error: the message is queued.
func TestSendRacingDisconnectIsQueued(t *testing.T) {
	h, c := online(t)
	h.x.setConnected(false)
	c.send("PRIVMSG Alice :racing")
	c.expect(`:Alice!alice@example.org NOTICE me :[xircd] XMPP is not connected; message queued (1 waiting), it will be sent on reconnect: "racing"`)
}

func TestQueueIsBounded(t *testing.T) {
	h, c := online(t)
	h.x.setConnected(false)
	h.event(xmpp.Disconnected{})
	c.take()
	for i := 0; i < maxPending; i++ {
		c.send("PRIVMSG Alice :m")
	}
	c.take()
	c.send("PRIVMSG Alice :one too many")
	c.expect(`:Alice!alice@example.org NOTICE me :[xircd] XMPP is not connected and the queue is full; NOT sent: "one too many"`)
}

func TestUnknownSenderCanBeAnswered(t *testing.T) {
	h, c := online(t)
	h.event(xmpp.Message{From: "stranger@elsewhere.net/x", Type: "chat", Body: "hi, remember me?"})
	c.expect(":stranger!stranger@elsewhere.net PRIVMSG me :hi, remember me?")
	c.send("PRIVMSG stranger :who are you?")
	h.expectCalls(`message id=id1 to=stranger@elsewhere.net/x type=chat state= body="who are you?"`)
	if h.b.contactByNick("stranger") == nil {
		t.Error("a stranger does not hold its temporary nick")
	}
	c.send("WHOIS stranger")
	c.expectContains(`:irc.test 320 me stranger :not in your roster (use "add stranger@elsewhere.net" to add)`)

	// Writing to a JID directly works as well.
	c.send("PRIVMSG new@example.com :hello")
	h.expectCalls(`message id=id2 to=new@example.com type=chat state=active body="hello"`)
}

func TestTyping(t *testing.T) {
	h, c := online(t, "message-tags")
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", ChatState: "composing"})
	c.expect("@+typing=active;msgid=m1 :Alice!alice@example.org TAGMSG me")
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", ChatState: "paused"})
	c.expect("@+typing=paused;msgid=m2 :Alice!alice@example.org TAGMSG me")

	c.send("@+typing=active TAGMSG Alice")
	c.send("@+typing=done TAGMSG Alice")
	h.expectCalls(
		`message id=id1 to=alice@example.org type=chat state=composing body=""`,
		`message id=id2 to=alice@example.org type=chat state=active body=""`,
	)
}

// XEP-0085: the first message carries <active/>; a live reply without a
// chat state stops them (typing included), one with a chat state resumes
// them. Offline deliveries, archived copies and headlines say nothing
// about the contact's current client.
func TestChatStatesFollowTheContact(t *testing.T) {
	h, c := online(t, "message-tags")
	c.send("PRIVMSG Alice :first")
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="first"`)

	h.event(xmpp.Message{From: "alice@example.org/old", Type: "chat", Body: "plain reply"})
	c.expect("@msgid=m1 :Alice!alice@example.org PRIVMSG me :plain reply")
	c.send("PRIVMSG Alice :second")
	c.send("@+typing=active TAGMSG Alice")
	h.expectCalls(`message id=id2 to=alice@example.org/old type=chat state= body="second"`)

	h.event(xmpp.Message{From: "alice@example.org/old", Type: "headline", Body: "news", ChatState: "active"})
	c.expect("@msgid=m2 :Alice!alice@example.org NOTICE me news")
	h.event(xmpp.Message{From: "alice@example.org/old", Type: "chat", Body: "stored", Delay: fixedNow.Add(-time.Hour), ChatState: "active"})
	c.expect("@msgid=m3 :Alice!alice@example.org PRIVMSG me :[2026-03-04 04:06:07] stored")
	c.send("PRIVMSG Alice :third")
	h.expectCalls(`message id=id3 to=alice@example.org/old type=chat state= body="third"`)

	h.event(xmpp.Message{From: "alice@example.org/new", Type: "chat", Body: "new client", ChatState: "active"})
	c.expect("@msgid=m4 :Alice!alice@example.org PRIVMSG me :new client")
	c.send("PRIVMSG Alice :fourth")
	c.send("@+typing=active TAGMSG Alice")
	h.expectCalls(
		`message id=id4 to=alice@example.org/new type=chat state=active body="fourth"`,
		`message id=id5 to=alice@example.org/new type=chat state=composing body=""`,
	)
}

func TestCTCPAnsweredLocally(t *testing.T) {
	h, c := online(t)
	c.send("PRIVMSG Alice :\x01PING 12345\x01")
	c.expect(":Alice!alice@example.org NOTICE me :\x01PING 12345\x01")
	c.send("PRIVMSG Alice :\x01VERSION\x01")
	c.expect(":Alice!alice@example.org NOTICE me :\x01VERSION xircd XMPP gateway\x01")
	c.send("PRIVMSG Alice :\x01CLIENTINFO\x01")
	c.expect(":Alice!alice@example.org NOTICE me :\x01CLIENTINFO ACTION CLIENTINFO PING TIME VERSION\x01")
	h.expectCalls()
}

func TestBacklogWhileDetached(t *testing.T) {
	h := newHarness(t, Config{Backlog: 2})
	h.connect(item("alice@example.org", "Alice"))
	first := h.attach("me")
	first.detach()
	for _, body := range []string{"one", "two", "three"} {
		h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: body})
	}
	c := h.attach("me", "server-time")
	got := c.take()
	want := []string{
		"@time=2026-03-04T05:06:07.000Z :xircd!xircd@irc.test NOTICE me :1 older message from Alice was dropped while no IRC client was attached (the backlog keeps 2 messages, 2 MiB).",
		"@time=2026-03-04T05:06:07.000Z :Alice!alice@example.org PRIVMSG me two",
		"@time=2026-03-04T05:06:07.000Z :Alice!alice@example.org PRIVMSG me three",
	}
	if tail := got[len(got)-3:]; strings.Join(tail, "\n") != strings.Join(want, "\n") {
		t.Fatalf("backlog replay:\n%s", strings.Join(got, "\n"))
	}
	// Delivered once.
	c.detach()
	d := h.attach("me")
	for _, l := range d.take() {
		if strings.Contains(l, "PRIVMSG me") {
			t.Errorf("backlog delivered twice: %q", l)
		}
	}
}

func TestAwaySetsPresence(t *testing.T) {
	h, c := online(t)
	c.send("AWAY :dnd: in a meeting")
	c.expect(":irc.test 306 me :You have been marked as being away")
	c.send("AWAY :lunch")
	c.send("AWAY :xa:gone")
	c.send("AWAY")
	c.take()
	h.expectCalls(
		`presence show="dnd" status="in a meeting"`,
		`presence show="away" status="lunch"`,
		`presence show="xa" status="gone"`,
		`presence show="" status=""`,
	)
}

func TestReconnectResync(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"), item("bob@example.org", "Bob"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	h.event(avail("bob@example.org/pc", "", "", 0))
	c := h.attach("me")
	c.take()
	c.send("AWAY :brb")
	c.take()
	h.x.takeCalls()

	h.event(xmpp.Disconnected{})
	h.b.settleAfter = time.Hour // settle only when the test says so
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	h.event(xmpp.Roster{Items: []xmpp.RosterItem{item("alice@example.org", "Alice"), item("dave@example.org", "Dave")}})
	h.expectCalls() // the session restores the presence itself
	c.expect(
		":xircd!xircd@irc.test NOTICE &xmpp :Disconnected from XMPP. Messages you send from now on are queued (up to 100) and sent once it is back.",
		":xircd!xircd@irc.test NOTICE &xmpp :Connected to XMPP as me@example.org/xircd.",
		":Bob!bob@example.org QUIT :removed from the roster",
	)
	// Alice is still there: her presence coming back changes nothing.
	h.event(avail("alice@example.org/phone", "", "", 0))
	h.event(avail("dave@example.org/x", "", "", 0))
	c.expect(":Dave!dave@example.org JOIN &xmpp", ":xircd!xircd@irc.test MODE &xmpp +v Dave")
}

func TestReconnectSettlesOfflineContacts(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	c := h.attach("me")
	c.take()
	h.event(xmpp.Disconnected{})
	h.b.settleAfter = 10 * time.Millisecond
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	h.event(xmpp.Roster{Items: []xmpp.RosterItem{item("alice@example.org", "Alice")}})
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := strings.Join(c.take(), "\n")
		if strings.Contains(got, ":Alice!alice@example.org QUIT offline") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("offline contact never left after the reconnect")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHostileXMPPInput(t *testing.T) {
	h, c := online(t, "away-notify")
	h.event(avail("alice@example.org/phone", "away", "line one\r\nQUIT :x\x00", 0))
	c.expect(":xircd!xircd@irc.test MODE &xmpp -v Alice", ":Alice!alice@example.org AWAY :away: line one  QUIT :x")
	h.event(xmpp.Presence{From: "alice@example.org/phone", Type: "unavailable", Status: "bye\nJOIN #x"})
	c.expect(":Alice!alice@example.org QUIT :bye JOIN #x")

	h.event(xmpp.Message{From: "evil user@example.org/x", Type: "chat", Body: "hi"})
	h.event(xmpp.Message{From: "", Type: "chat", Body: "hi"})
	c.expect()

	for i := 0; i < maxTemp+50; i++ {
		h.event(xmpp.Message{From: "s" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + "@spam" + strings.Repeat("z", i/26) + ".example/r", Type: "chat", Body: "spam"})
	}
	c.take()
	temps := 0
	h.barrier()
	for _, ct := range h.b.contacts.all() {
		if !ct.inRoster {
			temps++
		}
	}
	if temps > maxTemp {
		t.Errorf("%d strangers kept, limit %d", temps, maxTemp)
	}
}

func TestOfflineMessagesKeepTheirTime(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect(item("alice@example.org", "Alice"))
	// 2026-01-02 03:04:05 UTC, the evening before in New York.
	stamp := time.Date(2026, 1, 1, 22, 4, 5, 0, time.FixedZone("UTC-5", -5*60*60))
	// Handed over at login, before any client attached.
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "/me left a note", Delay: stamp})
	h.event(xmpp.Subscription{From: "carol@example.org", Type: "subscribe"})
	c := h.attach("me")
	got := c.take()
	want := []string{
		":Alice!alice@example.org PRIVMSG me :\x01ACTION [2026-01-02 03:04:05] left a note\x01",
		":xircd!xircd@irc.test NOTICE &xmpp :[2026-03-04 05:06:07] " + `carol@example.org asks to see your presence. Type "accept carol@example.org" to allow it or "deny carol@example.org" to refuse.`,
	}
	if tail := got[len(got)-2:]; strings.Join(tail, "\n") != strings.Join(want, "\n") {
		t.Fatalf("replay:\n%s\nwant tail:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAnnouncementsReachClientsOutsideTheChannel(t *testing.T) {
	h, c := online(t)
	c.send("PART &xmpp")
	c.take()
	h.event(xmpp.Subscription{From: "carol@example.org", Type: "unsubscribed"})
	c.expect(":xircd!xircd@irc.test NOTICE me :carol@example.org denied or cancelled your presence subscription.")
}

func TestWhoMask(t *testing.T) {
	h, c := online(t)
	h.event(xmpp.Message{From: "stranger@elsewhere.net/x", Type: "chat", Body: "hi"})
	c.take()
	c.send("WHO a*")
	c.expect(
		":irc.test 352 me &xmpp alice example.org irc.test Alice H+ :0 Alice",
		":irc.test 315 me a* :End of /WHO list",
	)
	c.send("WHO stranger")
	c.expect(
		":irc.test 352 me * stranger elsewhere.net irc.test stranger H :0 stranger@elsewhere.net",
		":irc.test 315 me stranger :End of /WHO list",
	)
}

// What is remembered of a sent message to match an error reply takes no
// copies of its own: its id and body are those of the message's record,
// not the IRC line the body was part of.
func TestSentSharesRecord(t *testing.T) {
	h, c := online(t)
	c.send("PRIVMSG Alice :hello there")
	h.barrier()
	id := h.b.sent.order.at(0)
	sm, _ := h.b.sent.get(id)
	k := h.b.msgs.get(id)
	if k == nil || sm.body != "hello there" || unsafe.StringData(sm.body) != unsafe.StringData(k.text()) || unsafe.StringData(id) != unsafe.StringData(k.msgid()) {
		t.Errorf("sent %q (%q) is not the record's %v", id, sm.body, k)
	}
}

func TestSentIDsAreBounded(t *testing.T) {
	h, c := online(t)
	for i := 0; i < maxSentIDs+10; i++ {
		c.send("PRIVMSG Alice :x")
	}
	h.barrier()
	if h.b.sent.len() != maxSentIDs || h.b.sent.order.n != maxSentIDs {
		t.Errorf("%d sent ids remembered, limit %d", h.b.sent.len(), maxSentIDs)
	}
	// The oldest is forgotten: an error for it is still shown, without the text.
	h.x.takeCalls()
	h.event(xmpp.Message{ID: "id1", From: "alice@example.org", Type: "error", Error: &xmpp.StanzaError{Condition: "item-not-found"}})
	got := c.take()
	if last := got[len(got)-1]; last != ":Alice!alice@example.org NOTICE me :[xircd] a message was not delivered: item-not-found" {
		t.Errorf("got %q", last)
	}
}

func TestFlushFailureIsReported(t *testing.T) {
	h, c := online(t)
	h.x.setConnected(false)
	h.event(xmpp.Disconnected{})
	c.send("PRIVMSG Alice :one")
	c.send("PRIVMSG Alice :two")
	c.take()
	h.x.setConnected(true)
	h.x.failWith = errors.New("policy-violation")
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	c.expectContains(
		`:Alice!alice@example.org NOTICE me :[xircd] queued message NOT sent (policy-violation): "one"`,
		`:Alice!alice@example.org NOTICE me :[xircd] queued message NOT sent (policy-violation): "two"`,
	)
}

// waitFor takes lines until one equals want, failing after a generous time.
func (c *ircClient) waitFor(want string) []string {
	c.t.Helper()
	var all []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		all = append(all, c.take()...)
		for _, l := range all {
			if l == want {
				return all
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.t.Fatalf("never got %q; got:\n\t%s", want, strings.Join(all, "\n\t"))
	return nil
}

func TestArchiveCatchUpAfterReconnect(t *testing.T) {
	h, c := online(t, "server-time")
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "live", StanzaID: "s1"})
	c.send("PRIVMSG Alice :sent by xircd")
	c.take()
	h.x.takeCalls()

	missed := time.Date(2026, 3, 4, 5, 0, 0, 0, time.UTC)
	h.x.mu.Lock()
	h.x.archive = []xmpp.Message{
		{StanzaID: "s1", From: "alice@example.org/phone", To: "me@example.org/xircd", Type: "chat", Body: "live", Delay: missed},
		{StanzaID: "s2", ID: "id1", OriginID: "id1", From: "me@example.org/xircd", To: "alice@example.org", Type: "chat", Body: "sent by xircd", Delay: missed},
		{StanzaID: "s3", From: "alice@example.org/phone", To: "me@example.org/xircd", Type: "chat", Body: "into the void", Delay: missed},
		{StanzaID: "s4", From: "me@example.org/laptop", To: "alice@example.org", Type: "chat", Body: "from my laptop", Delay: missed},
		{StanzaID: "s5", From: "alice@example.org/phone", Type: "chat", ChatState: "composing", Delay: missed},
	}
	h.x.mu.Unlock()

	h.event(xmpp.Disconnected{})
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	got := c.waitFor("@time=2026-03-04T05:06:07.000Z :xircd!xircd@irc.test NOTICE &xmpp :Fetched 2 message(s) from the server's archive that arrived while XMPP was disconnected.")
	want := []string{
		"@time=2026-03-04T05:00:00.000Z :Alice!alice@example.org PRIVMSG me :into the void",
		"@time=2026-03-04T05:00:00.000Z :me!user@localhost PRIVMSG Alice :from my laptop",
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("missing %q in:\n\t%s", w, strings.Join(got, "\n\t"))
		}
	}
	if n := strings.Count(strings.Join(got, "\n"), "PRIVMSG"); n != 2 {
		t.Errorf("%d messages replayed, want 2:\n\t%s", n, strings.Join(got, "\n\t"))
	}
	h.x.mu.Lock()
	q := h.x.archiveQ
	h.x.mu.Unlock()
	if len(q) != 1 || !q[0].Start.Equal(fixedNow.Add(-archiveOverlap)) {
		t.Errorf("archive queries %+v, want one starting %v", q, fixedNow.Add(-archiveOverlap))
	}

	// The server's offline copy of the same message is not shown again.
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "into the void", StanzaID: "s3", Delay: missed})
	c.expect()
}

func TestMessageBeforeRosterGetsRosterNick(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.attach("me")
	c.take()
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "offline note", Delay: fixedNow})
	h.event(xmpp.Roster{Items: []xmpp.RosterItem{item("alice@example.org", "Alice W")}})
	c.expect(
		":xircd!xircd@irc.test NOTICE &xmpp :Connected to XMPP as me@example.org/xircd.",
		":alice!alice@example.org PRIVMSG me :[2026-03-04 05:06:07] offline note",
		":alice!alice@example.org NICK Alice_W",
	)
}
