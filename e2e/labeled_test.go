package e2e

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

// A labeled JOIN of a room is answered with one labeled batch holding the
// JOIN and the NAMES, although the room answers later; a labeled message
// to one's own nick comes back twice (the delivery and the echo), the
// label on the echo only.
func TestLabeledJoinAndMessageToSelf(t *testing.T) {
	e := newEnv(t)
	e.start()
	waitFor(t, func() bool {
		b, _ := os.ReadFile(e.logFile)
		return strings.Contains(string(b), `msg="xmpp connected"`)
	})
	c := e.client("me", "batch", "labeled-response", "echo-message", "message-tags")
	c.roundtrip()

	c.send("@label=j1 JOIN #labeled")
	start := c.expect(func(m *irc.Message) bool { return m.Command == "BATCH" })
	if start.Tags["label"] != "j1" || len(start.Params) != 2 || start.Params[1] != "labeled-response" || !strings.HasPrefix(start.Params[0], "+") {
		t.Fatalf("JOIN answered with %q, want a labeled-response batch labeled j1", start)
	}
	id := strings.TrimPrefix(start.Params[0], "+")
	next := func(*irc.Message) bool { return true }
	var inside []string
	for {
		m := c.expect(next)
		if m.Command == "BATCH" {
			if m.Param(0) != "-"+id {
				t.Fatalf("batch %s ended by %q", id, m)
			}
			break
		}
		if m.Tags["batch"] != id {
			t.Fatalf("%q arrived outside batch %s", m, id)
		}
		inside = append(inside, m.Command)
	}
	if got := strings.Join(inside, " "); got != "JOIN 353 366" {
		t.Errorf("the JOIN batch holds %s, want JOIN 353 366", got)
	}

	c.send("@label=p1 PRIVMSG me :note to self")
	labeled := 0
	for range 2 {
		m := c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" })
		if m.Param(0) != "me" || m.Trailing() != "note to self" {
			t.Fatalf("got %q, want the message to self", m)
		}
		if m.Tags["label"] == "p1" {
			labeled++
		}
	}
	if labeled != 1 {
		t.Errorf("%d of the two copies of the message to self carry the label, want 1", labeled)
	}
}
