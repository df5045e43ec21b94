package xmpp

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"
)

// ErrNotConnected is returned by requests while the stream is down.
var ErrNotConnected = errors.New("xmpp: not connected")

// ErrClosed is returned by requests after Close.
var ErrClosed = errors.New("xmpp: session closed")

// ErrAuth is wrapped by connect errors caused by rejected credentials.
var ErrAuth = errors.New("authentication failed")

// ErrTLS is wrapped by connect errors caused by TLS (handshake,
// certificate verification, StartTLS not offered).
var ErrTLS = errors.New("TLS failed")

// ConnectError is why one connection attempt failed.
type ConnectError struct {
	Server string // address dialled
	Stage  string // "dial", "tls", "auth" or "stream"
	Err    error
}

func (e *ConnectError) Error() string {
	switch e.Stage {
	case "auth":
		return fmt.Sprintf("xmpp: %s at %s (wrong JID or password?): %v", ErrAuth, e.Server, e.Err)
	case "tls":
		return fmt.Sprintf("xmpp: %s with %s: %v", ErrTLS, e.Server, e.Err)
	case "dial":
		return fmt.Sprintf("xmpp: cannot reach %s: %v", e.Server, e.Err)
	}
	return fmt.Sprintf("xmpp: connecting to %s: %v", e.Server, e.Err)
}

func (e *ConnectError) Unwrap() []error {
	switch e.Stage {
	case "auth":
		return []error{ErrAuth, e.Err}
	case "tls":
		return []error{ErrTLS, e.Err}
	}
	return []error{e.Err}
}

// Session is one XMPP client session of the account, kept alive and
// reconnected by a supervisor goroutine. All methods are safe for
// concurrent use. Requests are queued to the connection's writer and return
// at once; they fail with ErrNotConnected while the stream is down.
type Session struct {
	cfg     Config
	log     *slog.Logger
	bare    string
	domain  string
	capsVer string

	events    chan Event
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{} // closed when the supervisor has finished

	mu      sync.Mutex
	started bool
	cur     *conn
	show    string
	status  string
	rooms   map[string]string // joined room (bare JID) -> our nick
}

// New validates cfg and returns a session that is not yet connected; call
// Start to run it.
func New(cfg Config) (*Session, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	s := &Session{
		cfg:     cfg,
		bare:    cfg.JID,
		domain:  cfg.JID[strings.IndexByte(cfg.JID, '@')+1:],
		events:  make(chan Event, 256),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		rooms:   map[string]string{},
	}
	s.log = cfg.Logger.With("jid", s.bare)
	s.capsVer = capsVer(cfg.ClientName, ourFeatures)
	if _, err := s.tlsConfig(); err != nil {
		return nil, err
	}
	return s, nil
}

// JID is the bare JID of the account.
func (s *Session) JID() string { return s.bare }

// Events delivers everything that happens on the session, in order. The
// channel is closed after Close. The session waits for the receiver, so it
// must be drained.
func (s *Session) Events() <-chan Event { return s.events }

// Start starts the supervisor: it connects, and after every failure or
// lost connection reconnects with exponential backoff and jitter, until
// Close. Each attempt ends in Connected or Disconnected{Err, RetryIn}.
func (s *Session) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return
	}
	select {
	case <-s.closing:
		return
	default:
	}
	s.started = true
	go s.supervise()
}

// Check connects once, logs in and disconnects, returning the connect
// error (a *ConnectError naming the cause) if any. It does not emit events
// and may be used without Start, e.g. to validate a configuration. It is
// bounded by ctx and Config.ConnectTimeout.
func (s *Session) Check(ctx context.Context) error {
	c, err := s.connect(ctx)
	if err != nil {
		return err
	}
	c.netConn.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(c.netConn, "</stream:stream>")
	return c.netConn.Close()
}

// Close ends the session: the stream is closed politely when possible,
// the supervisor stops and the Events channel is closed. It returns within
// a few seconds whatever the server does.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		started := s.started
		s.started = true // a later Start must not run
		close(s.closing)
		s.mu.Unlock()
		if !started {
			close(s.events)
			close(s.done)
		}
	})
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.log.Warn("xmpp session did not stop within 5s")
	}
	return nil
}

