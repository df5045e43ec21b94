package main

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
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
// while offline), every user's XMPP stream over TLS. It reports, per user,
// the live heap after a GC (live-B/user), the goroutine stacks
// (stack-B/user) and the goroutines (goroutines/user): figures that do not
// depend on the machine's load, unlike the resident size that
// `go run ./bench -users` measures. With XIRCD_HEAP_PROFILE=FILE (and
// -memprofilerate=1 for exact numbers) it writes the live heap to FILE.
//
//	go test -run '^$' -bench MultiUserHeap -benchtime 1x ./cmd/xircd
func BenchmarkMultiUserHeap(b *testing.B) {
	srv := prosodytest.StartT(b, prosodytest.Options{LogLevel: "error"})
	const pass = "bench-password"
	jids := make([]string, memUsers)
	for i := range jids {
		jid, err := srv.Register(fmt.Sprintf("mem%02d", i), pass)
		if err != nil {
			b.Fatal(err)
		}
		jids[i] = jid
		var roster []prosodytest.RosterEntry
		for k := 0; k < memContacts; k++ {
			roster = append(roster, prosodytest.RosterEntry{JID: fmt.Sprintf("mc%02d@%s", k, srv.Domain), Name: fmt.Sprintf("mc%02d", k), Subscription: "both"})
		}
		if err := srv.SetRoster(fmt.Sprintf("mem%02d", i), roster); err != nil {
			b.Fatal(err)
		}
	}
	var heap, stack, goroutines float64
	for b.Loop() {
		heap, stack, goroutines = measureUsers(b, srv, jids, pass)
	}
	b.ReportMetric(heap, "live-B/user")
	b.ReportMetric(stack, "stack-B/user")
	b.ReportMetric(goroutines, "goroutines/user")
}

// measureUsers starts an xircd in multi-user mode, logs every user in over
// IRC, and returns what the users added to the live heap, the stacks and
// the goroutines, per user.
func measureUsers(b *testing.B, srv *prosodytest.Server, jids []string, pass string) (heap, stack, goroutines float64) {
	port, err := prosodytest.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	stateDir := filepath.Join(b.TempDir(), "state")
	cfg, err := parseConfig("bench.toml", fmt.Appendf(nil, "[irc]\nlisten = %q\n[xmpp]\nserver = %q\nca_file = %q\n[bridge]\nstate_dir = %q\nshow_offline = true\n[multiuser]\nenabled = true\nallowed_domains = [%q]\n",
		listen, srv.Addr, srv.CAFile, stateDir, srv.Domain))
	if err != nil {
		b.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- runMultiUser(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	defer func() {
		stop()
		if err := <-stopped; err != nil {
			b.Error(err)
		}
	}()
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
	conns[0] = loginUser(b, listen, jids[0], pass, "mem00")
	waitForOMEMO(b, stateDir, jids[:1])
	before := liveMemory()
	for i := 1; i < len(jids); i++ {
		conns[i] = loginUser(b, listen, jids[i], pass, fmt.Sprintf("mem%02d", i))
	}
	// What a login sets off (the OMEMO bundle, the archive, bookmarks)
	// is answered within moments; let it finish.
	time.Sleep(2 * time.Second)
	waitForOMEMO(b, stateDir, jids)
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
	return float64(after.heap-before.heap) / n, float64(after.stack-before.stack) / n, float64(after.goroutines-before.goroutines) / n
}

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

type memory struct{ heap, stack, goroutines int64 }

// liveMemory is the live heap after a GC, the stacks in use and the number
// of goroutines.
func liveMemory() memory {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return memory{int64(ms.HeapAlloc), int64(ms.StackInuse), int64(runtime.NumGoroutine())}
}

// loginUser connects an IRC client as jid and waits until its control
// channel holds all of its contacts. The client then reads nothing more:
// only its socket stays, as an idle client's would.
func loginUser(b *testing.B, listen, jid, pass, nick string) net.Conn {
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
	r := bufio.NewReader(c)
	seen := map[string]bool{}
	for len(seen) < memContacts {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("%s: %d of %d contacts seen: %v", nick, len(seen), memContacts, err)
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
	return c
}
