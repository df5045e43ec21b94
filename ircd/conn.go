package ircd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"gopkg.in/irc.v4"

	"xircd/internal/lazylog"
	"xircd/internal/netidle"
	"xircd/internal/readable"
)

// conn is one client connection. The reader goroutine (serve) owns
// registration state and runs commands one at a time; a writer goroutine,
// running only while lines are queued (see writeLoop), owns the socket's
// write side. Fields under mu are read by other goroutines through the
// Downstream methods.
type conn struct {
	s    *Server
	id   uint64
	nc   net.Conn
	log  *slog.Logger
	host string

	out        sendQueue
	closing    chan struct{}
	closeOnce  sync.Once
	lastWriter sync.WaitGroup // done when the last writer closed the socket
	reader     *lineReader
	watch      *readable.Watch // where an idle reader waits
	ended      func()          // called once the reader has finished

	mu sync.Mutex
	// nick is the nick given at registration; from Attach on the
	// session owns it (Session.Nick).
	nick        string
	user        string
	clientName  string
	realname    string
	account     string
	caps        capSet
	registered  bool
	closeReason string
	abrupt      bool
	// capVersion is the CAP LS version; written by the reader goroutine
	// under mu, read under mu by others (CAP NEW values).
	capVersion int
	// backend serves the client from its login on, in multi-user mode
	// (see currentBackend); written by the reader goroutine under mu.
	backend Backend

	// Reader only (one goroutine at a time, see serve).
	regDeadline    time.Time // registration must be done by then
	lastActive     time.Time // when the client last sent a line
	pingSent       time.Time // when the idle PING went, zero if none waits
	pass           string
	passGiven      bool
	capNegotiating bool
	umodeI         bool
	sasl           saslState
	batch          *clientBatch // an open multiline batch
	// session is written by the reader goroutine under mu, and read
	// without it there (other goroutines read it under mu).
	session Session
}

func newConn(s *Server, nc net.Conn) *conn {
	id := s.nextID.Add(1)
	host := "localhost"
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok && !a.IP.IsLoopback() {
		host = a.IP.String()
	}
	c := &conn{
		s:       s,
		id:      id,
		nc:      nc,
		host:    host,
		closing: make(chan struct{}),
		reader:  newLineReader(nc),
		watch:   readable.New(nc),
	}
	c.log = lazylog.New((*connLog)(c))
	c.lastWriter.Add(1)
	return c
}

// connLog is what a connection's logger puts first in each record: the
// connection's id and remote address, added as each record is logged
// (see lazylog) rather than kept in a copy of the handler by every
// connection.
type connLog conn

func (c *connLog) Handler() slog.Handler { return c.s.log.Handler() }

func (c *connLog) LogAttrs() []slog.Attr {
	return []slog.Attr{slog.Uint64("conn", c.id), slog.String("remote", c.nc.RemoteAddr().String())}
}

// Downstream implementation.

func (c *conn) ID() uint64 { return c.id }

func (c *conn) Nick() string {
	c.mu.Lock()
	session, nick := c.session, c.nick
	c.mu.Unlock()
	if session != nil {
		return session.Nick()
	}
	if nick == "" {
		return "*"
	}
	return nick
}

func (c *conn) User() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.user == "" {
		return "*"
	}
	return c.user
}

func (c *conn) Host() string { return c.host }

func (c *conn) RealName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.realname
}

// setNick sets the nick a client registers with.
func (c *conn) setNick(nick string) {
	c.mu.Lock()
	c.nick = nick
	c.mu.Unlock()
}

func (c *conn) Account() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.account
}

func (c *conn) ClientName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientName
}