func (s *Session) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// emit delivers an event, giving up only when the session is closing.
func (s *Session) emit(ev Event) {
	select {
	case s.events <- ev:
	case <-s.closing:
	}
}

func (s *Session) backoff(attempt int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 0; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	// Jitter: anywhere in [d/2, d], so that many gateways restarted by one
	// server outage do not reconnect in lockstep.
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

func (s *Session) supervise() {
	defer close(s.done)
	defer close(s.events)
	attempt := 0
	for !s.isClosing() {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ConnectTimeout)
		go func() {
			select {
			case <-s.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		c, err := s.connect(ctx)
		cancel()
		if err != nil {
			if s.isClosing() {
				break
			}
			delay := s.backoff(attempt)
			attempt++
			s.log.Warn("xmpp connect failed", "err", err, "retry_in", delay)
			s.emit(Disconnected{Err: err, RetryIn: delay})
			s.sleep(delay)
			continue
		}
		attempt = 0
		err = s.serve(c)
		if s.isClosing() {
			break
		}
		delay := s.backoff(0)
		attempt = 1
		s.log.Warn("xmpp connection lost", "err", err, "retry_in", delay)
		s.emit(Disconnected{Err: err, RetryIn: delay})
		s.sleep(delay)
	}
	select {
	case s.events <- Disconnected{}:
	default:
	}
}

func (s *Session) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.closing:
	}
}

// connect dials, negotiates TLS, authenticates and binds, bounded by ctx
// and ConnectTimeout.
func (s *Session) connect(ctx context.Context) (*conn, error) {
	tc, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ConnectTimeout)
	defer cancel()
	addr := s.serverAddr(ctx)
	deadline, _ := ctx.Deadline()
	dialTimeout := max(time.Until(deadline), time.Millisecond)
	opts := goxmpp.Options{
		Host:            addr,
		User:            s.bare,
		Password:        s.cfg.Password,
		Resource:        s.cfg.Resource,
		DialTimeout:     dialTimeout,
		TLSConfig:       tc,
		NoTLS:           s.cfg.TLS != TLSDirect,
		StartTLS:        s.cfg.TLS == TLSStartTLS,
		SoftwareName:    s.cfg.ClientName,
		SoftwareVersion: s.cfg.ClientVersion,
	}
	if s.cfg.TLS == TLSPlain {
		opts.InsecureAllowUnencryptedAuth = true
	}
	type result struct {
		c   *goxmpp.Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := opts.NewClient()
		ch <- result{c, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-ctx.Done():
		// go-xmpp cannot be interrupted; close whatever it produces.
		go func() {
			if r := <-ch; r.err == nil {
				if nc, _, err := streamOf(r.c); err == nil {
					nc.Close()
				}
			}
		}()
		return nil, &ConnectError{Server: addr, Stage: "dial", Err: fmt.Errorf("timed out: %w", ctx.Err())}
	}
	if r.err != nil {
		return nil, classify(addr, r.err)
	}
	nc, dec, err := streamOf(r.c)
	if err != nil {
		return nil, err
	}
	if s.cfg.TLS != TLSPlain && !r.c.IsEncrypted() {
		nc.Close()
		return nil, &ConnectError{Server: addr, Stage: "tls", Err: errors.New("stream is not encrypted")}
	}
	c := &conn{
		s:       s,
		client:  r.c,
		netConn: nc,
		dec:     dec,
		jid:     r.c.JID(),
		out:     make(chan string, 512),
		done:    make(chan struct{}),
		pending: map[string]*pendingIQ{},
	}
	c.lastRecv.Store(time.Now().UnixNano())
	return c, nil
}

func classify(addr string, err error) error {
	msg := err.Error()
	var netErr net.Error
	switch {
	case strings.Contains(msg, "auth failure") || strings.Contains(msg, "not-authorized"):
		return &ConnectError{Server: addr, Stage: "auth", Err: err}
	case strings.Contains(msg, "tls") || strings.Contains(msg, "TLS") || strings.Contains(msg, "x509") ||
		strings.Contains(msg, "certificate") || strings.Contains(msg, "unencrypted"):
		return &ConnectError{Server: addr, Stage: "tls", Err: err}
	case errors.As(err, &netErr):
		return &ConnectError{Server: addr, Stage: "dial", Err: err}
	}
	return &ConnectError{Server: addr, Stage: "stream", Err: err}
}

