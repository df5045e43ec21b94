package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	runtimemetrics "runtime/metrics"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"xircd/internal/prosodytest"
)

// Users and contacts of BenchmarkMultiUserHeap.
const (
	memUsers    = 20
	memContacts = 50
)

// BenchmarkMultiUserHeap reports what each user of multi-user mode keeps
// in memory once logged in: a real Prosody, an xircd serving memUsers users
// in this process, each with an IRC client and memContacts contacts (shown
// while offline) of which memOnline are online, every user's XMPP stream
// over TLS. It reports, per user,
// the live heap after a GC (live-B/user), the heap's spans in use
// (heap-inuse-B/user) and of them the free slots that live objects'
// spans hold (heap-unused-B/user: fragmentation), the goroutine stacks
// (stack-B/user) and the goroutines (goroutines/user): figures that do not
// depend on the machine's load, unlike the resident size that
// `go run ./bench -users` measures. With XIRCD_HEAP_PROFILE=FILE (and
// -memprofilerate=1 for exact numbers) it writes the live heap to FILE.
// With XIRCD_HEAP_IDLE=DURATION it measures that much later, the users
// idle meanwhile: what an idle user gains shows.
//
//	go test -run '^$' -bench MultiUserHeap -benchtime 1x ./cmd/xircd
func BenchmarkMultiUserHeap(b *testing.B) {
	srv := prosodytest.StartT(b, prosodytest.Options{LogLevel: "error", AllowPlain: true})
	const pass = "bench-password"
	jids := registerMemUsers(b, srv, pass, func(int) []prosodytest.RosterEntry { return nil })
	startOnlineContacts(b, srv, jids, pass)
	var m perUser
	for b.Loop() {
		m = measureUsers(b, srv, jids, pass)
	}
	b.ReportMetric(m.heap, "live-B/user")
	b.ReportMetric(m.heapInuse, "heap-inuse-B/user")
	b.ReportMetric(m.heapUnused, "heap-unused-B/user")
	b.ReportMetric(m.stack, "stack-B/user")
	b.ReportMetric(m.goroutines, "goroutines/user")
}

// registerMemUsers registers memUsers accounts (memNN, password pass)
// and gives each the roster first(i) then memContacts contacts (mcNN),
// returning their JIDs.
func registerMemUsers(b *testing.B, srv *prosodytest.Server, pass string, first func(i int) []prosodytest.RosterEntry) []string {
	jids := make([]string, memUsers)
	for i := range jids {
		jid, err := srv.Register(fmt.Sprintf("mem%02d", i), pass)
		if err != nil {
			b.Fatal(err)
		}
		jids[i] = jid
		roster := first(i)
		for k := 0; k < memContacts; k++ {
			roster = append(roster, prosodytest.RosterEntry{JID: fmt.Sprintf("mc%02d@%s", k, srv.Domain), Name: fmt.Sprintf("mc%02d", k), Subscription: "both"})
		}
		if err := srv.SetRoster(fmt.Sprintf("mem%02d", i), roster); err != nil {
			b.Fatal(err)
		}
	}
	return jids
}

// BenchmarkMultiUserMessageStack reports what one chat message of every
// user at once adds to the goroutine stacks, as the multi-user benchmark's
// last step does: memUsers users of BenchmarkMultiUserHeap's kind in pairs,
// each pair the contacts of each other (online), every user sends one
// PRIVMSG to its partner at once, and each waits for its partner's. So
// every user's message goes both ways once: IRC → bridge → XMPP over TLS,
// and XMPP → bridge → IRC. It reports per user the stacks in use grown by
// that message with the collector off (msg-stack-B/user), what is left
// of it after collections, which shrink idle stacks
// (msg-stack-kept-B/user), the most stacks in use and the most goroutines
// at once beyond those before (msg-stack-peak-B/user, msg-goroutines/user,
// sampled every millisecond), the goroutines started
// (msg-goroutines-started/user: each a stack of its own, copied into a
// bigger one if it runs deeper than 2 KiB) and the heap allocated
// (msg-alloc-B/user).
//
//	go test -run '^$' -bench MultiUserMessageStack -benchtime 1x ./cmd/xircd
func BenchmarkMultiUserMessageStack(b *testing.B) {
	srv := prosodytest.StartT(b, prosodytest.Options{LogLevel: "error"})
	const pass = "bench-password"
	jids := registerMemUsers(b, srv, pass, func(i int) []prosodytest.RosterEntry {
		partner := fmt.Sprintf("mem%02d@%s", i^1, srv.Domain)
		return []prosodytest.RosterEntry{{JID: partner, Name: fmt.Sprintf("mcpeer%02d", i^1), Subscription: "both"}}
	})
	var burst messageBurst
	for b.Loop() {
		burst = measureMessageStacks(b, srv, jids, pass)
	}
	b.ReportMetric(burst.grown, "msg-stack-B/user")
	b.ReportMetric(burst.kept, "msg-stack-kept-B/user")
	b.ReportMetric(burst.peak, "msg-stack-peak-B/user")
	b.ReportMetric(burst.goroutines, "msg-goroutines/user")
	b.ReportMetric(burst.started, "msg-goroutines-started/user")
	b.ReportMetric(burst.alloc, "msg-alloc-B/user")
}

