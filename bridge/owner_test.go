package bridge

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"xircd/xmpp"
)

// ownerGoroutines counts the goroutines running the bridge's owner.
func ownerGoroutines() int {
	stacks := make([]byte, 1<<20)
	stacks = stacks[:runtime.Stack(stacks, true)]
	return bytes.Count(stacks, []byte("bridge.(*Bridge).own("))
}

// waitNoOwner waits until no owner runs, or fails the test.
func waitNoOwner(t *testing.T, when string) {
	t.Helper()
	for deadline := time.Now().Add(waitTimeout); ownerGoroutines() > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d owners run %s, want none", ownerGoroutines(), when)
		}
	}
}

// An idle bridge keeps no goroutine: the owner runs while there is an
// event, a request or a timer to handle, and ends once there is none.
func TestIdleBridgeKeepsNoGoroutine(t *testing.T) {
	h, c := online(t)
	waitNoOwner(t, "once the client is attached")

	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "hi"})
	c.expect(":Alice!alice@example.org PRIVMSG me hi")
	waitNoOwner(t, "after an event")

	h.x.takeCalls()
	c.write("PRIVMSG Alice :hello")
	for deadline := time.Now().Add(waitTimeout); len(h.x.takeCalls()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the message never reached the session")
		}
	}
	waitNoOwner(t, "after a request")

	// A timer's work: the contacts settle after a roster.
	h.b.settleAfter = 10 * time.Millisecond
	h.event(xmpp.Disconnected{})
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	h.event(xmpp.Roster{Items: []xmpp.RosterItem{item("alice@example.org", "Alice")}})
	for deadline := time.Now().Add(waitTimeout); ; time.Sleep(5 * time.Millisecond) {
		if strings.Contains(strings.Join(c.take(), "\n"), "QUIT") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the contacts never settled after the roster")
		}
	}
	waitNoOwner(t, "after a timer's work")
}