func (c *conn) HasCap(name string) bool {
	bit := c.s.capBit(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.caps&bit != 0
}

func (c *conn) ServerName() string { return c.s.cfg.ServerName }

// currentBackend is the backend that serves the client: the server's one,
// or in multi-user mode its account's once it has logged in (nil before).
func (c *conn) currentBackend() Backend {
	if c.s.backend != nil {
		return c.s.backend
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backend
}

func (c *conn) isRegistered() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.registered
}

func (c *conn) prefix() *irc.Prefix {
	return &irc.Prefix{Name: c.Nick(), User: c.User(), Host: c.host}
}

func (c *conn) serverPrefix() *irc.Prefix { return &irc.Prefix{Name: c.s.cfg.ServerName} }

// Send renders m for this client (see FormatLines) and queues the lines.
// It never blocks: a full queue disconnects the client.
func (c *conn) Send(m *irc.Message) { c.send(m, false) }

// sendReply is Send for the connection's own goroutine (replies to the
// client's commands): when the queue is full it waits up to WriteTimeout for
// room, so that a long reply (WHO on a big channel) does not count as a
// client that stopped reading. Waiting only delays this client's commands.
func (c *conn) sendReply(m *irc.Message) { c.send(m, true) }

func (c *conn) send(m *irc.Message, wait bool) {
	if m == nil {
		return
	}
	if capName, ok := commandCap[m.Command]; ok && !c.HasCap(capName) {
		return
	}
	lines := FormatLines(m, keepTagFor(c.HasCap))
	if lines == nil {
		c.log.Warn("dropped unsendable message", "command", m.Command)
		return
	}
	n := queuedSize(lines)
	if wait && !c.waitForRoom(n) {
		return
	}
	select {
	case <-c.closing:
		return
	default:
	}
	ok, startWriter := c.out.push(lines, n, c.s.cfg.SendQueueBytes)
	if startWriter {
		go c.writeLoop()
	}
	if !ok {
		c.log.Info("send queue full, disconnecting")
		c.s.sendQueueDrops.Add(1)
		c.abort("SendQ exceeded")
	}
}

// waitForRoom blocks until n more bytes fit in half of the send queue's
// budget (so that replies never take the room asynchronous messages need),
// for at most WriteTimeout. It returns false when the connection closed or
// the client did not drain in time (it is then disconnected).
func (c *conn) waitForRoom(n int) bool {
	limit := max(c.s.cfg.SendQueueBytes/2, 1)
	wrote := c.out.waitRoom(n, limit)
	if wrote == nil {
		return true
	}
	t := time.NewTimer(c.s.cfg.WriteTimeout)
	defer t.Stop()
	for ; wrote != nil; wrote = c.out.waitRoom(n, limit) {
		select {
		case <-wrote:
		case <-c.closing:
			return false
		case <-t.C:
			c.log.Info("client does not read its replies, disconnecting")
			c.s.sendQueueDrops.Add(1)
			c.abort("SendQ exceeded")
			return false
		}
	}
	return true
}

// numeric sends a numeric reply directly (outside a Request) from the
// connection's goroutine.
func (c *conn) numeric(code string, params ...string) {
	c.sendReply(&irc.Message{Prefix: c.serverPrefix(), Command: code, Params: append([]string{c.Nick()}, params...)})
}

// Close flushes what is queued, sends ERROR with reason and disconnects.
func (c *conn) Close(reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closeReason = reason
		c.mu.Unlock()
		close(c.closing)
		if c.out.close() {
			go c.writeLoop()
		}
	})
}

// abort disconnects without flushing: what is queued is dropped, the reader
// stops at once (the backend's Detach follows) and the writer, once the
// write under way (bounded by WriteTimeout) is done, tries to send ERROR with
// reason within errorGrace before it closes the socket. Nothing waits for
// the client: a client that does not read misses the ERROR.
func (c *conn) abort(reason string) {
	first := false
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closeReason = reason
		c.abrupt = true
		c.mu.Unlock()
		close(c.closing)
		first = true
	})
	if !first {
		return
	}
	c.out.drop()
	if c.out.close() {
		go c.writeLoop()
	}
	// Wakes the reader; it checks closing after setting its own deadline.
	c.nc.SetReadDeadline(time.Now())
	c.watch.Wake()
}

// errorGrace bounds the write of ERROR to a client dropped by abort.
const errorGrace = 2 * time.Second

func (c *conn) reason() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeReason, c.abrupt
}

// writeLoop writes the queue to the socket in batches, each write bounded
// by WriteTimeout, until the queue is empty; then it returns, so that an
// idle client has no writer goroutine. It is started by whoever the queue
// tells to (sendQueue.push, sendQueue.close), so that at most one runs at a
// time. The writer that finds the connection closing is the last: it
// writes what is left, within WriteTimeout in all, then ERROR, and closes
// the socket.
func (c *conn) writeLoop() {
	// A buffer from the pool the readers share: a writer that ends
	// gives it back instead of leaving it to the collector.
	buf := netidle.Buffer()[:0]
	defer func() { netidle.ReleaseSlice(buf) }()
	var end time.Time // once closing, the deadline for what is left
	for {
		if _, abrupt := c.reason(); abrupt {
			break
		}
		var closed bool
		buf, closed = c.out.take(buf[:0], writeBatch)
		if closed && end.IsZero() {
			end = time.Now().Add(c.s.cfg.WriteTimeout)
		}
		if len(buf) == 0 {
			if !closed {
				return // the queue's next push starts another writer
			}
			break
		}
		deadline := end
		if deadline.IsZero() {
			deadline = time.Now().Add(c.s.cfg.WriteTimeout)
		}
		c.nc.SetWriteDeadline(deadline)
		_, err := c.nc.Write(buf)
		c.out.written()
		if err != nil {
			c.abort("Write error")
			c.endWriting()
			return // after a failed write, ERROR would follow a partial line
		}
	}
	reason, abrupt := c.reason()
	if abrupt {
		end = time.Now().Add(min(errorGrace, c.s.cfg.WriteTimeout))
	}
	buf = buf[:0]
	for _, l := range FormatLines(&irc.Message{Command: "ERROR", Params: []string{reason}}, nil) {
		buf = append(append(buf, l...), '\r', '\n')
	}
	c.nc.SetWriteDeadline(end)
	c.nc.Write(buf)
	c.endWriting()
}

