package e2e

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/irc.v4"
)

// ircClient is a minimal IRC client for tests: it writes raw lines and lets
// the test wait for the messages it expects, keeping everything it has read.
type ircClient struct {
	t    testing.TB
	conn net.Conn

	mu    sync.Mutex
	cond  *sync.Cond
	lines []*irc.Message
	raw   []string
	err   error
}

const waitTimeout = 20 * time.Second

func dialIRC(t testing.TB, addr string) *ircClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &ircClient{t: t, conn: conn}
	c.cond = sync.NewCond(&c.mu)
	go c.readLoop()
	t.Cleanup(func() { conn.Close() })
	return c
}

func (c *ircClient) readLoop() {
	r := bufio.NewReaderSize(c.conn, 16384)
	for {
		line, err := r.ReadString('\n')
		c.mu.Lock()
		if err != nil {
			c.err = err
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		line = strings.TrimRight(line, "\r\n")
		c.raw = append(c.raw, line)
		if m, perr := irc.ParseMessage(line); perr == nil {
			if m.Command == "PING" {
				fmt.Fprintf(c.conn, "PONG :%s\r\n", m.Trailing())
			}
			c.lines = append(c.lines, m)
		}
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// send writes one raw line.
func (c *ircClient) send(format string, args ...any) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.conn, format+"\r\n", args...); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// register runs CAP negotiation for caps (none: no CAP at all) and NICK/USER,
// then waits for the end of the MOTD.
func (c *ircClient) register(nick string, caps ...string) {
	c.t.Helper()
	if len(caps) > 0 {
		c.send("CAP LS 302")
		c.send("CAP REQ :%s", strings.Join(caps, " "))
	}
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :e2e test", nick)
	if len(caps) > 0 {
		c.expect(func(m *irc.Message) bool { return m.Command == "CAP" && m.Param(1) == "ACK" })
		c.send("CAP END")
	}
	c.expect(func(m *irc.Message) bool { return m.Command == "376" || m.Command == "422" })
}

// expect waits for the next message, after the ones already consumed by an
// earlier expect, that matches; it fails the test after waitTimeout.
func (c *ircClient) expect(match func(*irc.Message) bool) *irc.Message {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	timer := time.AfterFunc(waitTimeout, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := 0; ; {
		for ; i < len(c.lines); i++ {
			if match(c.lines[i]) {
				m := c.lines[i]
				c.lines = append(c.lines[:0:0], c.lines[i+1:]...)
				return m
			}
		}
		if c.err != nil || time.Now().After(deadline) {
			c.t.Fatalf("expected message not received (err %v); recent lines:\n%s", c.err, c.recentLocked())
		}
		c.cond.Wait()
	}
}

// expectLine waits for a message whose raw text, without tags, contains all parts.
func (c *ircClient) expectLine(parts ...string) *irc.Message {
	c.t.Helper()
	return c.expect(func(m *irc.Message) bool {
		s := stripTags(m)
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return false
			}
		}
		return true
	})
}

// none reports every message received so far that matches, without consuming.
func (c *ircClient) all(match func(*irc.Message) bool) []*irc.Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*irc.Message
	for _, m := range c.lines {
		if match(m) {
			out = append(out, m)
		}
	}
	return out
}

// roundtrip sends a PING with a unique token and waits for its PONG: every
// line the server sent before it has been read by then.
func (c *ircClient) roundtrip() {
	c.t.Helper()
	tok := fmt.Sprintf("rt%d", time.Now().UnixNano())
	c.send("PING %s", tok)
	c.expect(func(m *irc.Message) bool { return m.Command == "PONG" && m.Trailing() == tok })
}

func (c *ircClient) rawLines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.raw...)
}

func (c *ircClient) recentLocked() string {
	from := 0
	if len(c.raw) > 40 {
		from = len(c.raw) - 40
	}
	return "  " + strings.Join(c.raw[from:], "\n  ")
}

func stripTags(m *irc.Message) string {
	cp := m.Copy()
	cp.Tags = nil
	return cp.String()
}