// serve runs one connection until it dies or the session closes.
func (s *Session) serve(c *conn) error {
	s.mu.Lock()
	s.cur = c
	s.rooms = map[string]string{}
	show, status := s.show, s.status
	s.mu.Unlock()
	go c.writer()
	c.requestIQ("roster-get", "", "get", "<query xmlns='jabber:iq:roster'/>", nil)
	c.requestIQ("carbons", "", "set", "<enable xmlns='urn:xmpp:carbons:2'/>", nil)
	c.send(s.presenceStanza("", "", show, status))
	s.log.Info("xmpp connected", "bound", c.jid)
	// Connected goes out before the reader starts, so that it precedes
	// every event of this stream (the Roster first of all).
	s.emit(Connected{JID: c.jid})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		c.reader()
	}()

	select {
	case <-c.done:
	case <-s.closing:
		c.closeStream()
	}
	<-readerDone
	s.mu.Lock()
	s.cur = nil
	s.mu.Unlock()
	// The requests still waiting end with ErrNotConnected now; their
	// answers go out before the Disconnected.
	c.mu.Lock()
	c.ended = true
	c.mu.Unlock()
	c.requests.Wait()
	return c.cause()
}

func (s *Session) current() (*conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil {
		if s.isClosing() {
			return nil, ErrClosed
		}
		return nil, ErrNotConnected
	}
	return s.cur, nil
}

func (s *Session) send(stanza string) error {
	c, err := s.current()
	if err != nil {
		return err
	}
	return c.send(stanza)
}

// ids is the source of stanza ids: ChaCha8 seeded once from the system's
// random source, so ids stay unguessable without a system call per stanza.
var ids = struct {
	sync.Mutex
	r   *mrand.ChaCha8
	enc *base32.Encoding
}{
	r:   mrand.NewChaCha8(seed()),
	enc: base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding),
}

func seed() (s [32]byte) {
	rand.Read(s[:]) // never fails (crypto/rand panics rather than return an error)
	return s
}

// newID returns a random stanza id: 20 characters, 100 random bits.
func newID() string {
	var b [13]byte
	ids.Lock()
	ids.r.Read(b[:])
	ids.Unlock()
	return ids.enc.EncodeToString(b[:])[:20]
}

// NewID returns a new random stanza id, for a message whose id is needed
// before it is sent (OutMessage.ID).
func (s *Session) NewID() string { return newID() }

// pendingIQ is an IQ request of ours awaiting its result.
type pendingIQ struct {
	op    string
	to    string
	reply chan *xmlIQ // nil: handled by handleResult (the session's own requests)
}

// conn is one live stream.
type conn struct {
	s       *Session
	client  *goxmpp.Client
	netConn net.Conn
	dec     *xml.Decoder
	jid     string // full JID bound by the server

	out      chan string
	done     chan struct{}
	doneOnce sync.Once
	err      error
	lastRecv atomic.Int64 // unix nanoseconds of the last data from the server
	busy     atomic.Bool  // the reader is handing a stanza to the receiver

	// Owned by the reader goroutine: presence held until the roster is in.
	rosterDone   bool
	heldPresence []Presence

	mu       sync.Mutex
	pending  map[string]*pendingIQ
	archives map[string]*archiveCollector // by MAM query id
	ended    bool                         // no request may start any more
	requests sync.WaitGroup               // requests started on this stream (startRequest)
}

// fail records the first cause and tears the connection down.
func (c *conn) fail(err error) {
	c.doneOnce.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
		c.netConn.Close()
	})
}

func (c *conn) cause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// closeStream ends the stream politely, then closes the socket.
func (c *conn) closeStream() {
	c.doneOnce.Do(func() {
		c.mu.Lock()
		c.err = ErrClosed
		c.mu.Unlock()
		close(c.done)
		c.netConn.SetWriteDeadline(time.Now().Add(time.Second))
		io.WriteString(c.netConn, "</stream:stream>")
		c.netConn.Close()
	})
}

