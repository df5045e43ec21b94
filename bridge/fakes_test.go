package bridge

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/internal/pipenet"
	"xircd/ircd"
	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// errFakeNotConnected is what the session returns while the stream is down.
var errFakeNotConnected = fmt.Errorf("fake: %w", xmpp.ErrNotConnected)

// The real session satisfies the interface the bridge consumes.
var _ XMPP = (*xmpp.Session)(nil)

// fakeXMPP records requests as readable lines and lets the test feed events.
// The answers to requests are queued and delivered, as events, by the
// harness's next barrier (unless holdAnswers keeps them for the test).
type fakeXMPP struct {
	// A fed event is handed over through events, which has no room: the
	// feeder knows when Run took it. ready has a token for each.
	events chan xmpp.Event
	ready  chan struct{}
	jid    string

	mu           sync.Mutex
	wake         func() // NotifyEvents'
	calls        []string
	nextID       int // of messages
	nextReq      int // of requests
	connected    bool
	failWith     error // returned by SendMessage when set
	archive      []xmpp.Message
	archiveQ     []xmpp.ArchiveQuery
	pageMax      int              // the archive's largest page; 0: as asked
	noMAM        bool             // the account keeps no archive
	bookmarks    []xmpp.Bookmark  // served by Bookmarks
	displayed    []xmpp.Displayed // served by DisplayedMarkers
	answers      []xmpp.Event     // answers not yet delivered
	holdAnswers  bool             // the test delivers the answers itself
	omemoDevices []uint32         // the account's OMEMO device list
	omemoCalls   []string         // OMEMO requests, as recordOMEMO writes them
	omemoRefusal error            // the answer to PublishOMEMOBundle
	omemoBundle  omemo.Bundle     // the bundle last published
	// omemoLists are other accounts' device lists and omemoBundles the
	// bundles, by sessionKey; sentOMEMO the encrypted messages sent.
	omemoLists   map[string][]uint32
	omemoBundles map[string]omemo.Bundle
	sentOMEMO    []xmpp.OutMessage
}

// request starts a request answered by the event answer makes of its id.
func (f *fakeXMPP) request(answer func(id string) xmpp.Event) (string, error) {
	if !f.isConnected() {
		return "", errFakeNotConnected
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextReq++
	id := fmt.Sprintf("q%d", f.nextReq)
	f.answers = append(f.answers, answer(id))
	return id, nil
}

// nextAnswer returns the oldest answer not yet delivered, unless the test
// holds them.
func (f *fakeXMPP) nextAnswer() (xmpp.Event, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.holdAnswers || len(f.answers) == 0 {
		return nil, false
	}
	ev := f.answers[0]
	f.answers = f.answers[1:]
	return ev, true
}

// takeAnswers returns and forgets the answers not yet delivered.
func (f *fakeXMPP) takeAnswers() []xmpp.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.answers
	f.answers = nil
	return a
}

// QueryArchive serves f.archive as a XEP-0313 archive would: the account's
// (chats) or a room's (its groupchat messages), filtered by q (but not by
// time: the catch-up's tests keep older messages), in pages of
// q.Max (at most f.pageMax when set) after q.After, before q.Before or
// from the end. An archive id it does not have is item-not-found.
func (f *fakeXMPP) QueryArchive(ctx context.Context, q xmpp.ArchiveQuery) (string, error) {
	return f.request(func(id string) xmpp.Event {
		f.archiveQ = append(f.archiveQ, q)
		var sel []xmpp.Message
		for _, m := range f.archive {
			if f.archived(q, m) {
				sel = append(sel, m)
			}
		}
		notFound := xmpp.ArchivePage{ID: id, Err: &xmpp.StanzaError{Type: "cancel", Condition: "item-not-found"}}
		index := func(id string) int {
			return slices.IndexFunc(sel, func(m xmpp.Message) bool { return m.StanzaID == id })
		}
		lo, hi := 0, len(sel)
		for _, after := range []string{q.AfterID, q.After} {
			if after != "" {
				i := index(after)
				if i < 0 {
					return notFound
				}
				lo = max(lo, i+1)
			}
		}
		for _, before := range []string{q.BeforeID, q.Before} {
			if before != "" {
				i := index(before)
				if i < 0 {
					return notFound
				}
				hi = min(hi, i)
			}
		}
		hi = max(lo, hi)
		size := q.Max
		if f.pageMax > 0 {
			size = min(size, f.pageMax)
		}
		from, to := lo, min(hi, lo+size)
		if q.Before != "" || q.FromEnd && q.After == "" {
			from, to = max(lo, hi-size), hi
		}
		p := xmpp.ArchivePage{ID: id, Messages: append([]xmpp.Message(nil), sel[from:to]...), Complete: from == lo && to == hi}
		if to > from {
			p.First, p.Last = sel[from].StanzaID, sel[to-1].StanzaID
		}
		return p
	})
}

