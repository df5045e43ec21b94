package xmpp

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"xircd/internal/fifo"
	"xircd/internal/netidle"
	"xircd/internal/readable"
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

	events *eventQueue
	// closing is closed by Close. Not a context: one that lives as long
	// as the session would keep a map of its children, for good, once a
	// connection attempt's context had been one. Close itself cancels
	// the attempt under way (cancelConnect) or closes the stream (cur).
	closing   chan struct{}
	closeOnce sync.Once
	done      chan struct{} // closed when the supervisor has finished

	// dial reaches the server (tests script a server over net.Pipe).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// sent outlives each connection: what one lost is sent again on the
	// next, or reported.
	sent sentLog

	mu            sync.Mutex
	started       bool
	cancelConnect context.CancelFunc // the connection attempt under way, if any
	cur           *conn
	show          string
	status        string
	rooms         map[string]string // joined room (bare JID) -> our nick
}

// dialTCP is how sessions reach their server: one for all of them.
var dialTCP = (&net.Dialer{}).DialContext

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
		events:  newEventQueue(cfg.OnEvent),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
		rooms:   map[string]string{},
		dial:    dialTCP,
		log:     cfg.Logger,
	}
	s.capsVer = capsVer(cfg.ClientName, ourFeatures)
	if _, err := s.tlsConfig(); err != nil {
		return nil, err
	}
	return s, nil
}

// JID is the bare JID of the account.
func (s *Session) JID() string { return s.bare }

// EventsReady holds a token while events wait for NextEvent, and from the
// end of the session on. Everything that happens on the session is an
// event, delivered in order; the receiver takes one event per token with
// NextEvent. While 256 events wait, the session stops reading its stream:
// events must be taken.
func (s *Session) EventsReady() <-chan struct{} { return s.events.ready }

// NotifyEvents has wake called, on the session's goroutines, each time
// EventsReady gets a token for a new event or the end, from now on, and
// at once if events wait: for a receiver that runs only while there is
// something to take. wake must not block.
func (s *Session) NotifyEvents(wake func()) { s.events.setNotify(wake) }

// NextEvent takes the oldest waiting event. ok is false once the session
// has ended (after Close) and every event was taken. After a token from
// EventsReady it returns an event or the end; else ev may be nil: none
// waits yet.
func (s *Session) NextEvent() (ev Event, ok bool) { return s.events.next() }

// Events yields the session's events, in order, until the session has
// ended: for a receiver with nothing else to wait for.
func (s *Session) Events() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		for range s.events.ready {
			ev, ok := s.events.next()
			if !ok || !yield(ev) {
				return
			}
		}
	}
}

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