// send queues a stanza for the writer.
func (c *conn) send(stanza string) error {
	if lim := c.client.LimitMaxBytes; lim > 0 && len(stanza)+1 > lim {
		// The server announced this limit (XEP-0478) and would close the
		// stream over a bigger stanza: refuse just this one.
		return fmt.Errorf("xmpp: stanza of %d bytes is over the server's limit of %d", len(stanza)+1, lim)
	}
	select {
	case c.out <- stanza:
		return nil
	case <-c.done:
		return ErrNotConnected
	default:
	}
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case c.out <- stanza:
		return nil
	case <-c.done:
		return ErrNotConnected
	case <-t.C:
		return errors.New("xmpp: send queue full")
	}
}

// writer is the only goroutine writing to the stream. It also sends the
// keepalive pings when the stream has been quiet for PingInterval.
func (c *conn) writer() {
	cfg := &c.s.cfg
	tick := time.NewTicker(max(cfg.PingInterval/4, 10*time.Millisecond))
	defer tick.Stop()
	lastPing := time.Now()
	var buf []byte
	for {
		var stanza string
		select {
		case <-c.done:
			return
		case stanza = <-c.out:
		case <-tick.C:
			if c.busy.Load() {
				continue
			}
			idle := time.Since(time.Unix(0, c.lastRecv.Load()))
			if idle >= cfg.DeadTimeout {
				c.fail(fmt.Errorf("xmpp: no data from the server for %v", idle.Round(time.Second)))
				return
			}
			if idle < cfg.PingInterval || time.Since(lastPing) < cfg.PingInterval {
				continue
			}
			lastPing = time.Now()
			id := c.register("ping", "", nil)
			stanza = fmt.Sprintf("<iq type='get' id='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>", id, escapeAttr(c.s.domain))
		}
		// Whatever else is queued goes out in the same write: one TLS
		// record and one system call for a burst instead of one each.
		buf = append(append(buf[:0], stanza...), '\n')
	gather:
		for len(buf) < writeBatch {
			select {
			case more := <-c.out:
				buf = append(append(buf, more...), '\n')
			default:
				break gather
			}
		}
		c.netConn.SetWriteDeadline(time.Now().Add(cfg.DeadTimeout))
		if _, err := c.netConn.Write(buf); err != nil {
			c.fail(fmt.Errorf("xmpp: write: %w", err))
			return
		}
		if cap(buf) > 4*writeBatch {
			buf = nil // a huge stanza's buffer is not kept
		}
	}
}

// writeBatch is roughly how many bytes the writer gathers into one write.
const writeBatch = 16 * 1024

// reader is the only goroutine reading the stream.
func (c *conn) reader() {
	for {
		// The deadline is a second line of defence behind the writer's
		// check, for a writer stuck in a blocked write.
		c.netConn.SetReadDeadline(time.Now().Add(c.s.cfg.DeadTimeout + c.s.cfg.PingInterval))
		tok, err := c.dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("xmpp: server closed the connection")
			}
			c.fail(err)
			return
		}
		c.lastRecv.Store(time.Now().UnixNano())
		switch t := tok.(type) {
		case xml.StartElement:
			// A slow receiver of events must not make a healthy stream
			// look dead: silence is only counted while reading.
			c.busy.Store(true)
			err := c.handle(t)
			c.lastRecv.Store(time.Now().UnixNano())
			c.busy.Store(false)
			if err != nil {
				c.fail(err)
				return
			}
		case xml.EndElement:
			if t.Name.Space == nsStream && t.Name.Local == "stream" {
				c.fail(errors.New("xmpp: server closed the stream"))
				return
			}
		}
		select {
		case <-c.done:
			return
		default:
		}
	}
}

func (c *conn) handle(start xml.StartElement) error {
	switch start.Name.Space + " " + start.Name.Local {
	case nsClient + " message":
		var m xmlMessage
		if err := c.dec.DecodeElement(&m, &start); err != nil {
			return fmt.Errorf("xmpp: bad message: %w", err)
		}
		c.handleMessage(&m)
	case nsClient + " presence":
		var p xmlPresence
		if err := c.dec.DecodeElement(&p, &start); err != nil {
			return fmt.Errorf("xmpp: bad presence: %w", err)
		}
		c.handlePresence(&p)
	case nsClient + " iq":
		var iq xmlIQ
		if err := c.dec.DecodeElement(&iq, &start); err != nil {
			return fmt.Errorf("xmpp: bad iq: %w", err)
		}
		c.handleIQ(&iq)
	case nsStream + " error":
		var se xmlStreamError
		if err := c.dec.DecodeElement(&se, &start); err != nil {
			return fmt.Errorf("xmpp: bad stream error: %w", err)
		}
		return fmt.Errorf("xmpp: stream error: %s", se.condition())
	default:
		// Unknown top-level elements (e.g. stream management we did not
		// ask for) are skipped.
		return c.dec.Skip()
	}
	return nil
}