// archived reports whether q selects m.
func (f *fakeXMPP) archived(q xmpp.ArchiveQuery, m xmpp.Message) bool {
	from, to := xmpp.BareJID(m.From), xmpp.BareJID(m.To)
	peer := from
	if from == f.jid {
		peer = to
	}
	switch {
	case q.Archive == "" && m.Type == "groupchat", q.Archive != "" && from != q.Archive:
		return false
	case q.With != "" && peer != q.With:
		return false
	case len(q.IDs) > 0 && !slices.Contains(q.IDs, m.StanzaID):
		return false
	}
	return true
}

// DiscoFeatures answers that the account keeps an archive, unless noMAM.
func (f *fakeXMPP) DiscoFeatures(ctx context.Context, jid string) (string, error) {
	return f.request(func(id string) xmpp.Event {
		if f.noMAM {
			return xmpp.DiscoInfo{ID: id, JID: f.jid}
		}
		return xmpp.DiscoInfo{ID: id, JID: f.jid, Features: []string{xmpp.FeatureMAM}}
	})
}

func (f *fakeXMPP) JoinRoom(room, nick, password string, hist int, since time.Time) error {
	if !f.isConnected() {
		return errFakeNotConnected
	}
	s := ""
	if !since.IsZero() {
		s = serverTime(since)
	}
	f.record("join %s nick=%s password=%q since=%s", room, nick, password, s)
	return nil
}

func (f *fakeXMPP) LeaveRoom(room, status string) error {
	f.record("leave %s status=%q", room, status)
	return nil
}

func (f *fakeXMPP) InviteToRoom(room, to, reason string) error {
	f.record("invite %s to=%s", room, to)
	return nil
}

// SetRole is refused for the role "visitor".
func (f *fakeXMPP) SetRole(ctx context.Context, room, nick, role, reason string) (string, error) {
	f.record("set-role %s nick=%s role=%s reason=%q", room, nick, role, reason)
	return f.request(func(id string) xmpp.Event {
		if role == "visitor" {
			return xmpp.RequestDone{ID: id, Op: "set-role", Err: &xmpp.StanzaError{Type: "auth", Condition: "forbidden"}}
		}
		return xmpp.RequestDone{ID: id, Op: "set-role"}
	})
}

func (f *fakeXMPP) AcceptRoomDefaults(ctx context.Context, room string) (string, error) {
	f.record("accept-defaults %s", room)
	return f.request(func(id string) xmpp.Event { return xmpp.RequestDone{ID: id, Op: "accept-room-defaults"} })
}

func (f *fakeXMPP) RoomItems(ctx context.Context, service string) (string, error) {
	f.record("room-items %s", service)
	return f.request(func(id string) xmpp.Event {
		return xmpp.RoomList{ID: id, Service: service, Rooms: []xmpp.RoomItem{{JID: "lobby@conference.example.org", Name: "The lobby"}, {JID: "bad,room@conference.example.org"}}}
	})
}

func (f *fakeXMPP) Bookmarks(ctx context.Context) (string, error) {
	return f.request(func(id string) xmpp.Event {
		return xmpp.BookmarkList{ID: id, Bookmarks: append([]xmpp.Bookmark(nil), f.bookmarks...)}
	})
}

