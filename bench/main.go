// Command bench measures xircd against the floor of a plain XMPP client on
// the same machine: it starts a throwaway Prosody on loopback, creates N
// contacts that log in as echo peers with a mix of presences, and measures
// roster readiness, round-trip time, throughput, lost messages, and xircd's
// peak RSS and CPU time. It prints a Markdown table (and can write it to a
// file).
//
//	go run ./bench -contacts 100,1000 -runs 3 -out docs/benchmarks.md
//
// With -history ROUNDS it measures CHATHISTORY instead (history.go), with
// -users 100,1000 multi-user mode (multiuser.go), and with -logincost N
// what each of xircd's requests at login costs Prosody (logincost.go).
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"xircd/internal/prosodytest"
)

type env struct {
	srv          *prosodytest.Server
	work         string
	xircd        string
	floorProc    string // the floorproc binary: the floor's memory
	me, pass     string
	n            int
	peers        []*peer
	contacts     map[string]bool // bare JIDs
	nicks        map[string]bool // expected IRC nicks
	avail        map[string]bool // nicks of the available contacts
	rttCount     int
	tpCount      int
	readyTimeout time.Duration
	idleTimeout  time.Duration
	bitlbeePort  int // relay to Prosody for BitlBee; 0 = BitlBee not measured
}

// tpTargets are the user names of up to 50 available contacts.
func (e *env) tpTargets() []string {
	var t []string
	for i, p := range e.peers {
		if show, _ := presenceMix(i); show == "" {
			t = append(t, p.user)
			if len(t) == 50 {
				break
			}
		}
	}
	return t
}

type result struct {
	ready     time.Duration // from start (process or session) to all contacts visible
	readyConn time.Duration // from IRC connect (gateway only)
	// firstShown: from the XMPP login (Connected; xircd's notice of it) to
	// the first contact shown (floor: its presence; xircd: its JOIN).
	firstShown time.Duration
	voicedAt   time.Duration // from start to every available contact voiced; 0 if never
	voiced     int
	rtts       []time.Duration
	pings      []time.Duration // IRC PING to PONG, answered by the gateway itself
	lost       int
	tp         time.Duration
	tpLost     int
	rssKiB     int
	fileKiB    int // of the RSS at the end, pages of the binary and libraries (RssFile)
	cpu        time.Duration
}