// endWriting ends the last writer: it closes the socket, which also ends
// the reader's wait, and lets the reader finish.
func (c *conn) endWriting() {
	c.closeSocket()
	c.lastWriter.Done()
}

// closeSocket closes the socket, taking it out of the poller first.
func (c *conn) closeSocket() {
	c.watch.Stop()
	c.nc.Close()
}

// serve runs the connection until it closes, then calls ended (if not
// nil). An idle client keeps no goroutine: once nothing is left to read,
// the reader waits in c.watch and goes on in a new goroutine once the
// client sends. So serve returns when the client is first idle, or, with
// no socket to wait for (a test's pipe), when the connection has ended.
func (c *conn) serve(ended func()) {
	c.ended = ended
	if !c.s.allowed(c.nc.RemoteAddr()) {
		c.log.Info("refused non-loopback client: no password configured")
		c.finish("Only local connections are accepted")
		return
	}
	c.regDeadline = time.Now().Add(c.s.cfg.RegistrationTimeout)
	c.lastActive = time.Now()
	c.readOn(false)
}

// readOn reads and runs commands until nothing is left to read, then
// waits for more in c.watch; or until the connection ends. woken: c.watch
// said the socket can be read, so the first read reads it.
func (c *conn) readOn(woken bool) {
	if reason, ended := c.readLoop(woken); ended {
		c.finish(reason)
	}
}

// readWoken goes on reading once c.watch says the socket can be read.
func (c *conn) readWoken() { c.readOn(true) }

// finish closes the connection for reason once the reader has ended.
func (c *conn) finish(reason string) {
	c.Close(reason)
	if c.session != nil {
		final, _ := c.reason()
		func() {
			defer c.recoverPanic("Detach")
			c.session.Detach(final)
		}()
	}
	c.s.removeConn(c)
	c.lastWriter.Wait()
	c.log.Debug("connection closed")
	if c.ended != nil {
		c.ended()
	}
}

// readLoop reads and runs commands; it returns why the connection ended
// and true, or false once it waits for the client in c.watch (see
// readOn). Deadlines
// implement the registration timeout and the idle PING.
func (c *conn) readLoop(woken bool) (string, bool) {
	cfg := &c.s.cfg
	closed := func() (string, bool) {
		select {
		case <-c.closing:
			r, _ := c.reason()
			return r, true
		default:
			return "", false
		}
	}
	for {
		var deadline time.Time
		switch {
		case !c.isRegistered():
			deadline = c.regDeadline
		case !c.pingSent.IsZero():
			deadline = c.pingSent.Add(cfg.PingTimeout)
		default:
			deadline = c.lastActive.Add(cfg.PingInterval)
		}
		c.nc.SetReadDeadline(deadline)
		// After setting the deadline: abort closes closing before it
		// moves the deadline to now and wakes c.watch.
		if r, ok := closed(); ok {
			return r, true
		}
		// What the socket holds is read only after c.watch says so
		// (woken): until then the read would wait in a goroutine.
		if c.watch.Waits() && !woken && !c.reader.held(c.nc, deadline) {
			c.reader.idle()
			c.watch.Await(deadline, c.readWoken)
			return "", false
		}
		woken = false
		line, err := c.reader.readLine()
		if err != nil {
			if r, ok := closed(); ok {
				return r, true
			}
			switch {
			case errors.Is(err, errLineTooLong):
				c.numeric(ERR_INPUTTOOLONG, "Input line was too long")
				continue
			case errors.Is(err, os.ErrDeadlineExceeded):
				if !c.isRegistered() {
					return "Registration timed out", true
				}
				if c.pingSent.IsZero() {
					c.pingSent = time.Now()
					c.Send(&irc.Message{Command: "PING", Params: []string{cfg.ServerName}})
					continue
				}
				return fmt.Sprintf("Ping timeout: %d seconds", int(cfg.PingTimeout/time.Second)), true
			default:
				return "Connection closed", true
			}
		}
		c.lastActive = time.Now()
		c.pingSent = time.Time{}
		if !c.handleLine(line) {
			r, _ := c.reason()
			return r, true
		}
	}
}