// Close ends the session: the stream is closed politely when possible,
// the supervisor stops and the events end (see NextEvent). It returns within
// a few seconds whatever the server does.
func (s *Session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		started := s.started
		s.started = true // a later Start must not run
		close(s.closing)
		if s.cancelConnect != nil {
			s.cancelConnect()
		}
		cur := s.cur
		s.mu.Unlock()
		if cur != nil {
			cur.closeStream()
		}
		if !started {
			s.events.end(nil)
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

// emit queues an event, giving up only when the session is closing.
func (s *Session) emit(ev Event) { s.events.put(ev, s.closing) }

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

func (s *Session) supervise() { s.superviseFrom(0, nil) }

// superviseFrom connects and serves streams until the session closes:
// first with res to resume and the connect attempt numbered attempt.
// Once a stream's reader waits in the poller (see serve), it returns,
// and the stream's end goes on with the supervision in a new goroutine
// (streamEnded): a logged-in session keeps no goroutine of its own.
func (s *Session) superviseFrom(attempt int, res *smResumption) {
	for !s.isClosing() {
		c, err := s.connect(context.Background(), res)
		if err != nil {
			if s.isClosing() {
				break
			}
			s.retry("xmpp connect failed", err, attempt)
			attempt++
			continue
		}
		if !s.serve(c) {
			return
		}
		var goOn bool
		if res, goOn = s.afterStream(c); !goOn {
			break
		}
		attempt = 1
	}
	s.supervised()
}

// supervised ends the supervision: the session is closed.
func (s *Session) supervised() {
	s.events.end(Disconnected{})
	close(s.done)
}

// streamEnded goes on with the supervision once c, whose reader waited in
// the poller, has ended.
func (s *Session) streamEnded(c *conn) {
	if res, goOn := s.afterStream(c); goOn {
		s.superviseFrom(1, res)
		return
	}
	s.supervised()
}

// afterStream ends c's stream, reports why it ended and waits before the
// next attempt; goOn is false once the session closes. res is the
// stream's state to resume, if it may be resumed.
func (s *Session) afterStream(c *conn) (res *smResumption, goOn bool) {
	err := s.endStream(c)
	if c.sm.id != "" {
		res = &c.sm
	}
	if s.isClosing() {
		return nil, false
	}
	s.retry("xmpp connection lost", err, 0)
	return res, true
}

// retry reports why the stream is down, and waits before the next
// attempt (the first after a failure is attempt 0).
func (s *Session) retry(msg string, err error, attempt int) {
	delay := s.backoff(attempt)
	s.log.Warn(msg, "err", err, "retry_in", delay)
	s.emit(Disconnected{Err: err, RetryIn: delay})
	s.sleep(delay)
}

func (s *Session) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.closing:
	}
}

// serve runs one connection until it dies or the session closes, and
// returns true; or returns false once the stream's reader waits in the
// poller: the stream then goes on without this goroutine, and its end
// calls streamEnded.
func (s *Session) serve(c *conn) bool {
	s.startStream(c)
	return c.read(false)
}

// startStream queues what a new or resumed stream starts with, starts its
// writer and keepalive timer, and emits Connected.
func (s *Session) startStream(c *conn) {
	s.mu.Lock()
	show, status := s.show, s.status
	if c.resumedH == nil {
		s.rooms = map[string]string{}
	}
	s.mu.Unlock()
	// first is written before anything sent on the stream.
	var first []outItem
	if c.resumedH != nil {
		// The server still has the roster, presences and rooms of the
		// stream: only what it did not get is sent again.
		c.smOn = true
		first = s.sent.resume(*c.resumedH)
	} else {
		again := s.sent.restart()
		// The roster comes first, so that contacts' presences (answers to
		// our initial presence) find it there.
		_, roster := c.iqItem("roster-get", "", "get", "<query xmlns='jabber:iq:roster'/>", nil)
		first = append(first, roster)
		if c.smOffered {
			first = append(first, outItem{text: "<enable xmlns='" + nsSM + "' resume='true'/>", nonza: true, enableSM: true})
		}
		_, carbons := c.iqItem("carbons", "", "set", "<enable xmlns='urn:xmpp:carbons:2'/>", nil)
		first = append(first, carbons, outItem{text: s.presenceStanza("", "", show, status)})
		for _, it := range again {
			if it.msg.Type == "groupchat" {
				// Sent once the room is joined again, or the room refuses it.
				room := BareJID(it.msg.To)
				c.afterJoin[room] = append(c.afterJoin[room], it)
				continue
			}
			first = append(first, it)
		}
	}
	// Nobody else can queue before s.cur is set: first goes out first.
	c.mu.Lock()
	c.queued.Push(first...)
	if len(first) > 0 {
		c.startWriter()
	}
	c.alive = time.AfterFunc(s.cfg.PingInterval, c.checkAlive)
	c.mu.Unlock()
	s.mu.Lock()
	s.cur = c
	closing := s.isClosing() // else Close finds c in s.cur
	s.mu.Unlock()
	if closing {
		c.closeStream()
	}
	s.log.Info("xmpp connected", "bound", c.jid, "sasl", c.mech, "resumed", c.resumedH != nil)
	// Connected goes out before the reader starts, so that it precedes
	// every event of this stream (the Roster first of all).
	s.emit(Connected{JID: c.jid, Resumed: c.resumedH != nil, Mechanism: c.mech})
}

