package bridge

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Benchmarks of the hot translation paths: presence fan-out to IRC lines
// (through the bridge's event loop and the ircd output edge), message body
// splitting, and nick handling.

var (
	benchLines []ircLine
	benchStr   string
	benchC     *contact
)

// benchClient is a Downstream that formats every message the way a real
// connection would and counts the lines.
type benchClient struct {
	id      uint64
	lines   atomic.Int64
	session ircd.Session // as Attach returned it
}

func (c *benchClient) ID() uint64              { return c.id }
func (c *benchClient) Nick() string            { return "me" }
func (c *benchClient) User() string            { return "user" }
func (c *benchClient) Host() string            { return "localhost" }
func (c *benchClient) RealName() string        { return "Real Name" }
func (c *benchClient) Account() string         { return "" }
func (c *benchClient) ClientName() string      { return "" }
func (c *benchClient) HasCap(name string) bool { return name == "away-notify" }
func (c *benchClient) ServerName() string      { return "irc.bench" }
func (c *benchClient) Close(string)            {}
func (c *benchClient) Send(m *irc.Message) {
	c.lines.Add(int64(len(ircd.FormatLines(m, nil))))
}

// startBenchBridge runs a bridge over a fake XMPP session with one client
// attached and the session connected; stop ends it.
func startBenchBridge(b *testing.B, c *benchClient) (br *Bridge, x *fakeXMPP, stop func()) {
	b.Helper()
	x = newFakeXMPP()
	br, err := New(Config{ServerName: "irc.bench"}, x)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- br.Run(ctx) }()
	c.session = br.Attach(c)
	x.send(xmpp.Connected{JID: "me@example.org/xircd"}, nil, nil)
	return br, x, func() { cancel(); <-done }
}

// benchRoster returns n roster items and a presence from each contact:
// available, and away with a status for every tenth (when away is set).
func benchRoster(n int, away bool) ([]xmpp.RosterItem, []xmpp.Presence) {
	items := make([]xmpp.RosterItem, n)
	pres := make([]xmpp.Presence, n)
	for i := range items {
		jid := fmt.Sprintf("peer%05d@example.org", i)
		items[i] = xmpp.RosterItem{JID: jid, Name: fmt.Sprintf("Peer %d", i), Subscription: "both"}
		pres[i] = xmpp.Presence{From: jid + "/phone"}
		if away && i%10 == 7 {
			pres[i].Show, pres[i].Status = "away", "in a meeting until 3"
		}
	}
	return items, pres
}

// benchBridge runs a bridge with n roster contacts and one attached client.
func benchBridge(b *testing.B, n int) (*Bridge, *fakeXMPP, *benchClient) {
	b.Helper()
	c := &benchClient{id: 1}
	br, x, stop := startBenchBridge(b, c)
	b.Cleanup(stop)
	items, _ := benchRoster(n, false)
	x.send(xmpp.Roster{Items: items}, nil, nil)
	br.CheckNick("barrier") // everything posted before is processed
	c.lines.Store(0)        // count only what the benchmark itself causes
	return br, x, c
}

// BenchmarkPresenceFanOut feeds presence changes (available, away with a
// status, available again) for contacts of a 1000-contact roster and
// measures the whole path to formatted IRC lines (JOIN, MODE, AWAY).
func BenchmarkPresenceFanOut(b *testing.B) {
	const n = 1000
	br, x, c := benchBridge(b, n)
	shows := []struct{ show, status string }{{"", ""}, {"away", "in a meeting until 3"}, {"dnd", "focus time"}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s := shows[(i/n)%len(shows)]
		x.send(xmpp.Presence{From: fmt.Sprintf("peer%05d@example.org/phone", i%n), Show: s.show, Status: s.status}, nil, nil)
		i++
	}
	br.CheckNick("barrier")
	b.ReportMetric(float64(c.lines.Load())/float64(i), "lines/op")
}

