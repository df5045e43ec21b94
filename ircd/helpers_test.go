package ircd

import (
	"bufio"
	"errors"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/internal/pipenet"
)

// waitTimeout bounds every wait in these tests; nothing should take long,
// the bound only keeps a broken test from hanging.
const waitTimeout = 5 * time.Second

// fakeBackend reserves some nicks and records what its sessions get.
type fakeBackend struct {
	panicky  bool // TOPIC #panic panics in Handle
	mu       sync.Mutex
	reserved map[string]bool
	sessions []*fakeSession
	attached chan *fakeSession
	detached chan string
}

func newFakeBackend(reserved ...string) *fakeBackend {
	b := &fakeBackend{reserved: map[string]bool{}, attached: make(chan *fakeSession, 16), detached: make(chan string, 16)}
	for _, n := range reserved {
		b.reserved[Casefold(n)] = true
	}
	return b
}

func (b *fakeBackend) CheckNick(nick string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.reserved[Casefold(nick)] {
		return &Error{Code: irc.ERR_NICKNAMEINUSE, Params: []string{nick, "Nickname is already in use"}}
	}
	return nil
}

func (b *fakeBackend) Attach(d Downstream) Session {
	s := &fakeSession{b: b, d: d, nick: d.Nick(), handled: make(chan *irc.Message, 64)}
	b.mu.Lock()
	b.sessions = append(b.sessions, s)
	b.mu.Unlock()
	select {
	case b.attached <- s:
	default:
	}
	return s
}

// Features declares what the bridge declares, plus a command (KNOCK) and a
// capability with a value that only a backend knows.
func (b *fakeBackend) Features() Features {
	return Features{
		Commands: map[string]int{
			"JOIN": 1, "PART": 1, "TAGMSG": 1, "WHO": 1, "NAMES": 0, "TOPIC": 1, "ISON": 1, "USERHOST": 1,
			"INVITE": 2, "KICK": 2, "LIST": 0, "AWAY": 0, "MONITOR": 1, "PRIVMSG": 2, "NOTICE": 2, "WHOIS": 1, "WHOWAS": 1,
			"NICK": 1, "MODE": 1, "SETNAME": 1, "knock": 1,
		},
		Caps: []string{"server-time", "multi-prefix", "userhost-in-names", "away-notify", "extended-join",
			"echo-message", "no-implicit-names", "account-tag", "setname", "extended-monitor", "example.org/flavour=plain",
			"draft/multiline=max-bytes=40,max-lines=3"},
		ISupport: []string{"CHANNELLEN=200", "TOPICLEN=390", "AWAYLEN=390", "PREFIX=(qaohv)~&@%+", "MONITOR=100"},
	}
}

type fakeSession struct {
	b       *fakeBackend
	d       Downstream
	handled chan *irc.Message

	mu   sync.Mutex
	nick string
}

func (s *fakeSession) Nick() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nick
}

func (s *fakeSession) Handle(r *Request) error {
	select {
	case s.handled <- r.Msg:
	default: // nobody is looking (fuzzing)
	}
	m := r.Msg
	switch m.Command {
	case "PRIVMSG", "NOTICE":
		if m.Params[0] == "nobody" {
			return &Error{Code: irc.ERR_NOSUCHNICK, Params: []string{"nobody", "No such nick/channel"}}
		}
		if r.Client.HasCap("echo-message") {
			r.Reply(&irc.Message{Prefix: &irc.Prefix{Name: r.Client.Nick(), User: r.Client.User(), Host: r.Client.Host()},
				Command: m.Command, Params: m.Params})
		}
	case "WHOIS":
		r.Numeric(irc.RPL_WHOISUSER, m.Params[0], "user", "host", "*", "Real Name")
		r.Numeric(irc.RPL_ENDOFWHOIS, m.Params[0], "End of /WHOIS list")
	case "WHO":
		for i := 0; i < 100; i++ {
			r.Numeric(irc.RPL_WHOREPLY, m.Params[0], "u", "h", "xircd", "n"+strconv.Itoa(i), "H", "0 R")
		}
		r.Numeric(irc.RPL_ENDOFWHO, m.Params[0], "End of WHO list")
	case "ISON":
		r.Numeric(irc.RPL_ISON, "alice")
	case "NICK":
		old := &irc.Prefix{Name: r.Client.Nick(), User: r.Client.User(), Host: r.Client.Host()}
		r.Reply(&irc.Message{Prefix: old, Command: "NICK", Params: []string{m.Params[0]}})
		s.mu.Lock()
		s.nick = m.Params[0]
		s.mu.Unlock()
	case "TOPIC":
		if m.Params[0] == "#panic" && s.b.panicky {
			panic("backend bug")
		}
		if m.Params[0] == "#late" {
			// What the backend sends once the replies are queued
			// comes after them.
			r.Numeric(irc.RPL_TOPIC, "#late", "topic")
			r.Numeric(RPL_TOPICWHOTIME, "#late", "someone", "0")
			r.AfterReplies(func() {
				s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "xircd"}, Command: "NOTICE", Params: []string{s.d.Nick(), "after the answer"}})
			})
		}
	case "LIST":
		return errors.New("backend broken")
	}
	return nil
}

func (s *fakeSession) Detach(reason string) {
	select {
	case s.b.detached <- reason:
	default:
	}
}