func (f *fakeXMPP) SetBookmark(ctx context.Context, bm xmpp.Bookmark) (string, error) {
	f.record("bookmark-set %s autojoin=%t password=%q", bm.JID, bm.Autojoin, bm.Password)
	return f.request(func(id string) xmpp.Event {
		f.bookmarks = append(f.bookmarks, bm)
		return xmpp.RequestDone{ID: id, Op: "set-bookmark"}
	})
}

func (f *fakeXMPP) RemoveBookmark(ctx context.Context, room string) (string, error) {
	f.record("bookmark-remove %s", room)
	return f.request(func(id string) xmpp.Event { return xmpp.RequestDone{ID: id, Op: "remove-bookmark"} })
}

func newFakeXMPP() *fakeXMPP {
	return &fakeXMPP{events: make(chan xmpp.Event), ready: make(chan struct{}, 1), jid: "me@example.org", connected: true}
}

func (f *fakeXMPP) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeXMPP) isConnected() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected
}

func (f *fakeXMPP) setConnected(v bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connected = v
}

// takeCalls returns and forgets the requests made so far.
func (f *fakeXMPP) takeCalls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *fakeXMPP) EventsReady() <-chan struct{} { return f.ready }

func (f *fakeXMPP) NotifyEvents(wake func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wake = wake
}

// notify tells the bridge that a token waits in ready.
func (f *fakeXMPP) notify() {
	f.mu.Lock()
	wake := f.wake
	f.mu.Unlock()
	if wake != nil {
		wake()
	}
}

func (f *fakeXMPP) NextEvent() (xmpp.Event, bool) {
	ev, ok := <-f.events
	return ev, ok
}

// send hands ev to Run and returns once Run took it; false when Run has
// returned (done) or timeout came first.
func (f *fakeXMPP) send(ev xmpp.Event, done <-chan struct{}, timeout <-chan time.Time) bool {
	select {
	case f.ready <- struct{}{}:
	case <-done:
		return false
	case <-timeout:
		return false
	}
	f.notify()
	select {
	case f.events <- ev:
		return true
	case <-done:
		return false
	case <-timeout:
		return false
	}
}

func (f *fakeXMPP) SendMessage(m xmpp.OutMessage) (string, error) {
	if !f.isConnected() {
		return "", errFakeNotConnected
	}
	f.mu.Lock()
	if f.failWith != nil {
		f.mu.Unlock()
		return "", f.failWith
	}
	f.mu.Unlock()
	id := m.ID
	if id == "" {
		id = f.NewID()
	}
	refs := ""
	if m.Reply != nil {
		refs += fmt.Sprintf(" reply=%s/%s quote=%q", m.Reply.To, m.Reply.ID, m.Reply.Quote)
	}
	if m.Reactions != nil {
		refs += fmt.Sprintf(" reactions=%s%q", m.Reactions.ID, m.Reactions.Emojis)
	}
	if m.Replace != "" {
		refs += " replace=" + m.Replace
	}
	if m.OMEMO != nil {
		refs += " omemo"
		f.mu.Lock()
		f.sentOMEMO = append(f.sentOMEMO, m)
		f.mu.Unlock()
	}
	if m.HasSubject {
		f.record("message id=%s to=%s type=%s state=%s body=%q subject=%q%s", id, m.To, m.Type, m.ChatState, m.Body, m.Subject, refs)
	} else {
		f.record("message id=%s to=%s type=%s state=%s body=%q%s", id, m.To, m.Type, m.ChatState, m.Body, refs)
	}
	return id, nil
}

// NewID numbers ids: id1, id2, ...
func (f *fakeXMPP) NewID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	return fmt.Sprintf("id%d", f.nextID)
}

func (f *fakeXMPP) SetPresence(show, status string) error {
	if !f.isConnected() {
		return errFakeNotConnected
	}
	f.record("presence show=%q status=%q", show, status)
	return nil
}

func (f *fakeXMPP) RosterSet(item xmpp.RosterItem) (string, error) {
	if len(item.Groups) > 0 {
		f.record("roster-set %s name=%q groups=%q", item.JID, item.Name, item.Groups)
	} else {
		f.record("roster-set %s name=%q", item.JID, item.Name)
	}
	return f.request(func(id string) xmpp.Event { return xmpp.RequestDone{ID: id, Op: "roster-set"} })
}