// endStream stops the ended stream's timers, waits for its writer, ends
// its requests, keeps or reports what it did not send, and returns why it
// ended.
func (s *Session) endStream(c *conn) error {
	// The stream is done (the reader returned): a writer still running
	// stops at its next write, and no other starts once ended is set.
	c.mu.Lock()
	c.ended = true
	c.alive.Stop()
	if c.ack != nil {
		c.ack.Stop()
	}
	c.mu.Unlock()
	c.writers.Wait()
	s.mu.Lock()
	s.cur = nil
	s.mu.Unlock()
	// The requests still waiting end with ErrNotConnected now; their
	// answers go out before the Disconnected.
	c.mu.Lock()
	unsent := c.queued.TakeAll() // never written
	c.mu.Unlock()
	c.requests.Wait()
	for _, items := range c.afterJoin {
		unsent = append(unsent, items...)
	}
	if s.sent.managed() {
		// Kept for the next stream, resumed or fresh.
		for _, it := range unsent {
			s.sent.wrote(it)
		}
	} else if lost := append(messagesOf(s.sent.restart()), messagesOf(unsent)...); len(lost) > 0 && !s.isClosing() {
		s.emit(Unconfirmed{Messages: lost})
	}
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
	// confirms: a ping asked for by requestProof, whose answer confirms
	// that many logged messages.
	confirms uint32
}

// conn is one live stream.
type conn struct {
	s         *Session
	netConn   net.Conn
	watch     *readable.Watch // where the idle stream waits for its socket (see read)
	readBy    time.Time       // the read deadline the idle stream waits for (see read)
	in        *streamReader   // what dec reads
	dec       *xml.Decoder
	jid       string  // full JID bound by the server
	mech      string  // SASL mechanism of the login
	maxBytes  int     // the server's stanza size limit (XEP-0478), 0 if none
	smOffered bool    // the server offers stream management
	resumedH  *uint32 // resumed stream: how many of our stanzas the server had

	done     chan struct{}
	doneOnce sync.Once
	err      error
	lastRecv atomic.Int64 // unix nanoseconds of the last data from the server
	busy     atomic.Bool  // the reader is handing a stanza to the receiver
	// lastPing is when the writer last wrote a request the server must
	// answer (a ping or <r/>), in unix nanoseconds: a keepalive waits for
	// PingInterval after it too.
	lastPing atomic.Int64

	// Owned by the reader while it runs (and by the readHeld it waits for).
	smOn      bool                 // stream management is enabled: count inbound stanzas
	sm        smResumption         // our count and the resumption id
	afterJoin map[string][]outItem // room -> messages to send again once it is rejoined

	mu       sync.Mutex
	pending  map[string]*pendingIQ
	archives map[string]*archiveCollector // by MAM query id
	ended    bool                         // no request may start, nothing may be queued any more
	requests sync.WaitGroup               // requests started on this stream (startRequest)
	// queued waits for the writer. It holds room only for what waits: an
	// idle stream holds almost nothing, where a buffered channel held
	// room for maxQueued items.
	queued fifo.Queue[outItem]
	// A writer goroutine runs only while there is something to write (see
	// writer): writing says one runs, and every start and end of one is
	// decided under mu, so that exactly one runs while items wait.
	writing bool
	writers sync.WaitGroup // the running writer, for endStream
	due     timerWork      // what the timers asked the writer to send
	closing bool           // closeStream: </stream:stream> follows what is queued
	closeBy time.Time      // when the closing writes give up
	alive   *time.Timer    // checkAlive's timer
	ack     *time.Timer    // askForAck's timer; nil until first needed
	ackSet  bool           // ack is set to fire
}

