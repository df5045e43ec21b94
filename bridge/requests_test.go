package bridge

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"xircd/xmpp"
)

// heldAnswer returns the one answer the fake session holds, after
// delivering the answer to the disco#info every Connected asks.
func heldAnswer[T xmpp.Event](t *testing.T, h *harness) T {
	t.Helper()
	h.barrier()
	var a []xmpp.Event
	for _, ev := range h.x.takeAnswers() {
		if _, ok := ev.(xmpp.DiscoInfo); ok {
			h.event(ev) // what every Connected asks the server
			continue
		}
		a = append(a, ev)
	}
	if len(a) != 1 {
		t.Fatalf("answers held: %+v, want one", a)
	}
	ev, ok := a[0].(T)
	if !ok {
		t.Fatalf("answer held: %+v, want a %T", a[0], ev)
	}
	return ev
}

// loggedHarness is newHarness with the bridge's log kept; noPanic checks
// that the log tells of no panic.
func loggedHarness(t *testing.T, cfg Config) (*harness, *bytes.Buffer) {
	t.Helper()
	logs := &bytes.Buffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	return newHarness(t, cfg), logs
}

func noPanic(t *testing.T, h *harness, logs *bytes.Buffer) {
	t.Helper()
	h.barrier()
	if strings.Contains(logs.String(), "panic") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// The conference service's rooms answer a LIST later; when the client
// that asked has gone by then, the answer is dropped and nobody else gets
// it (the harness fails on anything sent to a client that left).
func TestListAnswerAfterClientLeft(t *testing.T) {
	h, logs := loggedHarness(t, Config{MUCService: "conference.example.org"})
	c := h.attach("me")
	other := h.attach("me")
	h.connect()
	c.take()
	other.take()
	h.x.holdAnswers = true
	c.send("LIST")
	c.take() // the LIST of the control channel
	list := heldAnswer[xmpp.RoomList](t, h)
	c.detach()
	h.event(list)
	other.expect()
	noPanic(t, h, logs)

	// Answered in time, the LIST ends with the service's rooms.
	other.send("LIST #lobby")
	h.event(heldAnswer[xmpp.RoomList](t, h))
	other.expect(":irc.test 321 me Channel :Users  Name", ":irc.test 322 me #lobby 0 :The lobby", ":irc.test 323 me :End of /LIST")
}

// A LIST whose service does not answer in time still ends.
func TestListEndsWhenTheServiceFails(t *testing.T) {
	h := newHarness(t, Config{MUCService: "conference.example.org"})
	c := h.attach("me")
	h.connect()
	c.take()
	h.x.holdAnswers = true
	c.send("LIST #lobby")
	list := heldAnswer[xmpp.RoomList](t, h)
	c.expect(":irc.test 321 me Channel :Users  Name")
	h.event(xmpp.RoomList{ID: list.ID, Service: list.Service, Err: context.DeadlineExceeded})
	c.expect(":irc.test 323 me :End of /LIST")
}

// A room's refusal that arrives after the user left the room is dropped.
func TestModerationAnswerAfterLeaving(t *testing.T) {
	h, logs := loggedHarness(t, Config{MUCService: "conference.example.org"})
	c := h.attach("me")
	h.connect(item("alice@example.org", "Alice"))
	c.send("JOIN #room")
	h.event(occ("alice", "owner", "moderator", "alice@example.org/phone"))
	h.event(occ("me", "none", "participant", "", 110))
	c.take()
	h.x.holdAnswers = true
	c.send("MODE #room -v Alice")
	refusal := heldAnswer[xmpp.RequestDone](t, h)
	if refusal.Err == nil {
		t.Fatalf("fake answered %+v, want a refusal", refusal)
	}
	c.send("PART #room")
	c.take()
	h.event(refusal)
	c.expect()
	noPanic(t, h, logs)
}

// A request that fails without the server's refusal (the stream was lost)
// is not reported as one.
func TestRosterChangeLostWithTheStream(t *testing.T) {
	h, logs := loggedHarness(t, Config{})
	c := h.attach("me")
	h.connect()
	c.take()
	h.event(xmpp.RequestDone{ID: "r9", Op: "roster-set", Err: xmpp.ErrNotConnected})
	c.expect()
	noPanic(t, h, logs)
}

// The archive catch-up stops after archivePages pages, and says so.
func TestArchiveCatchUpPageLimit(t *testing.T) {
	h, c := online(t)
	h.x.mu.Lock()
	for i := range archivePages*100 + 1 {
		h.x.archive = append(h.x.archive, xmpp.Message{StanzaID: fmt.Sprintf("s%d", i), From: "alice@example.org/phone", Type: "chat", Body: "missed", Delay: fixedNow})
	}
	h.x.mu.Unlock()
	h.event(xmpp.Disconnected{})
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	c.waitFor(":xircd!xircd@irc.test NOTICE &xmpp :Only the first 2000 archived messages since the disconnection were fetched.")
	h.x.mu.Lock()
	n := len(h.x.archiveQ)
	h.x.mu.Unlock()
	if n != archivePages {
		t.Errorf("%d pages asked for, want %d", n, archivePages)
	}
}

// A catch-up page that fails (here: the catch-up's time ran out) ends the
// catch-up with what was fetched, and says why.
func TestArchiveCatchUpFails(t *testing.T) {
	h, c := online(t)
	h.x.mu.Lock()
	h.x.archive = []xmpp.Message{
		{StanzaID: "s1", From: "alice@example.org/phone", Type: "chat", Body: "one", Delay: fixedNow},
		{StanzaID: "s2", From: "alice@example.org/phone", Type: "chat", Body: "two", Delay: fixedNow},
	}
	h.x.mu.Unlock()
	h.event(xmpp.Disconnected{})
	h.x.holdAnswers = true
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	c.take()
	first := heldAnswer[xmpp.ArchivePage](t, h)
	first.Messages, first.Complete, first.Last = first.Messages[:1], false, "s1"
	h.event(first)
	second := heldAnswer[xmpp.ArchivePage](t, h)
	h.event(xmpp.ArchivePage{ID: second.ID, Err: context.DeadlineExceeded})
	c.expect(
		":Alice!alice@example.org PRIVMSG me :"+timestampPrefix(fixedNow)+"one",
		":xircd!xircd@irc.test NOTICE &xmpp :Could not fetch the messages archived while XMPP was disconnected: context deadline exceeded.",
		":xircd!xircd@irc.test NOTICE &xmpp :Fetched 1 message(s) from the server's archive that arrived while XMPP was disconnected.",
	)
}