func main() {
	contactsFlag := flag.String("contacts", "100,1000", "comma-separated contact counts")
	runs := flag.Int("runs", 3, "runs per contact count")
	rtt := flag.Int("rtt", 1000, "sequential round trips per run")
	tp := flag.Int("messages", 1000, "messages written at once for throughput")
	xircdBin := flag.String("xircd", "", "xircd binary (default: build ./cmd/xircd)")
	nomam := flag.Bool("nomam", false, "run Prosody without mod_mam")
	out := flag.String("out", "", "also write the Markdown report to this file")
	parallel := flag.Int("parallel", 16, "concurrent peer logins")
	keep := flag.Bool("keep", false, "keep the work directory with the gateways' logs")
	withBitlBee := flag.Bool("bitlbee", true, "also measure BitlBee when it is installed")
	history := flag.Int("history", 0, "instead, measure CHATHISTORY LATEST 100 against the same archive query from an XMPP session, this many rounds")
	usersFlag := flag.String("users", "", "instead, measure multi-user mode: comma-separated user counts, each user with 50 contacts")
	peersFlag := flag.Int("peers", 500, "with -users: echo peers shared by the users' rosters")
	loginCost := flag.Int("logincost", 0, "instead, measure what each of xircd's requests at login costs Prosody, with this many sessions at once")
	flag.Parse()
	tpTotal = *tp
	log.SetFlags(log.Ltime)
	log.SetPrefix("bench: ")

	if *loginCost > 0 {
		text, err := loginCostBench(*loginCost)
		if err != nil {
			log.Fatal(err)
		}
		writeReport(text, *out)
		return
	}
	counts := parseCounts("-contacts", *contactsFlag)
	work, err := os.MkdirTemp("", "xircd-bench-")
	if err != nil {
		log.Fatal(err)
	}
	if *keep {
		log.Printf("keeping %s (logs of xircd and BitlBee)", work)
	} else {
		defer os.RemoveAll(work)
	}
	bin := *xircdBin
	if bin == "" {
		bin = filepath.Join(work, "xircd")
		if err := buildStatic(bin, "xircd/cmd/xircd"); err != nil {
			log.Fatal(err)
		}
	}
	if *usersFlag != "" {
		text, err := multiUserBench(work, bin, parseCounts("-users", *usersFlag), *peersFlag, *rtt, *parallel, *withBitlBee && bitlbeeInstalled())
		if err != nil {
			log.Fatal(err)
		}
		writeReport(text, *out)
		return
	}
	if *history > 0 {
		text, err := historyBench(work, bin, *history)
		if err != nil {
			log.Fatal(err)
		}
		writeReport(text, *out)
		return
	}
	floorProc := filepath.Join(work, "floorproc")
	if err := buildStatic(floorProc, "xircd/bench/floorproc"); err != nil {
		log.Fatal(err)
	}

	rep := &report{runs: *runs, rtt: *rtt, tp: *tp, nomam: *nomam, command: "go run ./bench " + strings.Join(os.Args[1:], " ")}
	switch {
	case !*withBitlBee:
		rep.bitlbeeMissing = "not measured (-bitlbee=false)"
	case !bitlbeeInstalled():
		rep.bitlbeeMissing = "not measured (not installed)"
	default:
		rep.bitlbeeMissing = "not measured (failed, see below)"
	}
	for _, n := range counts {
		rows, err := benchN(n, *runs, *rtt, *tp, *nomam, *parallel, *withBitlBee && bitlbeeInstalled(), work, bin, floorProc)
		if err != nil {
			log.Printf("N=%d: %v", n, err)
			rep.errors = append(rep.errors, fmt.Sprintf("N=%d: %v", n, err))
		}
		rep.sets = append(rep.sets, rows)
	}
	writeReport(rep.markdown(), *out)
}

// parseCounts parses a comma-separated list of positive counts.
func parseCounts(name, list string) []int {
	var counts []int
	for _, f := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			log.Fatalf("bad %s %q", name, list)
		}
		counts = append(counts, n)
	}
	return counts
}