// timerWork is what the timers ask the writer to send.
type timerWork uint8

const (
	ackRequest timerWork = 1 << iota // ask the server to confirm what was written (ackDelay has passed)
	keepalive                        // ping: the stream has been quiet for PingInterval
)

// fail records the first cause and tears the connection down.
func (c *conn) fail(err error) {
	c.doneOnce.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		close(c.done)
		c.watch.Stop()
		c.netConn.Close()
	})
}

func (c *conn) cause() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// closeStream ends the stream politely: the writer writes what is
// queued, then </stream:stream>, and closes the socket, all within
// closeWait whatever the server does.
func (c *conn) closeStream() {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	if c.closing {
		return
	}
	c.closing = true
	c.closeBy = time.Now().Add(closeWait)
	c.netConn.SetWriteDeadline(c.closeBy) // a write under way gives up by then too
	c.startWriter()
}

// closeWait is how long closing a stream may take.
const closeWait = time.Second

// send queues a stanza for the writer.
func (c *conn) send(stanza string) error { return c.sendItem(outItem{text: stanza}) }

// sendItem queues it for the writer, starting one if none runs. Once the
// connection has ended nothing more is queued, so that everything queued
// is either written or found by unsent.
func (c *conn) sendItem(it outItem) error {
	if c.maxBytes > 0 && len(it.text)+1 > c.maxBytes {
		// The server announced this limit (XEP-0478) and would close the
		// stream over a bigger stanza: refuse just this one.
		return fmt.Errorf("xmpp: stanza of %d bytes is over the server's limit of %d", len(it.text)+1, c.maxBytes)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		if c.ended {
			c.mu.Unlock()
			return ErrNotConnected
		}
		if c.closing {
			c.mu.Unlock()
			return ErrClosed
		}
		if c.queued.Len() < maxQueued {
			c.queued.Push(it)
			c.startWriter()
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			return errors.New("xmpp: send queue full")
		}
		select {
		case <-c.done:
			return ErrNotConnected
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// maxQueued is how many items may wait for the writer; sendItem waits
// for room beyond that.
const maxQueued = 512

// keepQueuedCap is the largest backing array of the queue kept once it
// drains; a burst's bigger one is released.
const keepQueuedCap = 16

// dequeue removes the oldest queued item, if any.
func (c *conn) dequeue() (outItem, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued.Pop()
}

// startWriter starts a writer unless one runs or the stream has ended;
// c.mu is held.
func (c *conn) startWriter() {
	if c.writing || c.ended {
		return
	}
	c.writing = true
	c.writers.Add(1)
	go c.writer()
}

// writer is the only goroutine writing to the stream, and runs only
// while there is something to write: started by startWriter when an item
// is queued or a timer asks for something, it writes in batches until
// nothing is left, then ends, so that an idle stream costs no goroutine.
// It asks for confirmations of what it wrote (stream management <r/>,
// else a ping) every ackEvery stanzas, and sets the timer that asks for
// the rest within ackDelay. A writer that ends because the stream is done
// leaves c.writing set: none is needed any more.
func (c *conn) writer() {
	defer c.writers.Done()
	// A buffer from the pool the readers share: a writer that ends
	// gives it back instead of leaving it to the collector.
	buf := netidle.Buffer()[:0]
	defer func() { netidle.ReleaseSlice(buf) }()
	for {
		select {
		case <-c.done:
			return
		default:
		}
		buf = c.fill(buf)
		last := false
		if len(buf) == 0 {
			var end bool
			if end, last = c.finish(); end {
				return
			}
			if !last {
				continue
			}
			buf = append(buf, "</stream:stream>"...)
		}
		c.setWriteDeadline()
		if _, err := c.netConn.Write(buf); err != nil {
			c.fail(fmt.Errorf("xmpp: write: %w", err))
			return
		}
		if last {
			c.fail(ErrClosed)
			return
		}
		buf = buf[:0]
		if cap(buf) > 4*writeBatch {
			buf = nil // a huge stanza's buffer is not kept for the next batch
		}
		if c.s.sent.unrequested() {
			c.setAckTimer()
		}
	}
}

// fill appends to buf what the timers asked for, then queued items up to
// about writeBatch bytes (one TLS record and one system call for a burst
// instead of one each), then a confirmation request when ackEvery
// stanzas wait for one.
func (c *conn) fill(buf []byte) []byte {
	c.mu.Lock()
	due := c.due
	c.due = 0
	c.mu.Unlock()
	asked := due&ackRequest != 0 && c.requestProof(true, &buf)
	if due&keepalive != 0 && !asked {
		// A confirmation request just written is answered too: it does
		// for a ping.
		_, ping := c.iqItem("ping", c.s.domain, "get", "<ping xmlns='urn:xmpp:ping'/>", nil)
		buf = c.put(buf, ping)
		asked = true
	}
	for len(buf) < writeBatch {
		it, ok := c.dequeue()
		if !ok {
			break
		}
		buf = c.put(buf, it)
	}
	if c.requestProof(false, &buf) || asked {
		c.lastPing.Store(time.Now().UnixNano())
	}
	return buf
}

// finish is called by a writer with nothing to write: it ends the writer
// (end) unless something was queued or asked for meanwhile, or has it
// close the stream (last) after closeStream. It decides under c.mu, as
// startWriter is called, so that what comes meanwhile is written by this
// writer or starts the next one.
func (c *conn) finish() (end, last bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.queued.Len() > 0 || c.due != 0:
		return false, false
	case c.closing:
		return false, true
	}
	c.writing = false
	return true, false
}

// setWriteDeadline sets the deadline of the writer's next write:
// DeadTimeout from now, or closeStream's. Under c.mu, so that it never
// takes back closeStream's.
func (c *conn) setWriteDeadline() {
	c.mu.Lock()
	defer c.mu.Unlock()
	deadline := time.Now().Add(c.s.cfg.DeadTimeout)
	if c.closing {
		deadline = c.closeBy
	}
	c.netConn.SetWriteDeadline(deadline)
}

// put appends it to the write buffer and logs it as written.
func (c *conn) put(buf []byte, it outItem) []byte {
	buf = append(append(buf, it.text...), '\n')
	if it.enableSM {
		c.s.sent.startSM()
	}
	c.s.sent.wrote(it)
	return buf
}

// requestProof appends to buf a request that the server confirm what was
// written, when it is time (see sentLog.needProof): <r/> with stream
// management, else a ping, whose answer confirms every message before it.
func (c *conn) requestProof(timer bool, buf *[]byte) bool {
	mark, need := c.s.sent.needProof(timer)
	if !need {
		return false
	}
	if c.s.sent.managed() {
		*buf = append(*buf, "<r xmlns='"+nsSM+"'/>\n"...)
		return true
	}
	id := c.register("ping", c.s.domain, nil)
	c.mu.Lock()
	c.pending[id].confirms = mark
	c.mu.Unlock()
	*buf = fmt.Appendf(*buf, "<iq type='get' id='%s' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>\n", id, escapeAttr(c.s.domain))
	return true
}

// writeBatch is roughly how many bytes the writer gathers into one write.
const writeBatch = 16 * 1024

// ackDelay is how long an unconfirmed stanza waits at most before a
// confirmation is asked for.
const ackDelay = time.Second

// setAckTimer has a confirmation of what was written asked for within
// ackDelay, unless the timer is already set.
func (c *conn) setAckTimer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ackSet || c.ended {
		return
	}
	c.ackSet = true
	if c.ack == nil {
		c.ack = time.AfterFunc(ackDelay, c.askForAck)
	} else {
		c.ack.Reset(ackDelay)
	}
}

// askForAck runs on c.ack: a writer asks for a confirmation of what was
// written since the last request, if anything.
func (c *conn) askForAck() {
	c.mu.Lock()
	c.ackSet = false
	c.mu.Unlock()
	if c.s.sent.unrequested() {
		c.ask(ackRequest)
	}
}

// ask has a writer send what a timer found due, starting one if none
// runs.
func (c *conn) ask(w timerWork) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.due |= w
	c.startWriter()
}

