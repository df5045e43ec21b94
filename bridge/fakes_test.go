package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// errFakeNotConnected is what the session returns while the stream is down.
var errFakeNotConnected = fmt.Errorf("fake: %w", xmpp.ErrNotConnected)

// The real session satisfies the interfaces the bridge consumes.
var (
	_ XMPP     = (*xmpp.Session)(nil)
	_ archiver = (*xmpp.Session)(nil)
)

// fakeXMPP records requests as readable lines and lets the test feed events.
type fakeXMPP struct {
	events chan xmpp.Event
	jid    string

	mu        sync.Mutex
	calls     []string
	nextID    int
	connected bool
	failWith  error // returned by SendMessage when set
	archive   []xmpp.Message
	archiveQ  []xmpp.ArchiveQuery
	bookmarks []xmpp.Bookmark // served by Bookmarks (rooms_test.go)
}

// QueryArchive serves f.archive in pages of q.Max after q.After.
func (f *fakeXMPP) QueryArchive(ctx context.Context, q xmpp.ArchiveQuery) (*xmpp.ArchivePage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.archiveQ = append(f.archiveQ, q)
	i := 0
	if q.After != "" {
		for i < len(f.archive) && f.archive[i].StanzaID != q.After {
			i++
		}
		i++
	}
	end := min(i+q.Max, len(f.archive))
	if i > end {
		i = end
	}
	p := &xmpp.ArchivePage{Messages: append([]xmpp.Message(nil), f.archive[i:end]...), Complete: end == len(f.archive)}
	if end > i {
		p.Last = f.archive[end-1].StanzaID
	}
	return p, nil
}

func newFakeXMPP() *fakeXMPP {
	return &fakeXMPP{events: make(chan xmpp.Event), jid: "me@example.org", connected: true}
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

func (f *fakeXMPP) Events() <-chan xmpp.Event { return f.events }

func (f *fakeXMPP) SendMessage(m xmpp.OutMessage) (string, error) {
	if !f.isConnected() {
		return "", errFakeNotConnected
	}
	f.mu.Lock()
	if f.failWith != nil {
		f.mu.Unlock()
		return "", f.failWith
	}
	f.nextID++
	id := fmt.Sprintf("id%d", f.nextID)
	f.mu.Unlock()
	if m.HasSubject {
		f.record("message id=%s to=%s type=%s state=%s body=%q subject=%q", id, m.To, m.Type, m.ChatState, m.Body, m.Subject)
	} else {
		f.record("message id=%s to=%s type=%s state=%s body=%q", id, m.To, m.Type, m.ChatState, m.Body)
	}
	return id, nil
}

func (f *fakeXMPP) SetPresence(show, status string) error {
	if !f.isConnected() {
		return errFakeNotConnected
	}
	f.record("presence show=%q status=%q", show, status)
	return nil
}

func (f *fakeXMPP) RosterSet(item xmpp.RosterItem) (string, error) {
	f.record("roster-set %s name=%q", item.JID, item.Name)
	return "r1", nil
}

func (f *fakeXMPP) RosterRemove(jid string) (string, error) {
	f.record("roster-remove %s", jid)
	return "r2", nil
}

func (f *fakeXMPP) Subscribe(jid string) error   { f.record("subscribe %s", jid); return nil }
func (f *fakeXMPP) Approve(jid string) error     { f.record("approve %s", jid); return nil }
func (f *fakeXMPP) Deny(jid string) error        { f.record("deny %s", jid); return nil }
func (f *fakeXMPP) Unsubscribe(jid string) error { f.record("unsubscribe %s", jid); return nil }
func (f *fakeXMPP) JID() string                  { return f.jid }
func (f *fakeXMPP) Close() error                 { close(f.events); return nil }

var nextClientID atomic.Uint64

// fakeClient is an IRC client as the bridge sees it: a Downstream that
// records every line sent to it.
type fakeClient struct {
	t    *testing.T
	h    *harness
	id   uint64
	caps map[string]bool
	sess ircd.Session

	mu      sync.Mutex
	nick    string
	got     []string
	panicOn string // Send panics on this command, to test recovery
	panics  int    // how often Send has panicked
}

// panicsOn makes Send panic on command ("" stops it) and returns how often
// it has panicked so far.
func (c *fakeClient) panicsOn(command string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.panicOn = command
	return c.panics
}

func (c *fakeClient) ID() uint64 { return c.id }

// Nick is, as in ircd, the registration nick until attached, then the
// session's.
func (c *fakeClient) Nick() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sess != nil {
		return c.sess.Nick()
	}
	return c.nick
}
func (c *fakeClient) User() string            { return "user" }
func (c *fakeClient) Host() string            { return "localhost" }
func (c *fakeClient) RealName() string        { return "Real Name" }
func (c *fakeClient) Account() string         { return "" }
func (c *fakeClient) HasCap(name string) bool { return c.caps[name] }
func (c *fakeClient) ServerName() string      { return "irc.test" }
func (c *fakeClient) Close(reason string)     {}