// testListener is where a test's clients dial the server.
type testListener interface {
	net.Listener
	Dial(timeout time.Duration) (net.Conn, error)
}

// tcpListener is a loopback TCP listener: its connections are sockets,
// whose idle readers wait in the poller, where pipes' wait in a read.
type tcpListener struct{ net.Listener }

func (l tcpListener) Dial(timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", l.Addr().String(), timeout)
}

func listenTCP(t *testing.T) testListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return tcpListener{l}
}

// overPipesAndTCP runs test with a server on pipes, then on loopback TCP.
func overPipesAndTCP(t *testing.T, test func(t *testing.T, listen func(*testing.T) testListener)) {
	t.Run("pipe", func(t *testing.T) { test(t, func(*testing.T) testListener { return pipenet.Listen() }) })
	t.Run("tcp", func(t *testing.T) { test(t, listenTCP) })
}

// testServer starts a server on a pipe listener.
func testServer(t *testing.T, cfg Config, b Backend) (*Server, testListener) {
	t.Helper()
	return testServerOn(t, pipenet.Listen(), cfg, b)
}

// testServerOn starts a server on l.
func testServerOn(t *testing.T, l testListener, cfg Config, b Backend) (*Server, testListener) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := NewServer(cfg, b)
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		s.Shutdown("test over")
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Error("Serve did not return after Shutdown")
		}
	})
	return s, l
}

// client is the test's side of one connection.
type client struct {
	t  *testing.T
	nc net.Conn
	r  *bufio.Reader
}

func dial(t *testing.T, l testListener) *client {
	t.Helper()
	a, err := l.Dial(waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return &client{t: t, nc: a, r: bufio.NewReader(a)}
}

func (c *client) send(lines ...string) {
	c.t.Helper()
	for _, l := range lines {
		c.nc.SetWriteDeadline(time.Now().Add(waitTimeout))
		if _, err := io.WriteString(c.nc, l+"\r\n"); err != nil {
			c.t.Fatalf("send %q: %v", l, err)
		}
	}
}

// next reads one message.
func (c *client) next() *irc.Message {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	if !strings.HasSuffix(line, "\r\n") {
		c.t.Fatalf("line not CRLF terminated: %q", line)
	}
	m, err := irc.ParseMessage(line)
	if err != nil {
		c.t.Fatalf("parse %q: %v", line, err)
	}
	return m
}

// expect reads one message and checks its command and leading params.
func (c *client) expect(command string, params ...string) *irc.Message {
	c.t.Helper()
	m := c.next()
	if m.Command != command {
		c.t.Fatalf("got %q, want command %s", m.String(), command)
	}
	for i, p := range params {
		if i >= len(m.Params) || m.Params[i] != p {
			c.t.Fatalf("got %q, want params %q", m.String(), params)
		}
	}
	return m
}

// until reads messages up to and including one with command, returning all.
func (c *client) until(command string) []*irc.Message {
	c.t.Helper()
	var got []*irc.Message
	for {
		m := c.next()
		got = append(got, m)
		if m.Command == command {
			return got
		}
	}
}

// expectClosed reads until the server closes the connection and returns
// the ERROR reason.
func (c *client) expectClosed() string {
	c.t.Helper()
	reason := ""
	for {
		c.nc.SetReadDeadline(time.Now().Add(waitTimeout))
		line, err := c.r.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrClosedPipe) {
				return reason
			}
			c.t.Fatalf("waiting for close: %v", err)
		}
		if m, err := irc.ParseMessage(line); err == nil && m.Command == "ERROR" {
			reason = m.Trailing()
		}
	}
}

// register runs NICK/USER and reads the burst through MOTD (376 or 422).
func (c *client) register(nick string) []*irc.Message {
	c.t.Helper()
	c.send("NICK "+nick, "USER u 0 * :Real Name")
	return c.untilMOTDEnd()
}

func (c *client) untilMOTDEnd() []*irc.Message {
	c.t.Helper()
	var got []*irc.Message
	for {
		m := c.next()
		got = append(got, m)
		if m.Command == irc.RPL_ENDOFMOTD || m.Command == irc.ERR_NOMOTD {
			return got
		}
	}
}

// roundtrip is a barrier: everything sent before it has been processed.
func (c *client) roundtrip() {
	c.t.Helper()
	c.send("PING barrier")
	for {
		m := c.next()
		if m.Command == "PONG" && m.Trailing() == "barrier" {
			return
		}
	}
}

func (b *fakeBackend) waitAttach(t *testing.T) *fakeSession {
	t.Helper()
	select {
	case s := <-b.attached:
		return s
	case <-time.After(waitTimeout):
		t.Fatal("backend Attach not called")
		return nil
	}
}

func (b *fakeBackend) waitDetach(t *testing.T) string {
	t.Helper()
	select {
	case r := <-b.detached:
		return r
	case <-time.After(waitTimeout):
		t.Fatal("backend Detach not called")
		return ""
	}
}

func (s *fakeSession) waitHandled(t *testing.T) *irc.Message {
	t.Helper()
	select {
	case m := <-s.handled:
		return m
	case <-time.After(waitTimeout):
		t.Fatal("backend Handle not called")
		return nil
	}
}

func commandsOf(ms []*irc.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Command)
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newReader(nc net.Conn) *bufio.Reader { return bufio.NewReader(nc) }