// checkAlive runs on c.alive, set for the next moment when something may
// be due: it declares the stream dead after DeadTimeout of silence from
// the server, has a writer ping it after PingInterval of silence, and sets
// the timer again. A timer, not a goroutine waiting: an idle stream costs
// no stack.
func (c *conn) checkAlive() {
	select {
	case <-c.done:
		return
	default:
	}
	cfg := &c.s.cfg
	// While the reader hands a stanza to a slow receiver of events,
	// silence is not counted, so that a healthy stream does not look
	// dead: look again soon.
	next := max(min(cfg.PingInterval/4, time.Second), 10*time.Millisecond)
	if !c.busy.Load() {
		now := time.Now().UnixNano()
		recv := c.lastRecv.Load()
		idle := time.Duration(now - recv)
		if idle >= cfg.DeadTimeout {
			c.fail(fmt.Errorf("xmpp: no data from the server for %v", idle.Round(time.Second)))
			return
		}
		untilPing := cfg.PingInterval - time.Duration(now-max(recv, c.lastPing.Load()))
		if untilPing <= 0 {
			c.ask(keepalive)
			untilPing = cfg.PingInterval
		}
		next = min(untilPing, cfg.DeadTimeout-idle)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ended {
		c.alive.Reset(next)
	}
}

// read reads the stream until it fails or is closed, and returns true;
// or returns false once nothing is left to read and it waits for the
// socket in c.watch, to go on in a new goroutine (readWoken) once the
// server sends, the read deadline passes or the stream closes. An idle
// stream keeps no goroutine: one blocked in a read would keep its stack
// (8 KiB after a chat message through encoding/xml) for as long as the
// stream is idle, every user's. Without a socket to wait for (a test's
// pipe), it reads in this goroutine until the stream ends. woken: c.watch
// said the socket can be read, so the next read reads it.
func (c *conn) read(woken bool) bool {
	for {
		// The deadline is a second line of defence behind checkAlive,
		// for a writer stuck in a blocked write.
		deadline := c.readDeadline()
		if woken && !time.Now().Before(c.readBy) {
			// Woken at the deadline it waited for: the read times out.
			deadline = c.readBy
		}
		held, err := c.dataHeld(deadline)
		if err == nil && !held && !woken {
			c.readBy = deadline
			c.in.release() // an idle stream holds no read buffer either
			c.watch.Await(deadline, c.readWoken)
			return false
		}
		woken = false
		for err == nil {
			if err = c.readElement(); err != nil {
				break
			}
			select {
			case <-c.done:
				return true
			default:
			}
			if held, err = c.dataHeld(c.readDeadline()); !held {
				break
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = errors.New("xmpp: server closed the connection")
			}
			c.fail(err)
			return true
		}
		select {
		case <-c.done:
			return true
		default:
		}
	}
}

// readWoken goes on reading once c.watch says the socket can be read,
// and goes on with the supervision once the stream has ended.
func (c *conn) readWoken() {
	if c.read(true) {
		c.s.streamEnded(c)
	}
}

// readDeadline is the deadline of the stream's next read.
func (c *conn) readDeadline() time.Time {
	return time.Now().Add(c.s.cfg.DeadTimeout + c.s.cfg.PingInterval)
}

// readElement reads the stream's next token and handles the element it
// starts; it returns why the stream cannot go on.
func (c *conn) readElement() error {
	tok, err := c.dec.Token()
	if err != nil {
		return err
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
		return err
	case xml.EndElement:
		if t.Name.Space == nsStream && t.Name.Local == "stream" {
			return errors.New("xmpp: server closed the stream")
		}
	}
	return nil
}

func (c *conn) handle(start xml.StartElement) error {
	switch start.Name.Space + " " + start.Name.Local {
	case nsClient + " message":
		m := messages.Get().(*xmlMessage)
		err := c.dec.DecodeElement(m, &start)
		if err == nil {
			c.handleMessage(m)
		}
		*m = xmlMessage{}
		messages.Put(m)
		if err != nil {
			return fmt.Errorf("xmpp: bad message: %w", err)
		}
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
	case nsSM + " r", nsSM + " a", nsSM + " enabled", nsSM + " failed":
		return c.handleSM(start)
	default:
		// Unknown top-level elements are skipped.
		return c.dec.Skip()
	}
	if c.smOn {
		c.sm.inbound++ // handled: stream management counts it
	}
	return nil
}

// messages holds the structs messages are decoded into, for the next
// message: one goes back once its message is handled, since nothing keeps
// it (events keep what its fields point to), instead of 400 bytes of
// garbage a message.
var messages = sync.Pool{New: func() any { return new(xmlMessage) }}

// fromServer reports whether from is our account or its server (or empty,
// which means the same).
func (c *conn) fromAccount(from string) bool {
	return from == "" || strings.EqualFold(BareJID(from), c.s.bare) || strings.EqualFold(from, c.s.domain)
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
		ev := Subscription{From: BareJID(p.From), Type: p.Type, Status: CleanText(pickText(p.Status))}
		if p.Nick != nil {
			ev.Nick = CleanText(*p.Nick)
		}
		c.s.emit(ev)
	case "", "unavailable", "error":
		ev := p.toPresence()
		if ev.Type == "" && ev.MUC != nil && slices.Contains(ev.MUC.Codes, 110) {
			c.rejoined(BareJID(ev.From))
		}
		c.s.emit(ev)
	default:
		// probe and unknown types are for servers.
	}
}

