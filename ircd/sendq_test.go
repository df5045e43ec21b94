package ircd

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

// A roster-sized burst from the backend (many short lines, faster than the
// client reads) reaches a client that keeps reading, complete and in order.
func TestBurstFromBackendIsDelivered(t *testing.T) {
	const lines = 20000
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	s := b.waitAttach(t)

	go func() {
		for i := range lines / 2 {
			nick := fmt.Sprintf("c%d", i)
			s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: nick, User: nick, Host: "x"}, Command: "JOIN", Params: []string{"&xmpp"}})
			s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "xircd"}, Command: "MODE", Params: []string{"&xmpp", "+v", nick}})
		}
	}()
	for i := range lines / 2 {
		nick := fmt.Sprintf("c%d", i)
		if m := c.next(); m.Command != "JOIN" || m.Prefix.Name != nick {
			t.Fatalf("line %d: got %q, want JOIN from %s", 2*i, m, nick)
		}
		if m := c.next(); m.Command != "MODE" || m.Trailing() != nick {
			t.Fatalf("line %d: got %q, want MODE +v %s", 2*i+1, m, nick)
		}
	}
	c.roundtrip()
	select {
	case r := <-b.detached:
		t.Fatalf("client detached: %q", r)
	default:
	}
}

func TestSendQueueBudget(t *testing.T) {
	q := sendQueue{wake: make(chan struct{}, 1)}
	msg := []string{"PRIVMSG me :one", "PRIVMSG me :two"}
	n := queuedSize(msg)
	if n != 2*(len("PRIVMSG me :one")+2) {
		t.Fatalf("queuedSize = %d", n)
	}
	// Budget for three such messages.
	budget := 3 * n
	for i := range 3 {
		if !q.push(msg, n, budget) {
			t.Fatalf("push %d rejected within budget", i)
		}
	}
	if q.push([]string{"X"}, 3, budget) {
		t.Error("push beyond the budget accepted")
	}
	if q.size() != budget {
		t.Errorf("size %d, want %d", q.size(), budget)
	}
	got := string(q.take(nil, 1<<20))
	if want := strings.Repeat("PRIVMSG me :one\r\nPRIVMSG me :two\r\n", 3); got != want {
		t.Errorf("took %q, want %q", got, want)
	}
	if q.size() != 0 {
		t.Errorf("size %d after draining", q.size())
	}
	// An empty queue takes one message even when it exceeds the budget.
	big := []string{strings.Repeat("a", 100)}
	if !q.push(big, queuedSize(big), 10) {
		t.Error("empty queue rejected a message larger than the budget")
	}
}

func TestSendQueueOrderAndRelease(t *testing.T) {
	q := sendQueue{wake: make(chan struct{}, 1)}
	var want, got []string
	next := 0
	// Interleave pushes and partial takes so the queue both compacts and
	// grows, then drain it.
	for round := range 50 {
		for range 200 {
			l := fmt.Sprintf("L%d", next)
			next++
			want = append(want, l)
			if !q.push([]string{l}, queuedSize([]string{l}), 1<<20) {
				t.Fatal("push rejected")
			}
		}
		got = append(got, splitCRLF(q.take(nil, 100*(round%5)))...)
	}
	for {
		b := q.take(nil, 64)
		if len(b) == 0 {
			break
		}
		got = append(got, splitCRLF(b)...)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("lines out of order or lost: got %d lines, want %d", len(got), len(want))
	}
	if cap(q.lines) > keepQueueCap {
		t.Errorf("drained queue keeps a backing array of %d lines", cap(q.lines))
	}
	select {
	case <-q.wake:
	default:
		t.Error("push did not wake the writer")
	}
}

func splitCRLF(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\r\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\r\n")
}