// messageBurst is what one message of every user at once costs, per user
// (see BenchmarkMultiUserMessageStack).
type messageBurst struct{ grown, kept, peak, goroutines, started, alloc float64 }

// goroutinesStarted is how many goroutines the process has started.
func goroutinesStarted() uint64 {
	sample := []runtimemetrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	runtimemetrics.Read(sample)
	return sample[0].Value.Uint64()
}

// burstSampler samples the stacks in use and the goroutines, every
// millisecond between two sends on start, and then sends the most of each
// on result.
type burstSampler struct {
	start  chan struct{}
	result chan memory
}

// sampleBurst starts a burstSampler, whose goroutine (its stack grown by
// a first sample already) then counts in a baseline taken after.
func sampleBurst() burstSampler {
	p := burstSampler{start: make(chan struct{}), result: make(chan memory)}
	sample := []runtimemetrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
	read := func(peak *memory) {
		runtimemetrics.Read(sample)
		peak.stack = max(peak.stack, int64(sample[0].Value.Uint64()))
		peak.goroutines = max(peak.goroutines, int64(runtime.NumGoroutine()))
	}
	var peak memory
	read(&peak)
	go func() {
		peak = memory{}
		<-p.start
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			read(&peak)
			select {
			case <-p.start:
				p.result <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return p
}

// measureMessageStacks logs every user in, waits for their login work,
// lets the first pair exchange a message (what the process does once for
// the first message is not counted), then every other user sends one to
// its partner at once. It returns per user the stacks in use grown by
// that, with the collector off, what is left of it after a few
// collections, the most goroutines beyond those before and the heap
// allocated.
func measureMessageStacks(b *testing.B, srv *prosodytest.Server, jids []string, pass string) messageBurst {
	listen, stateDir, stop := startMultiUser(b, srv)
	defer stop()
	conns := make([]net.Conn, len(jids))
	readers := make([]*bufio.Reader, len(jids))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	for i := range jids {
		conns[i], readers[i] = loginUser(b, listen, jids[i], pass, fmt.Sprintf("mem%02d", i), memContacts+1)
	}
	// The test's side runs in this goroutine, whose stack is grown
	// already: goroutines of its own would count in the stacks measured
	// (the sampler's is in the baseline).
	exchange := func(users []int) {
		for _, i := range users {
			fmt.Fprintf(conns[i], "PRIVMSG mcpeer%02d :hello from %d\r\n", i^1, i)
		}
		for _, i := range users {
			conns[i].SetReadDeadline(time.Now().Add(30 * time.Second))
			from, want := fmt.Sprintf(":mcpeer%02d!", i^1), fmt.Sprintf(" PRIVMSG mem%02d :hello from %d", i, i^1)
			for {
				line, err := readers[i].ReadString('\n')
				if err != nil {
					b.Fatalf("mem%02d: no message from its partner: %v", i, err)
				}
				if strings.HasPrefix(line, from) && strings.Contains(line, want) {
					break
				}
			}
		}
	}
	// The users' login work (a new OMEMO device each, paced) is done
	// before the messages, as in the benchmark's last step.
	waitForOMEMO(b, stateDir, jids)
	// Each user has an OMEMO device now; the benchmark's peers have
	// none, so its messages go unencrypted: these too.
	for i, c := range conns {
		fmt.Fprintf(c, "PRIVMSG &xmpp :omemo off mcpeer%02d\r\n", i^1)
	}
	exchange([]int{0, 1})
	time.Sleep(time.Second) // what the first message set off settles
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	peaks := sampleBurst()
	before := liveMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc
	started := goroutinesStarted()
	var rest []int
	for i := 2; i < len(jids); i++ {
		rest = append(rest, i)
	}
	peaks.start <- struct{}{}
	exchange(rest)
	time.Sleep(500 * time.Millisecond) // the writers finish
	peaks.start <- struct{}{}
	peak := <-peaks.result
	started = goroutinesStarted() - started
	runtime.ReadMemStats(&ms)
	after := int64(ms.StackInuse)
	allocated = ms.TotalAlloc - allocated
	for range 4 {
		runtime.GC()
	}
	runtime.ReadMemStats(&ms)
	n := float64(len(rest))
	return messageBurst{
		grown:      float64(after-before.stack) / n,
		kept:       float64(int64(ms.StackInuse)-before.stack) / n,
		peak:       float64(peak.stack-before.stack) / n,
		goroutines: float64(peak.goroutines-before.goroutines) / n,
		started:    float64(started) / n,
		alloc:      float64(allocated) / n,
	}
}

// measureUsers starts an xircd in multi-user mode, logs every user in over
// IRC, and returns what the users added to the heap, the stacks and the
// goroutines, per user.
func measureUsers(b *testing.B, srv *prosodytest.Server, jids []string, pass string) perUser {
	listen, stateDir, stop := startMultiUser(b, srv)
	defer stop()
	conns := make([]net.Conn, len(jids))
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	// The first client only waits for the listener; it logs its user in
	// before the baseline, so that what every process has once (the TLS
	// configuration, the first OMEMO and SCRAM tables) is not counted.
	var r *bufio.Reader
	conns[0], r = loginUser(b, listen, jids[0], pass, "mem00", memContacts)
	waitOnline(b, conns[0], r, "mem00")
	waitForOMEMO(b, stateDir, jids[:1])
	time.Sleep(ackSettle)
	before := liveMemory()
	readers := make([]*bufio.Reader, len(jids))
	for i := 1; i < len(jids); i++ {
		conns[i], readers[i] = loginUser(b, listen, jids[i], pass, fmt.Sprintf("mem%02d", i), memContacts)
	}
	// What a login sets off (the OMEMO bundle, the archive, bookmarks)
	// is answered within moments; let it finish.
	time.Sleep(2 * time.Second)
	for i := 1; i < len(jids); i++ {
		waitOnline(b, conns[i], readers[i], fmt.Sprintf("mem%02d", i))
	}
	waitForOMEMO(b, stateDir, jids)
	time.Sleep(ackSettle)
	if idle := os.Getenv("XIRCD_HEAP_IDLE"); idle != "" {
		d, err := time.ParseDuration(idle)
		if err != nil {
			b.Fatalf("XIRCD_HEAP_IDLE: %v", err)
		}
		time.Sleep(d)
	}
	after := liveMemory()
	if path := os.Getenv("XIRCD_HEAP_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	n := float64(len(jids) - 1)
	return perUser{
		heap:       float64(after.heap-before.heap) / n,
		heapInuse:  float64(after.heapInuse-before.heapInuse) / n,
		heapUnused: float64(after.heapUnused-before.heapUnused) / n,
		stack:      float64(after.stack-before.stack) / n,
		goroutines: float64(after.goroutines-before.goroutines) / n,
	}
}

// ackSettle is how long measureUsers waits after the users' OMEMO bundles
// are published: each publication (a 10 KB stanza) stays in its stream's
// log of sent stanzas until the server confirms it, within a second; the
// users do not keep it.
const ackSettle = 2 * time.Second

// waitForOMEMO waits until each user has an OMEMO device with its bundle
// published, as every user has after a while: in multi-user mode a new
// user's device is made by the login's work, after the crowd of logins.
func waitForOMEMO(b *testing.B, stateDir string, jids []string) {
	for _, jid := range jids {
		dir, err := userStateDir(stateDir, jid)
		if err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
			if _, err := os.Stat(filepath.Join(dir, "omemo-published")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: no OMEMO bundle published", jid)
			}
		}
	}
}

// startMultiUser starts an xircd in multi-user mode in this process,
// serving srv's users, and returns its IRC address, its state directory
// and how to stop it (which also gives back the process's GC target).
func startMultiUser(b *testing.B, srv *prosodytest.Server) (listen, stateDir string, stop func()) {
	port, err := prosodytest.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	listen = fmt.Sprintf("127.0.0.1:%d", port)
	stateDir = filepath.Join(b.TempDir(), "state")
	cfg, err := parseConfig("bench.toml", fmt.Appendf(nil, "[irc]\nlisten = %q\n[xmpp]\nserver = %q\nca_file = %q\n[bridge]\nstate_dir = %q\nshow_offline = true\n[multiuser]\nenabled = true\nallowed_domains = [%q]\n",
		listen, srv.Addr, srv.CAFile, stateDir, srv.Domain))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	// The text handler xircd logs with, at its default level: what each
	// user's loggers keep is counted as in production.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The collector's target of multi-user mode, as xircd's main sets it:
	// how often it runs decides how many spans the logins' garbage
	// spreads the users' objects over (at Go's default of 100 % the free
	// slots per user were three to five times those at 25 %).
	gcPercent := debug.SetGCPercent(100)
	debug.SetGCPercent(gcPercent)
	setGCPercent(true)
	go func() { stopped <- runMultiUser(ctx, cfg, logger) }()
	return listen, stateDir, func() {
		cancel()
		if err := <-stopped; err != nil {
			b.Error(err)
		}
		debug.SetGCPercent(gcPercent)
	}
}

// memory is what liveMemory reads: the live heap, the heap's spans in use
// and of them the free slots, the stacks in use, the goroutines.
type memory struct{ heap, heapInuse, heapUnused, stack, goroutines int64 }

// perUser is what each user added to a memory.
type perUser struct{ heap, heapInuse, heapUnused, stack, goroutines float64 }

// liveMemory is the live heap after a GC, the heap's spans in use, the
// stacks in use and the number of goroutines.
func liveMemory() memory {
	runtime.GC()
	runtime.GC()
	// After a GC the heap's objects are the live ones (the collection
	// sweeps before it returns); the unused bytes are the free slots of
	// the spans that hold them.
	sample := []runtimemetrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/stacks:bytes"},
	}
	runtimemetrics.Read(sample)
	objects, unused := int64(sample[0].Value.Uint64()), int64(sample[1].Value.Uint64())
	return memory{
		heap:       objects,
		heapInuse:  objects + unused,
		heapUnused: unused,
		stack:      int64(sample[2].Value.Uint64()),
		goroutines: int64(runtime.NumGoroutine()),
	}
}

// loginUser connects an IRC client as jid and waits until its control
// channel holds that many of its contacts (nicks beginning with "mc").
// The client then reads nothing more unless the caller reads r: only its
// socket stays, as an idle client's would.
func loginUser(b *testing.B, listen, jid, pass, nick string, contacts int) (_ net.Conn, r *bufio.Reader) {
	var c net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err = net.Dial("tcp", listen); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		b.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(time.Minute))
	fmt.Fprintf(c, "PASS %s:%s\r\nNICK %s\r\nUSER %s 0 * :%s\r\n", jid, pass, nick, nick, nick)
	r = bufio.NewReader(c)
	seen := map[string]bool{}
	for len(seen) < contacts {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("%s: %d of %d contacts seen: %v", nick, len(seen), contacts, err)
		}
		f := strings.Fields(line)
		switch {
		case len(f) >= 3 && f[1] == "JOIN" && strings.HasPrefix(f[0], ":mc"):
			seen[strings.TrimPrefix(f[0][:strings.IndexByte(f[0]+"!", '!')], ":")] = true
		case len(f) >= 6 && f[1] == "353" && f[4] == "&xmpp":
			for _, m := range f[5:] {
				m = strings.TrimLeft(m, ":@+%")
				if strings.HasPrefix(m, "mc") {
					seen[m] = true
				}
			}
		case len(f) >= 1 && (f[0] == "ERROR" || len(f) >= 2 && f[1] == "464"):
			b.Fatalf("%s: %s", nick, line)
		}
	}
	c.SetDeadline(time.Time{})
	return c, r
}