// rejoined sends the messages that waited for room to be joined again
// after a fresh login.
func (c *conn) rejoined(room string) {
	for _, it := range c.afterJoin[room] {
		if err := c.sendItem(it); err != nil {
			return // the stream is gone: serve finds them in afterJoin
		}
		c.afterJoin[room] = c.afterJoin[room][1:]
	}
	delete(c.afterJoin, room)
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
	if c.blockPush(iq) {
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

// iqItem registers an IQ of ours and returns its id and stanza; payload
// must be well-formed XML.
func (c *conn) iqItem(op, to, typ, payload string, reply chan *xmlIQ) (string, outItem) {
	id := c.register(op, to, reply)
	toAttr := ""
	if to != "" {
		toAttr = " to='" + escapeAttr(to) + "'"
	}
	// Concatenated, not formatted: the payload (an OMEMO bundle is 10 KB)
	// is copied once, and fmt's pooled buffer does not grow to its size.
	return id, outItem{text: "<iq type='" + typ + "' id='" + id + "'" + toAttr + ">" + payload + "</iq>"}
}

// requestIQ sends an IQ of ours; payload must be well-formed XML.
func (c *conn) requestIQ(op, to, typ, payload string, reply chan *xmlIQ) (string, error) {
	id, it := c.iqItem(op, to, typ, payload, reply)
	err := c.sendItem(it)
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
			return
		}
		err := iq.Error.errorOf()
		c.s.log.Warn("xmpp: roster request failed", "err", err)
		c.s.emit(RequestDone{ID: iq.ID, Op: p.op, Err: err})
	case "ping":
		// Any answer, even an error, proves the stream is alive (the
		// reader has already noted the traffic) and that the server got
		// everything written before the ping.
		if p.confirms != 0 {
			c.s.sent.ack(p.confirms)
		}
	case "carbons":
		if iq.Type == "error" {
			c.s.log.Warn("xmpp: server refused carbons", "err", iq.Error.toStanzaError())
		}
	}
}