// fromServer reports whether from is our account or its server (or empty,
// which means the same).
func (c *conn) fromAccount(from string) bool {
	return from == "" || strings.EqualFold(bareJID(from), c.s.bare) || strings.EqualFold(from, c.s.domain)
}

func (c *conn) handleMessage(m *xmlMessage) {
	own := c.s.bare
	if c.archiveResult(m) || c.pepEvent(m) {
		return
	}
	carbon := m.Sent
	dir := CarbonSent
	if carbon == nil {
		carbon, dir = m.Received, CarbonReceived
	}
	if carbon != nil {
		// Only our own server may send us carbons: anyone else could
		// forge messages "from" any JID this way.
		if m.From == "" || !strings.EqualFold(m.From, own) {
			c.s.log.Warn("xmpp: ignoring carbon with a foreign sender", "from", m.From)
			return
		}
		if carbon.Forwarded == nil || carbon.Forwarded.Message == nil {
			return
		}
		msg := carbon.Forwarded.Message.toMessage(own, carbon.Forwarded.Delay)
		msg.Carbon = dir
		c.s.emit(msg)
		return
	}
	c.s.emit(m.toMessage(own, nil))
}

func (c *conn) handlePresence(p *xmlPresence) {
	switch p.Type {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		ev := Subscription{From: bareJID(p.From), Type: p.Type, Status: CleanText(pickText(p.Status))}
		if p.Nick != nil {
			ev.Nick = CleanText(*p.Nick)
		}
		c.s.emit(ev)
	case "", "unavailable", "error":
		if !c.rosterDone && len(c.heldPresence) < maxHeldPresence {
			c.heldPresence = append(c.heldPresence, p.toPresence())
			return
		}
		c.s.emit(p.toPresence())
	default:
		// probe and unknown types are for servers.
	}
}

// maxHeldPresence bounds the presences held back before the roster arrives;
// past it they are passed on at once.
const maxHeldPresence = 100000

// releasePresence passes on the presences that arrived before the roster.
// The server sends contacts' presence in answer to our initial presence,
// which the client library sends at login before we can ask for the roster;
// holding them keeps the promised order: Roster first, then presence.
func (c *conn) releasePresence() {
	c.rosterDone = true
	for _, p := range c.heldPresence {
		c.s.emit(p)
	}
	c.heldPresence = nil
}

func (c *conn) handleIQ(iq *xmlIQ) {
	switch iq.Type {
	case "result", "error":
		c.handleResult(iq)
		return
	case "get", "set":
	default:
		return
	}
	name := iq.payloadName()
	switch {
	case iq.Type == "set" && iq.Roster != nil:
		if !c.fromAccount(iq.From) {
			c.s.log.Warn("xmpp: roster push from a foreign sender refused", "from", iq.From)
			c.replyError(iq, "cancel", "service-unavailable")
			return
		}
		c.reply(iq, "")
		for _, it := range iq.Roster.Items {
			c.s.emit(RosterPush{Item: it.toItem()})
		}
	case iq.Type == "get" && name.Space == nsPing && name.Local == "ping":
		c.reply(iq, "")
	case iq.Type == "get" && name.Space == nsDiscoInfo && name.Local == "query":
		node := ""
		for _, a := range iq.Any[0].Attrs {
			if a.Name.Local == "node" {
				node = fmt.Sprintf(" node='%s'", escapeAttr(a.Value))
			}
		}
		var b strings.Builder
		fmt.Fprintf(&b, "<query xmlns='%s'%s><identity category='client' type='pc' name='%s'/>", nsDiscoInfo, node, escapeAttr(c.s.cfg.ClientName))
		for _, f := range ourFeatures {
			fmt.Fprintf(&b, "<feature var='%s'/>", f)
		}
		b.WriteString("</query>")
		c.reply(iq, b.String())
	case iq.Type == "get" && name.Space == nsVersion && name.Local == "query":
		c.reply(iq, fmt.Sprintf("<query xmlns='%s'><name>%s</name><version>%s</version></query>",
			nsVersion, escapeText(c.s.cfg.ClientName), escapeText(c.s.cfg.ClientVersion)))
	default:
		c.replyError(iq, "cancel", "service-unavailable")
	}
}

