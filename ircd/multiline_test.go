package ircd

import (
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

// multilineClient registers a client with batch, draft/multiline and
// labeled-response (the fake backend allows 40 bytes and 3 lines).
func multilineClient(t *testing.T) (*client, *fakeSession) {
	t.Helper()
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.send("CAP REQ :batch draft/multiline labeled-response echo-message", "CAP END")
	c.expect("CAP", "*", "ACK")
	c.register("me")
	return c, b.waitAttach(t)
}

func TestMultilineBatchReachesTheBackendAsOneMessage(t *testing.T) {
	c, s := multilineClient(t)
	c.send("@label=L1;+draft/reply=x BATCH +b1 draft/multiline bob",
		"@batch=b1 PRIVMSG bob :hello",
		"@batch=b1;draft/multiline-concat PRIVMSG bob : world",
		"@batch=b1 PRIVMSG bob :second line",
		"BATCH -b1")
	m := s.waitHandled(t)
	if m.Command != "PRIVMSG" || m.Params[0] != "bob" || m.Params[1] != "hello world\nsecond line" {
		t.Fatalf("backend got %q", m)
	}
	if m.Tags["+draft/reply"] != "x" {
		t.Errorf("client tags of the opening BATCH lost: %q", m)
	}
	// The echo answers the opening BATCH's label.
	if e := c.expect("PRIVMSG", "bob"); e.Tags["label"] != "L1" {
		t.Errorf("echo without the batch's label: %q", e)
	}
}

func TestMultilineBatchErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		fail  []string
	}{
		{"too many lines", []string{"PRIVMSG bob :1", "PRIVMSG bob :2", "PRIVMSG bob :3", "PRIVMSG bob :4"}, []string{"MULTILINE_MAX_LINES", "3"}},
		{"too many bytes", []string{"PRIVMSG bob :" + strings.Repeat("x", 30), "PRIVMSG bob :" + strings.Repeat("y", 10)}, []string{"MULTILINE_MAX_BYTES", "40"}},
		{"other target", []string{"PRIVMSG bob :1", "PRIVMSG carol :2"}, []string{"MULTILINE_INVALID_TARGET", "bob", "carol"}},
		{"mixed commands", []string{"PRIVMSG bob :1", "NOTICE bob :2"}, []string{"MULTILINE_INVALID"}},
		{"other command", []string{"TOPIC bob :1"}, []string{"MULTILINE_INVALID"}},
		{"blank concat", []string{"PRIVMSG bob :1", "@draft/multiline-concat PRIVMSG bob :"}, []string{"MULTILINE_INVALID"}},
		{"only blank", []string{"PRIVMSG bob :", "PRIVMSG bob : "}, []string{"MULTILINE_INVALID"}},
		{"empty", nil, []string{"MULTILINE_INVALID"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, s := multilineClient(t)
			c.send("@label=L2 BATCH +b draft/multiline bob")
			for _, l := range tc.lines {
				if strings.HasPrefix(l, "@") {
					c.send("@batch=b;" + l[1:])
				} else {
					c.send("@batch=b " + l)
				}
			}
			c.send("BATCH -b")
			m := c.expect("FAIL", append([]string{"BATCH"}, tc.fail...)...)
			if m.Tags["label"] != "L2" {
				t.Errorf("FAIL without the batch's label: %q", m)
			}
			select {
			case got := <-s.handled:
				t.Errorf("backend got %q from a broken batch", got)
			default:
			}
		})
	}
}

func TestMultilineBatchNeedsTheCap(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	c.send("BATCH +b draft/multiline bob", "@batch=b PRIVMSG bob :1")
	c.expect("FAIL", "BATCH", "MULTILINE_INVALID")
	c.expect("FAIL", "BATCH", "MULTILINE_INVALID")
	c.send("CAP REQ labeled-response", "@label=x BATCH +c example/other bob")
	c.expect("CAP", "me", "ACK")
	if m := c.expect("FAIL", "BATCH", "INVALID_TYPE", "example/other"); m.Tags["label"] != "x" {
		t.Errorf("a refused batch's FAIL without its label: %q", m)
	}
}

func TestMultilineOpenerIsAnsweredAtTheEnd(t *testing.T) {
	c, s := multilineClient(t)
	// No ACK for the opening line: the label answers the whole batch.
	c.send("@label=o BATCH +b draft/multiline bob", "PING x")
	c.expect("PONG")
	c.send("@batch=b PRIVMSG bob :one", "BATCH -b")
	if m := s.waitHandled(t); m.Params[1] != "one" {
		t.Fatalf("backend got %q", m)
	}
}

func TestMultilineConcatTagNeedsTheCap(t *testing.T) {
	keep := keepTagFor(func(c string) bool { return c == "message-tags" })
	if keep("draft/multiline-concat") {
		t.Error("draft/multiline-concat kept for a client without draft/multiline")
	}
	m := &irc.Message{Tags: irc.Tags{"draft/multiline-concat": ""}, Command: "PRIVMSG", Params: []string{"a", "b"}}
	if got := FormatLines(m, keepTagFor(func(c string) bool { return c == MultilineCap })); !strings.HasPrefix(got[0], "@draft/multiline-concat ") {
		t.Errorf("concat tag lost for a multiline client: %q", got)
	}
}