// BenchmarkChatIn measures a chat message from a contact of a
// 1000-contact roster, from the XMPP event to the formatted IRC line: the
// message path's share of the bridge and the output edge.
func BenchmarkChatIn(b *testing.B) {
	br, x, c := benchBridge(b, 1000)
	msgs := make([]xmpp.Message, 50)
	for i := range msgs {
		msgs[i] = xmpp.Message{From: fmt.Sprintf("peer%05d@example.org/phone", i), Type: "chat", Body: "message number 123 of the benchmark"}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := msgs[i%len(msgs)]
		m.ID, m.StanzaID = "m"+strconv.Itoa(i), "s"+strconv.Itoa(i)
		x.send(m, nil, nil)
		i++
	}
	br.CheckNick("barrier")
	b.ReportMetric(float64(c.lines.Load())/float64(i), "lines/op")
}

// BenchmarkChatOut measures the user's PRIVMSG to a contact of a
// 1000-contact roster, from the parsed IRC command to the XMPP send.
func BenchmarkChatOut(b *testing.B) {
	_, x, c := benchBridge(b, 1000)
	msgs := make([]*irc.Message, 50)
	for i := range msgs {
		msgs[i] = irc.MustParseMessage(fmt.Sprintf("PRIVMSG peer%05d :message number 123 of the benchmark", i))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := c.session.Handle(&ircd.Request{Msg: msgs[i%len(msgs)], Client: c}); err != nil {
			b.Fatal(err)
		}
		if i++; i%1000 == 0 {
			x.takeCalls() // the fake records every send
		}
	}
}

// BenchmarkRosterBurst measures a full roster of 1000 contacts arriving
// with their presences while a client is attached.
func BenchmarkRosterBurst(b *testing.B) {
	const n = 1000
	items, pres := benchRoster(n, false)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		br, x, stop := startBenchBridge(b, &benchClient{id: 1})
		b.StartTimer()
		x.send(xmpp.Roster{Items: items}, nil, nil)
		for _, p := range pres {
			x.send(p, nil, nil)
		}
		br.CheckNick("barrier")
		b.StopTimer()
		stop()
		b.StartTimer()
	}
}

func BenchmarkBodyToIRCShort(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchLines = bodyToIRC("hello there, how are you?", 400)
	}
}

func BenchmarkBodyToIRCMultiline(b *testing.B) {
	body := strings.Repeat("a line of a pasted log with\ttabs and ünïcödé\n", 40)
	b.ReportAllocs()
	for b.Loop() {
		benchLines = bodyToIRC(body, 400)
	}
}

func BenchmarkBodyToIRCLong(b *testing.B) {
	body := strings.Repeat("lorem ipsum dolor ", 228)
	b.ReportAllocs()
	for b.Loop() {
		benchLines = bodyToIRC(body, 400)
	}
}

func BenchmarkBaseNick(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchStr = baseNick("Zoë van der Berg", "zoe@example.org")
	}
}

// BenchmarkNickLookup finds contacts by nick (case-insensitively) in a
// 1000-contact roster, as every PRIVMSG to a contact does.
func BenchmarkNickLookup(b *testing.B) {
	const n = 1000
	br, _, _ := benchBridge(b, n)
	nicks := make([]string, 0, n)
	for _, c := range br.sortedContacts() {
		nicks = append(nicks, strings.ToUpper(c.nick))
	}
	if len(nicks) != n {
		b.Fatalf("%d contacts, want %d", len(nicks), n)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		benchC = br.contactByNick(nicks[i%n])
		if benchC == nil {
			b.Fatalf("no contact for %q", nicks[i%n])
		}
		i++
	}
}

