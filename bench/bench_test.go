package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

func TestPercentileAndSummary(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	if got := pct(ds, 50); got != 50*time.Millisecond {
		t.Errorf("p50 = %v, want 50ms", got)
	}
	if got := pct(ds, 99); got != 99*time.Millisecond {
		t.Errorf("p99 = %v, want 99ms", got)
	}
	if got := pct(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %v", got)
	}
	s := summarize([]float64{3, 1, 2, 10})
	if s.med != 2.5 || s.min != 1 || s.max != 10 {
		t.Errorf("summary = %+v, want median 2.5, 1–10", s)
	}
	if got := s.format("ms", 1); got != "2.5 ms (1.0–10.0)" {
		t.Errorf("format = %q", got)
	}
}

func TestProcUsageOfSelf(t *testing.T) {
	rss, _ := procUsage(os.Getpid())
	if rss <= 0 {
		t.Fatalf("VmHWM of this process = %d KiB", rss)
	}
}

// The raw echo peer logs in to a real Prosody and answers a real client.
func TestEchoPeer(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{AllowPlain: true})
	const pass = "pw"
	me, err := srv.Register("me", pass)
	if err != nil {
		t.Fatal(err)
	}
	peerJID, err := srv.Register("peer1", pass)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.SetRoster("me", []prosodytest.RosterEntry{{JID: peerJID, Name: "peer1", Subscription: "both"}}); err != nil {
		t.Fatal(err)
	}
	if err := srv.SetRoster("peer1", []prosodytest.RosterEntry{{JID: me, Subscription: "both"}}); err != nil {
		t.Fatal(err)
	}
	p := &peer{user: "peer1", show: "away", status: "out <to> lunch"}
	if err := loginPeers([]*peer{p}, srv.Addr, srv.Domain, pass, 1); err != nil {
		t.Fatal(err)
	}
	defer p.close()

	s, err := xmpp.New(xmpp.Config{JID: me, Password: pass, Server: srv.Addr, CAFile: srv.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer closeWithin(s, 5*time.Second)
	timeout := time.After(20 * time.Second)
	sawPresence := false
	for !sawPresence {
		select {
		case <-s.EventsReady():
			ev, _ := s.NextEvent()
			if pr, ok := ev.(xmpp.Presence); ok && pr.From == peerJID+"/echo" {
				if pr.Show != "away" || pr.Status != "out <to> lunch" {
					t.Fatalf("peer presence %+v", pr)
				}
				sawPresence = true
			}
		case <-timeout:
			t.Fatal("no presence from the peer")
		}
	}
	if _, err := s.SendMessage(xmpp.OutMessage{To: peerJID, Body: "a & <b>"}); err != nil {
		t.Fatal(err)
	}
	if err := waitMessage(s, "a & <b>", 20*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestNickSetCountsWanted(t *testing.T) {
	s := newNickSet(map[string]bool{"a": true, "b": true})
	s.set("a", true)
	s.set("a", true) // again: no double count
	s.set("x", true) // not wanted: in the set, not counted
	s.set("b", true)
	if s.n != 2 || !s.has["x"] {
		t.Fatalf("n = %d, has = %v; want 2 wanted members and x present", s.n, s.has)
	}
	s.set("b", false)
	s.set("b", false)
	s.set("y", false)
	if s.n != 1 || s.has["b"] {
		t.Fatalf("after removing b: n = %d, has = %v", s.n, s.has)
	}
}

// The load tool end to end, small: a real Prosody, echo peers, the floor
// client and process, and the real xircd binary driven over IRC. Nothing
// here is timed; it proves that every measurement comes back and that no
// message is lost.
func TestBenchSmoke(t *testing.T) {
	prosodytest.Require(t)
	work := t.TempDir()
	bin, floorProc := filepath.Join(work, "xircd"), filepath.Join(work, "floorproc")
	if err := buildStatic(bin, "xircd/cmd/xircd"); err != nil {
		t.Fatal(err)
	}
	if err := buildStatic(floorProc, "xircd/bench/floorproc"); err != nil {
		t.Fatal(err)
	}
	const n, msgs = 20, 20
	s, err := benchN(n, 1, msgs, msgs, false, 4, false, work, bin, floorProc)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.failures) > 0 || len(s.floor) != 1 || len(s.gateway) != 1 {
		t.Fatalf("failures %v, %d floor and %d xircd results", s.failures, len(s.floor), len(s.gateway))
	}
	f, g := s.floor[0], s.gateway[0]
	if f.ready <= 0 || g.ready <= 0 || g.readyConn <= 0 || g.voiced != s.available() {
		t.Errorf("readiness: floor %v, xircd %v (%v from connect), %d of %d available voiced", f.ready, g.ready, g.readyConn, g.voiced, s.available())
	}
	for name, r := range map[string]result{"floor": f, "xircd": g} {
		if len(r.rtts) != msgs || r.lost != 0 || r.tpLost != 0 || r.tp <= 0 {
			t.Errorf("%s: %d round trips, %d lost, %d lost in the burst, burst %v", name, len(r.rtts), r.lost, r.tpLost, r.tp)
		}
		if r.rssKiB <= 0 || r.fileKiB <= 0 || r.fileKiB > r.rssKiB {
			t.Errorf("%s: peak RSS %d KiB, of it file pages %d KiB", name, r.rssKiB, r.fileKiB)
		}
	}
	if len(g.pings) != msgs || g.cpu <= 0 {
		t.Errorf("xircd: %d PINGs answered, CPU %v", len(g.pings), g.cpu)
	}
	rep := &report{runs: 1, rtt: msgs, tp: msgs, sets: []set{s}, bitlbeeMissing: "not measured"}
	md := rep.markdown()
	for _, row := range []string{"| roster + presence ready, from start |", "| IRC hop alone: PING → PONG p50 |", "| peak RSS (VmHWM) |"} {
		if !strings.Contains(md, row) {
			t.Errorf("report lacks the row %q", row)
		}
	}
}

// Every user gets muContacts distinct peers, and the pool is spread evenly.
func TestMuRosterSpreadsPeers(t *testing.T) {
	const users, peers = 20, 100
	uses := make([]int, peers)
	for i := 0; i < users; i++ {
		seen := map[int]bool{}
		for _, p := range muRoster(i, peers) {
			if seen[p] || p < 0 || p >= peers {
				t.Fatalf("user %d: roster %v", i, muRoster(i, peers))
			}
			seen[p] = true
			uses[p]++
		}
	}
	for p, n := range uses {
		if n != users*muContacts/peers {
			t.Fatalf("peer %d is in %d rosters, want %d", p, n, users*muContacts/peers)
		}
	}
}

// The multi-user run end to end, small: every user's roster comes back in
// xircd and in the floor, and no message is lost.
func TestMultiUserSmoke(t *testing.T) {
	prosodytest.Require(t)
	work := t.TempDir()
	bin := filepath.Join(work, "xircd")
	if err := buildStatic(bin, "xircd/cmd/xircd"); err != nil {
		t.Fatal(err)
	}
	const users, msgs = 4, 10
	withBitlBee, start := bitlbeeInstalled(), time.Now()
	r, err := multiUserRun(work, bin, users, muContacts+10, msgs, 4, withBitlBee)
	if err != nil {
		t.Fatal(err)
	}
	if r.floorReady <= 0 || r.xircdReady <= 0 || r.idleKiB <= 0 || r.readyPeakKiB < r.idleKiB || r.peakKiB < r.readyPeakKiB || r.cpu <= 0 {
		t.Errorf("ready: floor %v, xircd %v; RSS idle %d KiB, peak %d KiB at ready, %d KiB at the end; CPU %v", r.floorReady, r.xircdReady, r.idleKiB, r.readyPeakKiB, r.peakKiB, r.cpu)
	}
	if r.idleFileKiB <= 0 || r.endFileKiB < r.idleFileKiB {
		t.Errorf("xircd's binary and library pages: %d KiB idle, %d KiB at the end", r.idleFileKiB, r.endFileKiB)
	}
	if len(r.rtts) != msgs || r.rttLost != 0 || r.everyone != users {
		t.Errorf("%d round trips, %d lost, %d of %d users' messages echoed", len(r.rtts), r.rttLost, r.everyone, users)
	}
	if len(r.floorRTTs) != msgs || r.floorRTTLost != 0 || r.floorServerCPU <= 0 || r.xircdServerCPU <= 0 {
		t.Errorf("floor beside xircd: %d round trips, %d lost; Prosody CPU in the logins: floor %v, xircd %v", len(r.floorRTTs), r.floorRTTLost, r.floorServerCPU, r.xircdServerCPU)
	}
	md := muMarkdown([]muResult{r}, msgs, withBitlBee, start)
	if !strings.Contains(md, "| 4 | 60 |") {
		t.Errorf("report lacks the row of 4 users:\n%s", md)
	}
	if !withBitlBee {
		t.Log("BitlBee not measured: not installed")
		return
	}
	// BitlBee's CPU is read in clock ticks (10 ms), and four users may
	// take less than one: its peak RSS shows that /proc was read.
	if !r.bitlbee || r.bitlbeeReady <= 0 || r.bitlbeeIdle <= 0 || r.bitlbeeReadyPeak < r.bitlbeeIdle || r.bitlbeePeak < r.bitlbeeReadyPeak || r.bitlbeeCPU < 0 {
		t.Errorf("BitlBee: ready %v; RSS idle %d KiB, peak %d KiB at ready, %d KiB at the end; CPU %v", r.bitlbeeReady, r.bitlbeeIdle, r.bitlbeeReadyPeak, r.bitlbeePeak, r.bitlbeeCPU)
	}
	// BitlBee does the same messages as xircd.
	if len(r.bitlbeeRTTs) != msgs || r.bitlbeeRTTLost != 0 || r.bitlbeeEveryone != users {
		t.Errorf("BitlBee: %d round trips, %d lost, %d of %d users' messages echoed", len(r.bitlbeeRTTs), r.bitlbeeRTTLost, r.bitlbeeEveryone, users)
	}
	if r.bitlbeeStartTLS != users {
		t.Errorf("%d of BitlBee's %d XMPP streams asked for StartTLS", r.bitlbeeStartTLS, users)
	}
	if !strings.Contains(md, "| 4 | ") || !strings.Contains(md, "BitlBee: all rosters ready") {
		t.Errorf("report lacks BitlBee's row of 4 users:\n%s", md)
	}
}

func TestLoginCostSmoke(t *testing.T) {
	prosodytest.Require(t)
	md, err := loginCostBench(3)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range loginRequests {
		if !strings.Contains(md, "| "+r.name+" | ") {
			t.Errorf("report lacks %q:\n%s", r.name, md)
		}
	}
	rows := 0
	for _, l := range strings.Split(md, "\n") {
		if !strings.HasPrefix(l, "| ") || strings.HasPrefix(l, "| request ") {
			continue
		}
		rows++
		if !strings.HasSuffix(l, "| 0 |") {
			t.Errorf("failed: %s", l)
		}
	}
	if rows != len(loginRequests)+1 {
		t.Errorf("%d rows, want the login and %d requests:\n%s", rows, len(loginRequests), md)
	}
}

// A peak, once read, is remembered: VmHWM can read lower later (see
// rssWatch.peak), and the peak at the end must not be below the one at
// ready.
func TestRSSPeakIsKept(t *testing.T) {
	w := &rssWatch{pid: os.Getpid()}
	p := w.peak()
	if p <= 0 || int(w.highest.Load()) < p {
		t.Fatalf("peak %d KiB, remembered %d KiB", p, w.highest.Load())
	}
	w.raise(int64(p) - 1)
	if w.peak() < p {
		t.Fatalf("a later peak %d KiB is below %d KiB", w.peak(), p)
	}
}