// writeReport prints the Markdown report and also writes it to out if set.
func writeReport(text, out string) {
	fmt.Print(text)
	if out != "" {
		if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// benchN sets up one server with n contacts and runs floor and gateway runs
// times, alternating.
// buildStatic builds the package pkg into out without cgo, as the README
// builds xircd: the binary then does not map libc.
func buildStatic(out, pkg string) error {
	build := exec.Command("go", "build", "-o", out, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building %s: %w", pkg, err)
	}
	return nil
}

// floorTurn measures the floor client and then the floor process's memory.
func floorTurn(e *env, s *set, r int) error {
	f, err := floorRun(e, r)
	if err != nil {
		return fmt.Errorf("run %d floor: %w", r, err)
	}
	log.Printf("N=%d run %d floor: ready %v, rtt p50 %v, %d msgs in %v, lost %d", e.n, r,
		f.ready.Round(time.Millisecond), pct(f.rtts, 50), e.tpCount, f.tp.Round(time.Millisecond), f.lost+f.tpLost)
	quiesce(e)
	if f.rssKiB, f.fileKiB, err = floorMemory(e, r); err != nil {
		log.Printf("N=%d run %d floor process: %v", e.n, r, err)
	} else {
		log.Printf("N=%d run %d floor process: rss %d KiB", e.n, r, f.rssKiB)
	}
	s.floor = append(s.floor, f)
	return nil
}

// gatewayTurn measures one gateway (xircd or BitlBee) with run and adds
// the result to *into; a failure is recorded and the runs go on.
func gatewayTurn(e *env, s *set, r int, name string, run func(*env, int) (result, error), into *[]result) {
	g, err := run(e, r)
	if err != nil {
		log.Printf("N=%d run %d %s: %v", e.n, r, name, err)
		s.failures = append(s.failures, fmt.Sprintf("run %d %s: %v", r, name, err))
		return
	}
	log.Printf("N=%d run %d %s: ready %v (%v from connect, %d voiced), rtt p50 %v, %d msgs in %v, lost %d, rss %d KiB, cpu %v", e.n, r, name,
		g.ready.Round(time.Millisecond), g.readyConn.Round(time.Millisecond), g.voiced, pct(g.rtts, 50), e.tpCount,
		g.tp.Round(time.Millisecond), g.lost+g.tpLost, g.rssKiB, g.cpu)
	*into = append(*into, g)
}

func benchN(n, runs, rtt, tp int, nomam bool, parallel int, bitlbee bool, work, bin, floorProc string) (s set, err error) {
	s = set{n: n, loadBefore: loadAvg()}
	defer func() { s.loadAfter = loadAvg() }()
	t0 := time.Now()
	srv, err := prosodytest.Start(prosodytest.Options{AllowPlain: true, NoMAM: nomam, LogLevel: "error"})
	if err != nil {
		return s, err
	}
	defer srv.Close()
	e := &env{srv: srv, work: work, xircd: bin, floorProc: floorProc, n: n, pass: "bench-password",
		contacts: make(map[string]bool, n), nicks: make(map[string]bool, n), avail: make(map[string]bool, n),
		rttCount: rtt, tpCount: tp, readyTimeout: 120 * time.Second, idleTimeout: 15 * time.Second}
	if e.me, err = srv.Register("me", e.pass); err != nil {
		return s, err
	}
	roster := make([]prosodytest.RosterEntry, 0, n)
	back := []prosodytest.RosterEntry{{JID: e.me, Name: "me", Subscription: "both"}}
	for i := 0; i < n; i++ {
		user := fmt.Sprintf("peer%05d", i)
		jid, err := srv.Register(user, e.pass)
		if err != nil {
			return s, err
		}
		if err := srv.SetRoster(user, back); err != nil {
			return s, err
		}
		roster = append(roster, prosodytest.RosterEntry{JID: jid, Name: user, Groups: []string{"Bench"}, Subscription: "both"})
		show, status := presenceMix(i)
		e.peers = append(e.peers, &peer{user: user, show: show, status: status})
		e.contacts[jid] = true
		e.nicks[user] = true
		if show == "" {
			e.avail[user] = true
		}
	}
	if err := srv.SetRoster("me", roster); err != nil {
		return s, err
	}
	s.setup = time.Since(t0)
	log.Printf("N=%d: server and %d accounts ready in %v", n, n+1, s.setup.Round(time.Millisecond))
	t1 := time.Now()
	if err := loginPeers(e.peers, srv.Addr, srv.Domain, e.pass, parallel); err != nil {
		return s, err
	}
	defer func() {
		for _, p := range e.peers {
			p.close()
		}
	}()
	s.login = time.Since(t1)
	log.Printf("N=%d: %d peers logged in in %v", n, n, s.login.Round(time.Millisecond))
	if bitlbee {
		if e.bitlbeePort, err = bitlbeePort(); err != nil {
			return s, err
		}
		r, err := relay(e.bitlbeePort, srv.Addr)
		if err != nil {
			return s, err
		}
		defer r.stop()
	}
	time.Sleep(500 * time.Millisecond)
	// A warm-up login, so that the first measured client does not pay for
	// Prosody loading the user's roster and archive from disk.
	e.rttCount, e.tpCount = 10, 10
	if _, err := floorRun(e, 0); err != nil {
		return s, fmt.Errorf("warm-up: %w", err)
	}
	e.rttCount, e.tpCount = rtt, tp
	quiesce(e)

	for r := 1; r <= runs; r++ {
		// The clients take turns in a rotating order, so that none of them
		// always comes first (say, to a server whose archive grew less).
		turns := []func() error{
			func() error { return floorTurn(e, &s, r) },
			func() error { gatewayTurn(e, &s, r, "xircd", gatewayRun, &s.gateway); return nil },
		}
		if e.bitlbeePort != 0 {
			turns = append(turns, func() error { gatewayTurn(e, &s, r, "BitlBee", bitlbeeRun, &s.bitlbee); return nil })
		}
		for i := range turns {
			if err := turns[(i+r-1)%len(turns)](); err != nil {
				return s, err
			}
			quiesce(e)
		}
	}
	return s, nil
}