// writeHeapProfile writes the live heap to path, for go tool pprof.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkRosterLiveHeap reports the heap that a 5000-contact roster with
// presences keeps live in the bridge (bytes per contact, after a GC), the
// bridge's share of xircd's resident size. With BRIDGE_HEAP_PROFILE=FILE
// and -memprofilerate=1 it writes the live heap at that point to FILE.
func BenchmarkRosterLiveHeap(b *testing.B) {
	const n = 5000
	items, pres := benchRoster(n, true)
	var perContact float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		br, x, stop := startBenchBridge(b, &benchClient{id: 1})
		x.send(xmpp.Roster{Items: items}, nil, nil)
		for _, p := range pres {
			x.send(p, nil, nil)
		}
		br.CheckNick("barrier")
		runtime.GC()
		runtime.ReadMemStats(&after)
		perContact = float64(after.HeapAlloc-before.HeapAlloc) / n
		if path := os.Getenv("BRIDGE_HEAP_PROFILE"); path != "" {
			writeHeapProfile(b, path)
		}
		stop()
	}
	b.ReportMetric(perContact, "live-B/contact")
}

// Users and roster of BenchmarkUserRosterHeap: a typical user's roster.
const (
	heapUsers    = 20
	heapContacts = 50
	heapOnline   = 35
)

// userRoster returns a roster of heapContacts items and presences from
// heapOnline of them, every string freshly allocated as the XML decoder
// makes it: half the contacts are in a group, every fifth online one is
// away with a status, every seventh has a second resource.
func userRoster() (xmpp.Roster, []xmpp.Presence) {
	fresh := strings.Clone
	items := make([]xmpp.RosterItem, heapContacts)
	var pres []xmpp.Presence
	for i := range items {
		jid := fmt.Sprintf("friend%02d@example.org", i)
		items[i] = xmpp.RosterItem{JID: jid, Name: fmt.Sprintf("Friend %d", i), Subscription: fresh("both")}
		if i%2 == 0 {
			items[i].Groups = []string{fmt.Sprintf("Group %d", i%3)}
		}
		if i >= heapOnline {
			continue
		}
		p := xmpp.Presence{From: fmt.Sprintf("%s/gajim.%04X", jid, i*7919%65536), Priority: 1, Client: fresh("https://gajim.org")}
		if i%5 == 4 {
			p.Show, p.Status = fresh("away"), fmt.Sprintf("back at %d", i)
		}
		pres = append(pres, p)
		if i%7 == 6 {
			pres = append(pres, xmpp.Presence{From: fmt.Sprintf("%s/phone%d", jid, i), Client: fresh("https://conversations.im")})
		}
	}
	return xmpp.Roster{Items: items}, pres
}

// BenchmarkUserRosterHeap reports what a typical user's roster (50
// contacts, 35 of them online) keeps live in the bridge: heapUsers bridges,
// each with a client attached, get the roster and the presences; the live
// heap they added after a GC is divided by users (live-B/user) and by
// contacts (live-B/contact). Strings are allocated as the XML decoder
// does, so what the contacts keep of them counts. With
// BRIDGE_HEAP_PROFILE=FILE and -memprofilerate=1 it writes the live heap
// at that point to FILE.
func BenchmarkUserRosterHeap(b *testing.B) {
	var perUser float64
	for b.Loop() {
		brs := make([]*Bridge, heapUsers)
		xs := make([]*fakeXMPP, heapUsers)
		stops := make([]func(), heapUsers)
		for i := range brs {
			brs[i], xs[i], stops[i] = startBenchBridge(b, &benchClient{id: 1})
			brs[i].CheckNick("barrier")
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i, x := range xs {
			roster, pres := userRoster()
			x.send(roster, nil, nil)
			for _, p := range pres {
				x.send(p, nil, nil)
			}
			brs[i].CheckNick("barrier")
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perUser = float64(after.HeapAlloc-before.HeapAlloc) / heapUsers
		if path := os.Getenv("BRIDGE_HEAP_PROFILE"); path != "" {
			writeHeapProfile(b, path)
		}
		for _, br := range brs {
			if n := br.contacts.len(); n != heapContacts {
				b.Fatalf("%d contacts, want %d", n, heapContacts)
			}
		}
		for _, stop := range stops {
			stop()
		}
	}
	b.ReportMetric(perUser, "live-B/user")
	b.ReportMetric(perUser/heapContacts, "live-B/contact")
}
