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
// the test wait for the messages it expects. It keeps the whole transcript,
// so a test can count over everything the server sent, not only what is left
// after its last expect.
type ircClient struct {
	t    testing.TB
	conn net.Conn

	mu       sync.Mutex
	cond     *sync.Cond
	received []receivedLine // every line, in the order it arrived
	next     int            // index in received of the first line expect has not passed
	err      error
}

// receivedLine is one line from the server; msg is nil when it does not parse.
type receivedLine struct {
	raw string
	msg *irc.Message
}

const waitTimeout = 20 * time.Second

func dialIRC(t testing.TB, addr string) *ircClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	return newIRCClient(t, conn)
}

// newIRCClient starts reading from conn. At the end of the test conn is
// closed and every line received is checked against IRC's line limits.
func newIRCClient(t testing.TB, conn net.Conn) *ircClient {
	c := &ircClient{t: t, conn: conn}
	c.cond = sync.NewCond(&c.mu)
	go c.readLoop()
	t.Cleanup(func() {
		conn.Close()
		for _, raw := range c.rawLines() {
			if err := lineLimitError(raw); err != nil {
				t.Errorf("%v: %.300q", err, raw)
			}
		}
	})
	return c
}

// IRC's line limits: the tag section, with its leading '@' and its trailing
// space, at most 8191 bytes (IRCv3 message-tags); the rest, with its CR LF,
// at most 512 bytes (RFC 1459).
const (
	maxTagSection = 8191
	maxLineRest   = 512
)

// lineLimitError reports how raw, a line without its CR LF, breaks IRC's
// line limits, or nil.
func lineLimitError(raw string) error {
	rest := raw
	if strings.HasPrefix(raw, "@") {
		tags, after, _ := strings.Cut(raw, " ")
		if n := len(tags) + len(" "); n > maxTagSection {
			return fmt.Errorf("tag section of %d bytes, more than %d", n, maxTagSection)
		}
		rest = after
	}
	if n := len(rest) + len("\r\n"); n > maxLineRest {
		return fmt.Errorf("line of %d bytes without tags, more than %d", n, maxLineRest)
	}
	return nil
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
		m, perr := irc.ParseMessage(line)
		if perr != nil {
			m = nil
		} else if m.Command == "PING" {
			fmt.Fprintf(c.conn, "PONG :%s\r\n", m.Trailing())
		}
		c.received = append(c.received, receivedLine{raw: line, msg: m})
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
	c.registerUser(nick, nick, caps...)
}

// registerUser is register with the username given in USER.
func (c *ircClient) registerUser(nick, user string, caps ...string) {
	c.t.Helper()
	if len(caps) > 0 {
		c.send("CAP LS 302")
		c.send("CAP REQ :%s", strings.Join(caps, " "))
	}
	c.send("NICK %s", nick)
	c.send("USER %s 0 * :e2e test", user)
	if len(caps) > 0 {
		c.expect(func(m *irc.Message) bool { return m.Command == "CAP" && m.Param(1) == "ACK" })
		c.send("CAP END")
	}
	c.expect(func(m *irc.Message) bool { return m.Command == "376" || m.Command == "422" })
}

// expect waits for the next message, after the ones an earlier expect has
// passed, that matches; it fails the test after waitTimeout. The lines it
// skips stay in the transcript for count.
func (c *ircClient) expect(match func(*irc.Message) bool) *irc.Message {
	c.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	timer := time.AfterFunc(waitTimeout, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for ; c.next < len(c.received); c.next++ {
			if m := c.received[c.next].msg; m != nil && match(m) {
				c.next++
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
	return c.expect(lineWith(parts...))
}

// lineWith matches a message whose raw text, without tags, contains all parts.
func lineWith(parts ...string) func(*irc.Message) bool {
	return func(m *irc.Message) bool {
		s := stripTags(m)
		for _, p := range parts {
			if !strings.Contains(s, p) {
				return false
			}
		}
		return true
	}
}

// count makes a PING/PONG round trip, so that every line the server sent
// before it has arrived, and then counts the messages of the whole
// transcript that match, including those expect has passed. Like
// roundtrip, it moves expect past everything received so far.
func (c *ircClient) count(match func(*irc.Message) bool) int {
	c.t.Helper()
	c.roundtrip()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.received {
		if l.msg != nil && match(l.msg) {
			n++
		}
	}
	return n
}

// roundtrip sends a PING with a unique token and waits for its PONG: every
// line the server sent before it has been read by then.
func (c *ircClient) roundtrip() {
	c.t.Helper()
	tok := fmt.Sprintf("rt%d", time.Now().UnixNano())
	c.send("PING %s", tok)
	c.expect(func(m *irc.Message) bool { return m.Command == "PONG" && m.Trailing() == tok })
}

// rawLines returns every line received so far, as sent, in order.
func (c *ircClient) rawLines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.received))
	for i, l := range c.received {
		out[i] = l.raw
	}
	return out
}

func (c *ircClient) recentLocked() string {
	from := max(0, len(c.received)-40)
	var b strings.Builder
	for _, l := range c.received[from:] {
		b.WriteString("  " + l.raw + "\n")
	}
	return b.String()
}

func stripTags(m *irc.Message) string {
	cp := m.Copy()
	cp.Tags = nil
	return cp.String()
}

// The line limit check itself, at its boundaries.
func TestLineLimitError(t *testing.T) {
	tags := func(n int) string { return "@a=" + strings.Repeat("x", n-len("@a= ")) + " " }              // n bytes with the space
	text := func(n int) string { return "PRIVMSG me :" + strings.Repeat("y", n-len("PRIVMSG me :")-2) } // n bytes with CR LF
	for _, tc := range []struct {
		raw string
		ok  bool
	}{
		{text(512), true},
		{text(513), false},
		{tags(8191) + text(512), true},
		{tags(8192) + text(100), false},
		{tags(100) + text(513), false},
	} {
		if err := lineLimitError(tc.raw); (err == nil) != tc.ok {
			t.Errorf("line of %d bytes: error %v, want ok=%v", len(tc.raw), err, tc.ok)
		}
	}
}