func (f *fakeXMPP) RosterRemove(jid string) (string, error) {
	f.record("roster-remove %s", jid)
	return f.request(func(id string) xmpp.Event { return xmpp.RequestDone{ID: id, Op: "roster-remove"} })
}

func (f *fakeXMPP) Subscribe(jid string) error   { f.record("subscribe %s", jid); return nil }
func (f *fakeXMPP) Approve(jid string) error     { f.record("approve %s", jid); return nil }
func (f *fakeXMPP) Deny(jid string) error        { f.record("deny %s", jid); return nil }
func (f *fakeXMPP) Unsubscribe(jid string) error { f.record("unsubscribe %s", jid); return nil }
func (f *fakeXMPP) JID() string                  { return f.jid }
func (f *fakeXMPP) Close() error {
	close(f.events)
	select {
	case f.ready <- struct{}{}:
	default:
	}
	f.notify()
	return nil
}

// ircClient is an IRC client of the real ircd, connected over net.Pipe,
// whose server has the bridge as its backend: what the tests send goes
// through ircd's dispatch, and what they read is what ircd wrote.
type ircClient struct {
	t  *testing.T
	h  *harness
	nc net.Conn
	d  ircd.Downstream // the connection as the bridge got it
	// detached is closed once the bridge has been told the client left.
	detached chan struct{}
	pongs    chan string

	// burst is the welcome burst ircd sent at registration.
	burst []string

	mu      sync.Mutex
	got     []string // lines received and not taken yet
	panicOn string   // Send panics on this command, to test recovery
	panics  int      // how often Send has panicked
	left    bool     // the bridge has handled the client's detach
	syncs   int
	held    *gatedAnswer // see gateNextAnswer
}

// gatedAnswer is the bridge's answer to a command, kept from ircd:
// answered yields Handle's result once the bridge has answered, and ircd
// queues the replies only once it is released.
type gatedAnswer struct {
	answered chan error
	released chan struct{}
	once     sync.Once
}

// release lets ircd send the answer.
func (a *gatedAnswer) release() { a.once.Do(func() { close(a.released) }) }

// gateNextAnswer makes ircd wait with the answer to the client's next
// command for the bridge until the test releases it: the moment
// between the bridge answering and ircd sending the answer. The client
// cannot sync meanwhile (its PING waits behind the command).
func (c *ircClient) gateNextAnswer() *gatedAnswer {
	a := &gatedAnswer{answered: make(chan error, 1), released: make(chan struct{})}
	c.t.Cleanup(a.release)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.held = a
	return a
}

// awaitLine returns once a line containing s arrived, delivering the
// answers to the XMPP requests made meanwhile: for a command that waits
// for XMPP's answer, which a sync would wait behind.
func (c *ircClient) awaitLine(s string) {
	c.t.Helper()
	waitFor(c.t, func() bool {
		c.h.barrier()
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, l := range c.got {
			if strings.Contains(l, s) {
				return true
			}
		}
		return false
	})
}

// panicsOn makes Send panic on command ("" stops it) and returns how often
// it has panicked so far.
func (c *ircClient) panicsOn(command string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.panicOn = command
	return c.panics
}

// read collects what ircd sends; PONGs to the client's own sync PINGs
// mark how far the server has got.
func (c *ircClient) read() {
	sc := bufio.NewScanner(c.nc)
	for sc.Scan() {
		line := sc.Text()
		m, err := irc.ParseMessage(line)
		if err == nil && m.Command == "PONG" && strings.HasPrefix(m.Trailing(), "sync") {
			c.pongs <- m.Trailing()
			continue
		}
		c.mu.Lock()
		c.got = append(c.got, line)
		c.mu.Unlock()
	}
	close(c.pongs)
}

// write sends raw lines to ircd.
func (c *ircClient) write(lines ...string) {
	c.t.Helper()
	for _, l := range lines {
		c.nc.SetWriteDeadline(time.Now().Add(waitTimeout))
		if _, err := io.WriteString(c.nc, l+"\r\n"); err != nil {
			c.t.Fatalf("send %q: %v", l, err)
		}
	}
}