// ParseLine parses one received line (without CR LF) like irc.ParseMessage
// but turns a panic of the parser into an error.
func ParseLine(line string) (m *irc.Message, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("irc: parser panic: %v", p)
		}
	}()
	return irc.ParseMessage(line)
}

// handleLine runs one line; it returns false when the connection must end.
func (c *conn) handleLine(line string) (ok bool) {
	if len(line) == 0 {
		return true
	}
	defer func() {
		if p := recover(); p != nil {
			c.log.Error("panic while handling a command", "panic", p, "stack", string(debug.Stack()))
			c.Close("Internal error")
			ok = false
		}
	}()
	m, err := ParseLine(line)
	if err != nil {
		c.numeric(ERR_UNKNOWNERROR, "*", "Malformed line")
		return true
	}
	if !utf8.ValidString(line) {
		c.sendReply(standardReply(c.s.cfg.ServerName, "FAIL", m.Command, "INVALID_UTF8", nil, "Line rejected: it is not valid UTF-8"))
		return true
	}
	c.log.Debug("recv", "command", m.Command)
	if !c.inBatch(m) {
		c.dispatch(m)
	}
	select {
	case <-c.closing:
		return false
	default:
		return true
	}
}

func (c *conn) dispatch(m *irc.Message) {
	r := &Request{Msg: m, Client: c}
	cmd, ok := commands[m.Command]
	if n, forBackend := c.s.backendCommands[m.Command]; !ok && forBackend {
		cmd, ok = command{handler: toBackend, minParams: n}, true
	}
	var err error
	switch {
	case !ok:
		err = errUnknownCommand(m.Command)
	case !c.isRegistered() && !cmd.preReg:
		err = &Error{Code: irc.ERR_NOTREGISTERED, Params: []string{"You have not registered"}}
	case len(m.Params) < cmd.minParams:
		err = &Error{Code: irc.ERR_NEEDMOREPARAMS, Params: []string{m.Command, "Not enough parameters"}}
	default:
		err = cmd.handler(c, r)
	}
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			r.Numeric(e.Code, e.Params...)
		} else {
			c.log.Error("command failed", "command", m.Command, "err", err)
			r.Numeric(ERR_UNKNOWNERROR, m.Command, "Internal error")
		}
	}
	c.flush(r)
	r.finish()
}

func errUnknownCommand(name string) *Error {
	return &Error{Code: irc.ERR_UNKNOWNCOMMAND, Params: []string{name, "Unknown command"}}
}

// flush sends the replies of r, applying labeled-response.
func (c *conn) flush(r *Request) {
	label := r.Msg.Tags["label"]
	if label == "" || !c.HasCap("labeled-response") {
		for _, m := range r.replies {
			c.sendReply(m)
		}
		return
	}
	switch len(r.replies) {
	case 0:
		c.sendReply(&irc.Message{Tags: irc.Tags{"label": label}, Prefix: c.serverPrefix(), Command: "ACK"})
	case 1:
		m := r.replies[0].Copy()
		m.Tags["label"] = label
		c.sendReply(m)
	default:
		if !c.HasCap("batch") {
			for _, m := range r.replies {
				c.sendReply(m)
			}
			return
		}
		id := fmt.Sprintf("L%d", c.s.nextBatchID.Add(1))
		c.sendReply(&irc.Message{Tags: irc.Tags{"label": label}, Prefix: c.serverPrefix(), Command: "BATCH",
			Params: []string{"+" + id, "labeled-response"}})
		for _, m := range r.replies {
			m = m.Copy()
			if m.Tags["batch"] == "" {
				m.Tags["batch"] = id
			}
			c.sendReply(m)
		}
		c.sendReply(&irc.Message{Prefix: c.serverPrefix(), Command: "BATCH", Params: []string{"-" + id}})
	}
}

func (c *conn) recoverPanic(what string) {
	if p := recover(); p != nil {
		c.log.Error("panic in backend", "call", what, "panic", p, "stack", string(debug.Stack()))
	}
}

// isChannel reports whether target names a channel (CHANTYPES=&#).
func isChannel(target string) bool {
	return strings.HasPrefix(target, "#") || strings.HasPrefix(target, "&")
}