func (c *conn) reply(iq *xmlIQ, payload string) {
	to := ""
	if iq.From != "" {
		to = fmt.Sprintf(" to='%s'", escapeAttr(iq.From))
	}
	c.send(fmt.Sprintf("<iq type='result' id='%s'%s>%s</iq>", escapeAttr(iq.ID), to, payload))
}

func (c *conn) replyError(iq *xmlIQ, typ, cond string) {
	to := ""
	if iq.From != "" {
		to = fmt.Sprintf(" to='%s'", escapeAttr(iq.From))
	}
	c.send(fmt.Sprintf("<iq type='error' id='%s'%s><error type='%s'><%s xmlns='%s'/></error></iq>",
		escapeAttr(iq.ID), to, typ, cond, nsStanzas))
}

// register records a pending IQ and returns its new id.
func (c *conn) register(op, to string, reply chan *xmlIQ) string {
	id := newID()
	c.mu.Lock()
	c.pending[id] = &pendingIQ{op: op, to: to, reply: reply}
	c.mu.Unlock()
	return id
}

// requestIQ sends an IQ of ours; payload must be well-formed XML.
func (c *conn) requestIQ(op, to, typ, payload string, reply chan *xmlIQ) (string, error) {
	id := c.register(op, to, reply)
	toAttr := ""
	if to != "" {
		toAttr = fmt.Sprintf(" to='%s'", escapeAttr(to))
	}
	err := c.send(fmt.Sprintf("<iq type='%s' id='%s'%s>%s</iq>", typ, id, toAttr, payload))
	if err != nil {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return "", err
	}
	return id, nil
}

// awaitIQ waits for the answer to the request id made with reply; when
// ctx ends first, the request is forgotten.
func (c *conn) awaitIQ(ctx context.Context, id string, reply chan *xmlIQ) (*xmlIQ, error) {
	select {
	case iq := <-reply:
		return iq, nil
	case <-c.done:
		return nil, ErrNotConnected
	case <-ctx.Done():
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (c *conn) handleResult(iq *xmlIQ) {
	c.mu.Lock()
	p := c.pending[iq.ID]
	ok := p != nil
	if ok {
		// A result must come from where the request went: a forged
		// result from a third party must not complete our request.
		if p.to == "" {
			ok = c.fromAccount(iq.From) || iq.From == c.jid
		} else {
			ok = strings.EqualFold(iq.From, p.to) || (iq.From == "" && strings.EqualFold(p.to, c.s.bare))
		}
	}
	if ok {
		delete(c.pending, iq.ID)
	}
	c.mu.Unlock()
	if !ok {
		return
	}
	if p.reply != nil {
		p.reply <- iq // buffered, one reply
		return
	}
	switch p.op {
	case "roster-get":
		if iq.Type == "result" {
			var r Roster
			if iq.Roster != nil {
				r.Items = make([]RosterItem, 0, len(iq.Roster.Items))
				for _, it := range iq.Roster.Items {
					r.Items = append(r.Items, it.toItem())
				}
				// A big roster's parsed XML can go while the receiver
				// works on the items.
				iq.Roster = nil
			}
			c.s.emit(r)
			c.releasePresence()
			return
		}
		err := iq.Error.errorOf()
		c.s.log.Warn("xmpp: roster request failed", "err", err)
		c.s.emit(RequestDone{ID: iq.ID, Op: p.op, Err: err})
		c.releasePresence()
	case "ping":
		// Any answer, even an error, proves the stream is alive; the
		// reader has already noted the traffic.
	case "carbons":
		if iq.Type == "error" {
			c.s.log.Warn("xmpp: server refused carbons", "err", iq.Error.toStanzaError())
		}
	}
}
