package ircd

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"gopkg.in/irc.v4"
)

// memConn is a net.Conn that reads a fixed input and checks every line the
// server writes.
type memConn struct {
	in *bytes.Reader

	mu     sync.Mutex
	out    bytes.Buffer
	closed bool
}

func (c *memConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	return c.in.Read(p)
}

func (c *memConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, net.ErrClosed
	}
	return c.out.Write(p)
}

func (c *memConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *memConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 6667} }
func (c *memConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000} }
func (c *memConn) SetDeadline(t time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzReadPath feeds arbitrary bytes through the bounded reader, the parser
// and the command dispatch (including a backend session) and checks that
// nothing panics and every line written back is a valid IRC line.
func FuzzReadPath(f *testing.F) {
	for _, seed := range []string{
		"NICK me\r\nUSER u 0 * :R\r\nJOIN #a\r\nPRIVMSG #a :hi\r\nQUIT :bye\r\n",
		"CAP LS 302\r\nCAP REQ :labeled-response batch message-tags\r\nNICK me\r\nUSER u 0 * :R\r\nCAP END\r\n@label=x WHOIS bob\r\n",
		"CAP REQ sasl\r\nAUTHENTICATE PLAIN\r\nAUTHENTICATE AG1lAHNlY3JldA==\r\nCAP END\r\n",
		"@a=b \r\n:p \r\n@ \r\n\r\n\n\n",
		"PRIVMSG x :caf\xe9\r\nNICK \xff\r\n",
		"NICK a\nUSER a a a a\nMODE a +i-z\nMODE #c\nNICK b\nPING :x\nPONG x\n",
		strings.Repeat("A", 9000) + "\nNICK x\n",
		"@" + strings.Repeat("k=v;", 2100) + " PING x\r\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var logBuf lockedBuffer
		s := NewServer(Config{Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelError}))},
			newFakeBackend("xircd"))
		mc := &memConn{in: bytes.NewReader(data)}
		c := newConn(s, mc)
		s.conns[c] = struct{}{}
		c.serve(nil)
		if strings.Contains(logBuf.String(), "panic") {
			t.Fatalf("panic while handling input:\n%s", logBuf.String())
		}
		out := mc.out.String()
		if out != "" && !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("output not CRLF terminated: %q", out)
		}
		for _, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if l == "" && out == "" {
				continue
			}
			checkLine(t, l)
			if _, err := ParseLine(l); err != nil {
				t.Fatalf("server wrote unparsable %q: %v", l, err)
			}
		}
	})
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var _ io.Writer = (*lockedBuffer)(nil)

// FuzzSanitize builds messages from arbitrary parts and checks the output
// edge: no CR, LF or NUL, valid UTF-8, at most 512 bytes without tags, a
// line that parses back to the same command, and split text that adds up.
func FuzzSanitize(f *testing.F) {
	f.Add("bob", "bob", "example.org", "PRIVMSG", "me", "hello\r\nworld", "time", "2026-01-01T00:00:00Z")
	f.Add("b b", "u\x00", "::1", "NOTICE", ":x", strings.Repeat("ü", 400), "+typing", "active")
	f.Add("", "", "", "PRIVMSG", "", "\x01ACTION "+strings.Repeat("w ", 300)+"\x01", "a;b", "x y\\")
	f.Add("s", "", "", "352", "a b", "", "msgid", "\xff")
	f.Add(strings.Repeat("n", 600), "", "", "TOPIC", "#c", strings.Repeat("t", 600), "", "")
	f.Fuzz(func(t *testing.T, name, user, host, command, middle, trailing, tagKey, tagValue string) {
		m := &irc.Message{
			Tags:    irc.Tags{tagKey: tagValue},
			Prefix:  &irc.Prefix{Name: name, User: user, Host: host},
			Command: command,
			Params:  []string{middle, trailing},
		}
		lines := FormatLines(m, nil)
		// Invalid UTF-8 grows by up to three bytes a run when replaced, so
		// the head is measured as it will be sent.
		head := 0
		for _, part := range []string{name, user, host, middle} {
			head += len(strings.ToValidUTF8(part, "\uFFFD"))
		}
		if validCommand(command) && head < 400 && len(lines) == 0 {
			t.Fatalf("message with a valid command and short head was dropped: %q", m)
		}
		var text strings.Builder
		for _, l := range lines {
			checkLine(t, l)
			p, err := ParseLine(l)
			if err != nil {
				t.Fatalf("unparsable %q: %v", l, err)
			}
			if p.Command != strings.ToUpper(command) || len(p.Params) != 2 {
				t.Fatalf("%q parsed as %q", l, p)
			}
			text.WriteString(p.Params[1])
		}
		want := sanitizeTrailing(trailing)
		isCTCP := len(want) > 2 && want[0] == 1 && want[len(want)-1] == 1
		if len(lines) > 0 && (command == "PRIVMSG" || command == "NOTICE") && !isCTCP && text.String() != want {
			t.Fatalf("split text %q != %q", text.String(), want)
		}
		if !utf8.ValidString(text.String()) {
			t.Fatal("text is not UTF-8")
		}
	})
}