func (c *fakeClient) Send(m *irc.Message) {
	c.mu.Lock()
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
	// Like ircd's output edge: tags the client did not negotiate go.
	if len(m.Tags) > 0 {
		m = m.Copy()
		for k := range m.Tags {
			switch {
			case k == "time" && c.caps["server-time"]:
			case k == "account" && c.caps["account-tag"]:
			case strings.HasPrefix(k, "+") && c.caps["message-tags"]:
			default:
				delete(m.Tags, k)
			}
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, m.String())
}

// take returns and forgets the lines received so far.
func (c *fakeClient) take() []string {
	c.h.barrier()
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.got
	c.got = nil
	return g
}

// expect checks that exactly want arrived since the last check.
func (c *fakeClient) expect(want ...string) {
	c.t.Helper()
	got := c.take()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		c.t.Fatalf("client %s got:\n\t%s\nwant:\n\t%s", c.Nick(), strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// expectContains checks that every one of want arrived (among others).
func (c *fakeClient) expectContains(want ...string) []string {
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

// send runs one command line as ircd would: Handle, then the replies, then
// an error as a numeric.
func (c *fakeClient) send(line string) {
	c.t.Helper()
	m, err := irc.ParseMessage(line)
	if err != nil {
		c.t.Fatalf("bad test line %q: %v", line, err)
	}
	m.Command = strings.ToUpper(m.Command)
	r := &ircd.Request{Msg: m, Client: c}
	herr := c.sess.Handle(r)
	for _, rep := range r.Replies() {
		c.Send(rep)
	}
	r.Finish()
	var e *ircd.Error
	if errors.As(herr, &e) {
		c.Send(&irc.Message{Prefix: &irc.Prefix{Name: "irc.test"}, Command: e.Code, Params: append([]string{c.Nick()}, e.Params...)})
	} else if herr != nil {
		c.t.Fatalf("Handle(%q): %v", line, herr)
	}
}

func (c *fakeClient) detach() { c.sess.Detach("Quit: bye"); c.h.barrier() }

// harness runs a Bridge over a fakeXMPP.
type harness struct {
	t      *testing.T
	b      *Bridge
	x      *fakeXMPP
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// fixedNow is the clock of every test bridge: 2026-03-04 05:06:07 UTC, read
// in a zone west of UTC as time.Now would be on a server in New York, so
// that visible stamps are seen to be converted to UTC.
var fixedNow = time.Date(2026, 3, 4, 0, 6, 7, 0, time.FixedZone("UTC-5", -5*60*60))

func newHarness(t *testing.T, cfg Config) *harness {
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
	b.start = fixedNow
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, b: b, x: x, cancel: cancel, done: make(chan error, 1)}
	go func() { h.done <- b.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.once.Do(func() {
		h.cancel()
		select {
		case <-h.done:
		case <-time.After(10 * time.Second):
			h.t.Error("Run did not return")
		}
	})
}

// barrier returns once everything posted before has been processed.
func (h *harness) barrier() { h.b.CheckNick("barrier-nick") }

// event feeds one XMPP event and waits until it has been processed.
func (h *harness) event(ev xmpp.Event) {
	h.t.Helper()
	select {
	case h.x.events <- ev:
	case <-time.After(10 * time.Second):
		h.t.Fatal("bridge does not read events")
	}
	h.barrier()
}

// attach registers a client with nick and capabilities.
func (h *harness) attach(nick string, caps ...string) *fakeClient {
	c := &fakeClient{t: h.t, h: h, id: nextClientID.Add(1), nick: nick, caps: map[string]bool{}}
	for _, cp := range caps {
		c.caps[cp] = true
	}
	sess := h.b.Attach(c)
	c.mu.Lock()
	c.sess = sess
	c.mu.Unlock()
	return c
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