// sync returns once ircd has handled everything the client sent and
// written everything queued for it before.
func (c *ircClient) sync() {
	c.t.Helper()
	c.mu.Lock()
	c.syncs++
	token := "sync" + strconv.Itoa(c.syncs)
	c.mu.Unlock()
	c.write("PING " + token)
	for {
		select {
		case got, ok := <-c.pongs:
			if !ok {
				c.t.Fatalf("connection closed while waiting for %s", token)
			}
			if got == token {
				return
			}
		case <-time.After(waitTimeout):
			c.t.Fatalf("no PONG %s from ircd", token)
		}
	}
}

// Nick is the client's nick as ircd has it.
func (c *ircClient) Nick() string { return c.d.Nick() }

// take returns and forgets the lines received so far.
func (c *ircClient) take() []string {
	c.t.Helper()
	c.h.barrier()
	c.sync()
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.got
	c.got = nil
	return g
}

// expect checks that exactly want arrived since the last check.
func (c *ircClient) expect(want ...string) {
	c.t.Helper()
	got := c.take()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		c.t.Fatalf("client %s got:\n\t%s\nwant:\n\t%s", c.Nick(), strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// expectContains checks that every one of want arrived (among others).
func (c *ircClient) expectContains(want ...string) []string {
	c.t.Helper()
	got := c.take()
	for _, w := range want {
		found := false
		for _, g := range got {
			if g == w {
				found = true
			}
		}
		if !found {
			c.t.Fatalf("client %s did not get %q; got:\n\t%s", c.Nick(), w, strings.Join(got, "\n\t"))
		}
	}
	return got
}

// send sends one command line and returns once ircd and the bridge have
// handled it.
func (c *ircClient) send(line string) {
	c.t.Helper()
	c.write(line)
	c.sync()
}

// detach quits and returns once the bridge knows.
func (c *ircClient) detach() {
	c.t.Helper()
	c.write("QUIT :bye")
	select {
	case <-c.detached:
	case <-time.After(waitTimeout):
		c.t.Fatal("the bridge was not told that the client quit")
	}
	c.h.barrier()
	c.mu.Lock()
	c.left = true
	c.mu.Unlock()
}

// check fails the test for a message the bridge should never produce, and
// panics on c.panicOn.
func (c *ircClient) check(m *irc.Message) {
	c.mu.Lock()
	if c.left {
		c.t.Errorf("the bridge sent %q to a client that had left", m.String())
	}
	p := c.panicOn
	if p != "" && m.Command == p {
		c.panics++
		c.mu.Unlock()
		panic("test panic in Send")
	}
	c.mu.Unlock()
	for _, p := range m.Params {
		if strings.ContainsAny(p, "\r\n\x00") {
			c.t.Errorf("line with CR/LF/NUL sent: %q", m.String())
		}
	}
}

// watchedClient is the connection as the bridge sees it: every message
// the bridge sends is checked first.
type watchedClient struct {
	ircd.Downstream
	c *ircClient
}

func (w watchedClient) Send(m *irc.Message) {
	w.c.check(m)
	w.Downstream.Send(m)
}

// watchedSession checks the replies of every command and tells the test
// when the bridge has been told of a detach.
type watchedSession struct {
	ircd.Session
	c *ircClient
}

func (w watchedSession) Handle(r *ircd.Request) error {
	err := w.Session.Handle(r)
	for _, m := range r.Replies() {
		w.c.check(m)
	}
	w.c.mu.Lock()
	held := w.c.held
	w.c.held = nil
	w.c.mu.Unlock()
	if held != nil {
		held.answered <- err
		<-held.released
	}
	return err
}

func (w watchedSession) Detach(reason string) {
	w.Session.Detach(reason)
	close(w.c.detached)
}

// watchedBridge is the backend ircd serves: the bridge, with the client
// being registered watched.
type watchedBridge struct {
	*Bridge
	h *harness
}

func (w watchedBridge) Attach(d ircd.Downstream) ircd.Session {
	c := w.h.registering
	c.d = watchedClient{Downstream: d, c: c}
	return watchedSession{Session: w.Bridge.Attach(c.d), c: c}
}

// waitTimeout bounds every wait for ircd or the bridge; nothing should
// take long, the bound only keeps a broken test from hanging.
const waitTimeout = 10 * time.Second

// harness runs a Bridge over a fakeXMPP, behind a real ircd.Server.
type harness struct {
	t        *testing.T
	b        *Bridge
	x        *fakeXMPP
	srv      *ircd.Server
	listener *pipenet.Listener
	cancel   context.CancelFunc
	done     chan error
	once     sync.Once
	// registering is the client whose registration is under way; attach
	// registers one at a time.
	registering *ircClient
}

// fixedNow is the clock of every test bridge: 2026-03-04 05:06:07 UTC, read
// in a zone west of UTC as time.Now would be on a server in New York, so
// that visible stamps are seen to be converted to UTC.
var fixedNow = time.Date(2026, 3, 4, 0, 6, 7, 0, time.FixedZone("UTC-5", -5*60*60))

// newHarness starts a bridge with cfg; tweaks change it before it runs.
func newHarness(t *testing.T, cfg Config, tweaks ...func(*Bridge)) *harness {
	t.Helper()
	if cfg.ServerName == "" {
		cfg.ServerName = "irc.test"
	}
	x := newFakeXMPP()
	b, err := New(cfg, x)
	if err != nil {
		t.Fatal(err)
	}
	b.settleAfter = 0
	// Commands are answered at once, so that tests can send them and then
	// play XMPP's answer; TestJoinAnsweredOnceTheRoomLetsUsIn holds them.
	b.holdFor = 0
	b.now = func() time.Time { return fixedNow }
	msgids := 0
	b.newMsgID = func() string { msgids++; return "m" + strconv.Itoa(msgids) }
	b.start = fixedNow.Unix()
	for _, f := range tweaks {
		f(b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, b: b, x: x, cancel: cancel, done: make(chan error, 1), listener: pipenet.Listen()}
	h.srv = ircd.NewServer(ircd.Config{ServerName: cfg.ServerName, Logger: slog.New(slog.DiscardHandler)}, watchedBridge{Bridge: b, h: h})
	b.SetCapSwitch(h.srv.SetCapAvailable)
	served := make(chan error, 1)
	go func() { served <- h.srv.Serve(h.listener) }()
	go func() { h.done <- b.Run(ctx) }()
	t.Cleanup(func() {
		h.srv.Shutdown("test over")
		<-served
		h.stop()
	})
	return h
}

func (h *harness) stop() {
	h.once.Do(func() {
		h.cancel()
		select {
		case <-h.done:
		case <-time.After(waitTimeout):
			h.t.Error("Run did not return")
		}
	})
}

// barrier returns once everything posted before has been processed, and
// the answers the fake session queued meanwhile delivered.
func (h *harness) barrier() {
	for {
		h.b.CheckNick("barrier-nick")
		ev, ok := h.x.nextAnswer()
		if !ok {
			return
		}
		if !h.x.send(ev, h.b.done, nil) {
			return
		}
	}
}

// event feeds one XMPP event and waits until it has been processed.
func (h *harness) event(ev xmpp.Event) {
	h.t.Helper()
	if !h.x.send(ev, h.b.done, time.After(waitTimeout)) {
		h.t.Fatal("bridge does not read events")
	}
	h.barrier()
}

// attach connects a client to ircd and registers it with nick and
// capabilities; what the bridge sends once it is attached is left to read.
func (h *harness) attach(nick string, caps ...string) *ircClient {
	h.t.Helper()
	return h.attachUser(nick, "user", caps...)
}

// attachUser is attach with the username given in USER.
func (h *harness) attachUser(nick, user string, caps ...string) *ircClient {
	h.t.Helper()
	a, err := h.listener.Dial(waitTimeout)
	if err != nil {
		h.t.Fatal(err)
	}
	c := &ircClient{t: h.t, h: h, nc: a, detached: make(chan struct{}), pongs: make(chan string, 1)}
	h.t.Cleanup(func() { a.Close() })
	go c.read()
	h.registering = c
	if len(caps) > 0 {
		c.write("CAP REQ :" + strings.Join(caps, " "))
	}
	c.write("NICK "+nick, "USER "+user+" 0 * :Real Name", "CAP END")
	c.sync()
	h.registering = nil
	c.mu.Lock()
	defer c.mu.Unlock()
	// Drop the CAP ACK and the welcome burst, which ends with the MOTD.
	for i, line := range c.got {
		if m, err := irc.ParseMessage(line); err == nil && (m.Command == irc.ERR_NOMOTD || m.Command == irc.RPL_ENDOFMOTD) {
			c.burst, c.got = c.got[:i+1], c.got[i+1:]
			return c
		}
	}
	h.t.Fatalf("client %s was not registered:\n\t%s", nick, strings.Join(c.got, "\n\t"))
	return nil
}

// connect brings the fake session online with a roster.
func (h *harness) connect(items ...xmpp.RosterItem) {
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	h.event(xmpp.Roster{Items: items})
}

// expectCalls checks the XMPP requests made since the last check.
func (h *harness) expectCalls(want ...string) {
	h.t.Helper()
	h.barrier()
	got := h.x.takeCalls()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("XMPP requests:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func item(jid, name string) xmpp.RosterItem {
	return xmpp.RosterItem{JID: jid, Name: name, Subscription: "both"}
}

func avail(from, show, status string, prio int) xmpp.Presence {
	return xmpp.Presence{From: from, Show: show, Status: status, Priority: prio}
}

// OMEMO: the account's device list is omemoDevices, and publications
// change it. Its requests are recorded apart (takeOMEMOCalls), as every
// login with a state_dir makes them.
func (f *fakeXMPP) OMEMODevices(ctx context.Context, jid string) (string, error) {
	f.recordOMEMO("devices %s", jid)
	f.mu.Lock()
	ids, of := slices.Clone(f.omemoDevices), f.jid
	if jid != "" && jid != f.jid {
		ids, of = slices.Clone(f.omemoLists[jid]), jid
	}
	f.mu.Unlock()
	return f.request(func(id string) xmpp.Event { return xmpp.OMEMODeviceList{ID: id, JID: of, Devices: ids} })
}

// OMEMOBundle serves omemoBundles; a device without one is
// xmpp.ErrNoOMEMOBundle.
func (f *fakeXMPP) OMEMOBundle(ctx context.Context, jid string, device uint32) (string, error) {
	f.recordOMEMO("bundle %s %d", jid, device)
	f.mu.Lock()
	b, ok := f.omemoBundles[sessionKey(jid, device)]
	f.mu.Unlock()
	return f.request(func(id string) xmpp.Event {
		if !ok {
			return xmpp.OMEMOBundle{ID: id, JID: jid, DeviceID: device, Err: xmpp.ErrNoOMEMOBundle}
		}
		return xmpp.OMEMOBundle{ID: id, JID: jid, DeviceID: device, Bundle: b}
	})
}

func (f *fakeXMPP) PublishOMEMODevices(ctx context.Context, ids []uint32) (string, error) {
	f.recordOMEMO("publish devices %v", ids)
	f.mu.Lock()
	f.omemoDevices = slices.Clone(ids)
	f.mu.Unlock()
	return f.request(func(id string) xmpp.Event { return xmpp.RequestDone{ID: id, Op: "publish-omemo-devicelist"} })
}

func (f *fakeXMPP) PublishOMEMOBundle(ctx context.Context, b omemo.Bundle) (string, error) {
	f.recordOMEMO("publish bundle %d", b.DeviceID)
	f.mu.Lock()
	f.omemoBundle = b
	f.mu.Unlock()
	return f.request(func(id string) xmpp.Event {
		return xmpp.RequestDone{ID: id, Op: "publish-omemo-bundle", Err: f.omemoRefusal}
	})
}

func (f *fakeXMPP) recordOMEMO(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.omemoCalls = append(f.omemoCalls, fmt.Sprintf(format, args...))
}

// expectOMEMOCalls checks the OMEMO requests made since the last check.
func (h *harness) expectOMEMOCalls(want ...string) {
	h.t.Helper()
	h.barrier()
	h.x.mu.Lock()
	got := h.x.omemoCalls
	h.x.omemoCalls = nil
	h.x.mu.Unlock()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		h.t.Fatalf("OMEMO requests:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}
