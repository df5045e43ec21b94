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
	x.events <- xmpp.Connected{JID: "me@example.org/xircd"}
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
	x.events <- xmpp.Roster{Items: items}
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
		x.events <- xmpp.Presence{From: fmt.Sprintf("peer%05d@example.org/phone", i%n), Show: s.show, Status: s.status}
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
		x.events <- m
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
		x.events <- xmpp.Roster{Items: items}
		for _, p := range pres {
			x.events <- p
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
		x.events <- xmpp.Roster{Items: items}
		for _, p := range pres {
			x.events <- p
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
