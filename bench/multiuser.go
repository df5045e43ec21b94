package main

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

// muContacts is the size of every user's roster in the multi-user run.
const muContacts = 50

// muResult is one multi-user run: U users at once against one server.
type muResult struct {
	users, peers     int
	loadBefore       string
	loadAfter        string
	floorReady       time.Duration // U plain XMPP sessions in one process
	floorRetries     int           // new login attempts of those sessions
	xircdRetries     int           // IRC logins tried again after xircd refused them
	xircdAttempts    int           // XMPP logins xircd tried again while the IRC login waited
	xircdReady       time.Duration // U IRC clients of one xircd
	idleKiB, peakKiB int           // xircd's VmRSS before any login, VmHWM at the end
	readyPeakKiB     int           // xircd's VmHWM once every roster was ready
	// xircd's and BitlBee's pages of their binary and libraries (RssFile)
	// when idle and at the end: code run for the first time grows them,
	// once for all users.
	idleFileKiB, endFileKiB               int
	bitlbeeIdleFileKiB, bitlbeeEndFileKiB int
	cpu                                   time.Duration // xircd's CPU time, whole run
	rtts                                  []time.Duration
	rttLost, everyone                     int // lost in the round trips; users whose one message came back
	// floorRTTs are a plain XMPP session's round trips to the same
	// contact, taking turns with xircd's while the same users are online:
	// what Prosody and the machine give, without xircd in the path.
	floorRTTs    []time.Duration
	floorRTTLost int
	// Prosody's CPU time while the floor's and xircd's users logged in
	// (until every roster was ready).
	floorServerCPU, xircdServerCPU time.Duration
	// rttServerBusy is Prosody's CPU time over the wall time of the round
	// trips: how busy the server was meanwhile (with what the logins set
	// off, for one).
	rttServerBusy float64

	// BitlBee, one process serving the same users; bitlbee false when not
	// measured, bitlbeeErr why it failed.
	bitlbee                  bool
	bitlbeeErr               error
	bitlbeeReady             time.Duration
	bitlbeeIdle, bitlbeePeak int // KiB, as for xircd
	bitlbeeReadyPeak         int // KiB, highest once every roster was ready
	bitlbeeCPU               time.Duration
	// The same messages as xircd's: the first user's round trips (alone,
	// not taking turns with a plain session), then one of every user.
	bitlbeeRTTs                     []time.Duration
	bitlbeeRTTLost, bitlbeeEveryone int
	bitlbeeStartTLS                 int // BitlBee's XMPP streams that asked for StartTLS
}

// muRTTFloorUser is the account of the plain session whose round trips
// take turns with xircd's first user's.
const muRTTFloorUser = "rttfloor"

// muUser is user i's account name.
func muUser(i int) string { return fmt.Sprintf("user%05d", i) }

// muRoster is the indexes of user i's contacts among peers echo peers:
// muContacts consecutive ones, so that the rosters overlap evenly.
func muRoster(i, peers int) []int {
	idx := make([]int, muContacts)
	for k := range idx {
		idx[k] = (i*muContacts + k) % peers
	}
	return idx
}

// multiUserBench measures, for each count in users, one xircd in
// multi-user mode serving that many users at once, each with muContacts
// contacts out of a pool of peers echo peers, against the floor of as many
// plain XMPP sessions in one process.
// With withBitlBee, one BitlBee process serving the same users is measured
// too.
func multiUserBench(work, bin string, users []int, peers, rtt, parallel int, withBitlBee bool) (string, error) {
	start := time.Now()
	var rs []muResult
	for _, u := range users {
		r, err := multiUserRun(work, bin, u, peers, rtt, parallel, withBitlBee)
		if err != nil {
			return "", fmt.Errorf("%d users: %w", u, err)
		}
		rs = append(rs, r)
	}
	return muMarkdown(rs, rtt, withBitlBee, start), nil
}

func multiUserRun(work, bin string, users, peers, rtt, parallel int, withBitlBee bool) (res muResult, err error) {
	res = muResult{users: users, peers: peers, loadBefore: loadAvg()}
	defer func() { res.loadAfter = loadAvg() }()
	if peers < muContacts {
		return res, fmt.Errorf("%d peers: need at least %d", peers, muContacts)
	}
	// A thousand logins at once overflow Prosody's default listen backlog
	// of 128, and the connections beyond it are reset.
	srv, err := prosodytest.Start(prosodytest.Options{AllowPlain: true, LogLevel: "error",
		ExtraConfig: "network_settings = { tcp_backlog = 4096 }\n"})
	if err != nil {
		return res, err
	}
	defer srv.Close()
	defer func() {
		if err != nil {
			if b, rerr := os.ReadFile(srv.LogFile); rerr == nil && len(b) > 0 {
				log.Printf("prosody log:\n%s", b[max(0, len(b)-4000):])
			}
		}
	}()
	const pass = "bench-password"
	peerRosters := make([][]prosodytest.RosterEntry, peers)
	var jids []string
	for i := 0; i < users; i++ {
		jid, err := srv.Register(muUser(i), pass)
		if err != nil {
			return res, err
		}
		jids = append(jids, jid)
		var roster []prosodytest.RosterEntry
		for _, p := range muRoster(i, peers) {
			name := fmt.Sprintf("peer%05d", p)
			roster = append(roster, prosodytest.RosterEntry{JID: name + "@" + srv.Domain, Name: name, Groups: []string{"Bench"}, Subscription: "both"})
			peerRosters[p] = append(peerRosters[p], prosodytest.RosterEntry{JID: jid, Name: muUser(i), Subscription: "both"})
		}
		if err := srv.SetRoster(muUser(i), roster); err != nil {
			return res, err
		}
	}
	var echo []*peer
	for p := 0; p < peers; p++ {
		name := fmt.Sprintf("peer%05d", p)
		if _, err := srv.Register(name, pass); err != nil {
			return res, err
		}
		if err := srv.SetRoster(name, peerRosters[p]); err != nil {
			return res, err
		}
		show, status := presenceMix(p)
		echo = append(echo, &peer{user: name, show: show, status: status})
	}
	if err := loginPeers(echo, srv.Addr, srv.Domain, pass, parallel); err != nil {
		return res, err
	}
	defer func() {
		for _, p := range echo {
			p.close()
		}
	}()
	// The floor's round trips while xircd's users are online go from an
	// account of their own to the same contact as xircd's first user.
	rttJID, err := srv.Register(muRTTFloorUser, pass)
	if err != nil {
		return res, err
	}
	log.Printf("U=%d: %d users and %d peers ready", users, users, peers)
	e := &env{srv: srv}
	quiesce(e)

	// A warm-up round of the floor (unmeasured) loads every roster from disk.
	if _, _, err := muFloor(srv, jids, pass); err != nil {
		return res, fmt.Errorf("warm-up: %w", err)
	}
	quiesce(e)
	_, cpu0 := procUsage(srv.PID())
	if res.floorReady, res.floorRetries, err = muFloor(srv, jids, pass); err != nil {
		return res, err
	}
	_, cpu1 := procUsage(srv.PID())
	res.floorServerCPU = cpu1 - cpu0
	log.Printf("U=%d floor: all rosters ready in %v (%d logins tried again), Prosody CPU %v", users, res.floorReady.Round(time.Millisecond), res.floorRetries, res.floorServerCPU)
	quiesce(e)
	if err := muXircd(work, bin, srv, jids, rttJID, pass, rtt, &res); err != nil {
		return res, err
	}
	log.Printf("U=%d xircd: all rosters ready in %v (XMPP logins tried again %d, IRC logins %d), Prosody CPU %v, idle %d KiB, peak %d KiB, cpu %v, rtt p50 %v p99 %v (floor beside it: p50 %v p99 %v; Prosody busy %.0f%%), lost %d, %d/%d users echoed",
		users, res.xircdReady.Round(time.Millisecond), res.xircdAttempts, res.xircdRetries, res.xircdServerCPU, res.idleKiB, res.peakKiB, res.cpu, pct(res.rtts, 50), pct(res.rtts, 99),
		pct(res.floorRTTs, 50), pct(res.floorRTTs, 99), 100*res.rttServerBusy, res.rttLost, res.everyone, users)
	if withBitlBee {
		quiesce(e)
		// A failure of BitlBee is reported in its table, not lost with
		// xircd's figures.
		if res.bitlbeeErr = muBitlBee(work, srv, jids, pass, rtt, &res); res.bitlbeeErr != nil {
			log.Printf("U=%d BitlBee failed: %v", users, res.bitlbeeErr)
			return res, nil
		}
		log.Printf("U=%d BitlBee: all rosters ready in %v, idle %d KiB, peak %d KiB, cpu %v",
			users, res.bitlbeeReady.Round(time.Millisecond), res.bitlbeeIdle, res.bitlbeePeak, res.bitlbeeCPU)
	}
	return res, nil
}

// muBitlBee logs every user in at once to one BitlBee process, each over
// its own IRC connection with its own Jabber account, and measures the time
// until every user's &bitlbee holds its contacts, and the process's memory
// and CPU time. BitlBee logs in with StartTLS, verifying Prosody's
// certificate, through a relay on a port it accepts (see bitlbeePort).
func muBitlBee(work string, srv *prosodytest.Server, jids []string, pass string, rtt int, res *muResult) error {
	xmppPort, err := bitlbeePort()
	if err != nil {
		return err
	}
	xmppRelay, err := relay(xmppPort, srv.Addr)
	if err != nil {
		return err
	}
	defer xmppRelay.stop()
	proc, listen, err := startBitlBee(work, srv.CAFile)
	if err != nil {
		return err
	}
	defer proc.stop()
	probe, err := dialIRCBuffered(listen, 15*time.Second, 16)
	if err != nil {
		return proc.errorf("connect: %v", err)
	}
	probe.conn.Close()
	time.Sleep(500 * time.Millisecond)
	res.bitlbeeIdle = statusKiB(proc.cmd.Process.Pid, "VmRSS")
	rss := watchRSS(proc.cmd.Process.Pid)
	defer rss.close()
	res.bitlbeeIdleFileKiB = statusKiB(proc.cmd.Process.Pid, "RssFile")

	clients := make([]*ircClient, len(jids))
	errs := make(chan error, len(jids))
	t0 := time.Now()
	for i, jid := range jids {
		go func() {
			c, err := dialIRCBuffered(listen, 30*time.Second, 1024)
			if err != nil {
				errs <- err
				return
			}
			clients[i] = c
			// One process registers every connection in turn.
			if err := bitlbeeLogin(c, muUser(i), jid, pass, xmppPort, true, 5*time.Minute); err != nil {
				errs <- fmt.Errorf("%s: %v", muUser(i), err)
				return
			}
			errs <- muReady(c, "&bitlbee", i, res.peers, nil)
		}()
	}
	var first error
	for range jids {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	res.bitlbeeReady = time.Since(t0)
	res.bitlbeeReadyPeak = rss.peak()
	res.bitlbeeStartTLS = int(xmppRelay.startTLS.Load())
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	if first != nil {
		return proc.errorf("%v", first)
	}
	// The same messages as xircd's, so that both peaks at the end are of
	// the same work.
	for i := 0; i < rtt; i++ {
		d, err := muRoundTrip(clients[0], muFirstContact(0, res.peers), fmt.Sprintf("mu-rtt-%d", i))
		if err != nil {
			return proc.errorf("%v", err)
		}
		if d == 0 {
			res.bitlbeeRTTLost++
			continue
		}
		res.bitlbeeRTTs = append(res.bitlbeeRTTs, d)
	}
	res.bitlbeeEveryone = muEveryoneAtOnce(clients, res.peers)
	_, res.bitlbeeCPU = procUsage(proc.cmd.Process.Pid)
	res.bitlbeePeak = rss.peak()
	res.bitlbeeEndFileKiB = statusKiB(proc.cmd.Process.Pid, "RssFile")
	res.bitlbee = true
	return nil
}

// muFirstContact is user i's first contact's nick, the one it writes to.
func muFirstContact(i, peers int) string { return fmt.Sprintf("peer%05d", muRoster(i, peers)[0]) }

// muRoundTrip sends body to target and waits for its echo: the round
// trip's time, 0 when the echo did not come within 10 s.
func muRoundTrip(c *ircClient, target, body string) (time.Duration, error) {
	start := time.Now()
	if err := c.send("PRIVMSG " + target + " :" + body); err != nil {
		return 0, fmt.Errorf("send: %v", err)
	}
	if err := waitPrivmsg(c, target, body, 10*time.Second); err != nil {
		return 0, nil
	}
	return time.Since(start), nil
}

// muEveryoneAtOnce sends one message of every user at once, each to its
// first contact, and returns how many came back.
func muEveryoneAtOnce(clients []*ircClient, peers int) int {
	echoed := make(chan bool, len(clients))
	for i, c := range clients {
		go func() {
			target, body := muFirstContact(i, peers), fmt.Sprintf("mu-all-%d", i)
			echoed <- c.send("PRIVMSG "+target+" :"+body) == nil && waitPrivmsg(c, target, body, 30*time.Second) == nil
		}()
	}
	n := 0
	for range clients {
		if <-echoed {
			n++
		}
	}
	return n
}

// muFloor logs every user in at once with an XMPP session of its own, all
// in this process, and returns the time until every session has its roster
// of muContacts and every contact's presence.
func muFloor(srv *prosodytest.Server, jids []string, pass string) (d time.Duration, retries int, err error) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	t0 := time.Now()
	errs := make(chan error, len(jids))
	sessions := make([]*xmpp.Session, len(jids))
	tries := make([]int, len(jids))
	for i, jid := range jids {
		s, err := xmpp.New(xmpp.Config{JID: jid, Password: pass, Server: srv.Addr, CAFile: srv.CAFile, Resource: "floor", Logger: logger})
		if err != nil {
			return 0, 0, err
		}
		sessions[i] = s
		s.Start()
		go func() { errs <- muFloorReady(s, &tries[i]) }()
	}
	for range jids {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	d = time.Since(t0)
	for _, n := range tries {
		retries += n
	}
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() { defer wg.Done(); closeWithin(s, 5*time.Second) }()
	}
	wg.Wait()
	return d, retries, err
}

// muFloorReady waits for the roster and every contact's presence, counting
// the session's new attempts at logging in in *retries.
func muFloorReady(s *xmpp.Session, retries *int) error {
	rosterN := -1
	seen := make(map[string]bool, muContacts)
	deadline := time.After(5 * time.Minute)
	for rosterN != muContacts || len(seen) < muContacts {
		select {
		case <-s.EventsReady():
			ev, ok := s.NextEvent()
			if !ok {
				return fmt.Errorf("floor: session closed")
			}
			switch ev := ev.(type) {
			case xmpp.Roster:
				rosterN = len(ev.Items)
			case xmpp.Presence:
				if ev.Type == "" && ev.MUC == nil {
					bare, _, _ := strings.Cut(ev.From, "/")
					seen[bare] = true
				}
			case xmpp.Disconnected:
				// A login that timed out in the crowd is tried again by
				// the session, as xircd's are.
				if ev.RetryIn == 0 {
					return fmt.Errorf("floor: disconnected: %v", ev.Err)
				}
				*retries++
			}
		case <-deadline:
			return fmt.Errorf("floor: roster %d, presences %d", rosterN, len(seen))
		}
	}
	// Keep draining, so that the session never blocks on its events.
	go func() {
		for range s.Events() {
		}
	}()
	return nil
}

// muXircd starts one xircd in multi-user mode, logs every user in at once
// over IRC (PASS jid:password) and measures readiness, then round trips of
// the first user while all are online, taking turns with those of a plain
// XMPP session of rttJID to the same contact, one message of every user,
// and the process's memory and CPU time.
func muXircd(work, bin string, srv *prosodytest.Server, jids []string, rttJID, pass string, rtt int, res *muResult) error {
	dir, err := os.MkdirTemp(work, "xircd-mu-")
	if err != nil {
		return err
	}
	port, err := prosodytest.FreePort()
	if err != nil {
		return err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf("[irc]\nlisten = %q\n[xmpp]\nserver = %q\nca_file = %q\n[bridge]\nstate_dir = %q\n[multiuser]\nenabled = true\nallowed_domains = [%q]\nmax_users = %d\n",
		listen, srv.Addr, srv.CAFile, filepath.Join(dir, "state"), srv.Domain, len(jids))
	cfgPath := filepath.Join(dir, "xircd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}
	proc, err := startGateway("xircd", dir, exec.Command(bin, "-config", cfgPath))
	if err != nil {
		return err
	}
	defer proc.stop()
	probe, err := dialIRCBuffered(listen, 15*time.Second, 16)
	if err != nil {
		return proc.errorf("connect: %v", err)
	}
	probe.conn.Close()
	time.Sleep(500 * time.Millisecond)
	res.idleKiB = statusKiB(proc.cmd.Process.Pid, "VmRSS")
	rss := watchRSS(proc.cmd.Process.Pid)
	defer rss.close()
	res.idleFileKiB = statusKiB(proc.cmd.Process.Pid, "RssFile")

	// Online before the crowd, as a user already there.
	floor, err := xmpp.New(xmpp.Config{JID: rttJID, Password: pass, Server: srv.Addr, CAFile: srv.CAFile, Resource: "rtt",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	floor.Start()
	defer closeWithin(floor, 5*time.Second)
	if err := muConnected(floor); err != nil {
		return err
	}

	clients := make([]*ircClient, len(jids))
	tries, attempts := make([]int, len(jids)), make([]int, len(jids))
	errs := make(chan error, len(jids))
	_, cpu0 := procUsage(srv.PID())
	t0 := time.Now()
	for i, jid := range jids {
		go func() {
			// A login whose XMPP side timed out in the crowd is refused;
			// the client tries again a second later, as clients do.
			var err error
			for ; tries[i] < 5; tries[i]++ {
				if tries[i] > 0 {
					time.Sleep(time.Second)
				}
				var c *ircClient
				if c, err = dialIRCBuffered(listen, 30*time.Second, 1024); err != nil {
					continue
				}
				c.send("PASS "+jid+":"+pass, "NICK "+muUser(i), "USER bench 0 * :bench")
				if err = muReady(c, "&xmpp", i, res.peers, &attempts[i]); err == nil {
					clients[i] = c
					break
				}
				c.conn.Close()
			}
			errs <- err
		}()
	}
	var first error
	for range jids {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	res.xircdReady = time.Since(t0)
	res.readyPeakKiB = rss.peak()
	_, cpu1 := procUsage(srv.PID())
	res.xircdServerCPU = cpu1 - cpu0
	for i, n := range tries {
		res.xircdRetries += n
		res.xircdAttempts += attempts[i]
	}
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	if first != nil {
		return proc.errorf("%v", first)
	}

	// Round trips of the first user while everyone is online, taking
	// turns at going first with the plain session's.
	target := muFirstContact(0, res.peers)
	xircdRTT := func(i int) error {
		d, err := muRoundTrip(clients[0], target, fmt.Sprintf("mu-rtt-%d", i))
		if err != nil {
			return proc.errorf("%v", err)
		}
		if d == 0 {
			res.rttLost++
			return nil
		}
		res.rtts = append(res.rtts, d)
		return nil
	}
	floorRTT := func(i int) error {
		body := fmt.Sprintf("mu-floor-rtt-%d", i)
		start := time.Now()
		if _, err := floor.SendMessage(xmpp.OutMessage{To: target + "@" + srv.Domain, Type: "chat", Body: body}); err != nil {
			return err
		}
		if err := waitMessage(floor, body, 10*time.Second); err != nil {
			res.floorRTTLost++
			return nil
		}
		res.floorRTTs = append(res.floorRTTs, time.Since(start))
		return nil
	}
	_, cpu0 = procUsage(srv.PID())
	rttStart := time.Now()
	for i := 0; i < rtt; i++ {
		first, second := xircdRTT, floorRTT
		if i%2 == 1 {
			first, second = floorRTT, xircdRTT
		}
		if err := first(i); err != nil {
			return err
		}
		if err := second(i); err != nil {
			return err
		}
	}
	_, cpu1 = procUsage(srv.PID())
	res.rttServerBusy = float64(cpu1-cpu0) / float64(time.Since(rttStart))
	res.everyone = muEveryoneAtOnce(clients, res.peers)
	_, res.cpu = procUsage(proc.cmd.Process.Pid)
	res.peakKiB = rss.peak()
	res.endFileKiB = statusKiB(proc.cmd.Process.Pid, "RssFile")
	return nil
}

// muConnected waits for s's first login.
func muConnected(s *xmpp.Session) error {
	deadline := time.After(time.Minute)
	for {
		select {
		case <-s.EventsReady():
			ev, ok := s.NextEvent()
			if !ok {
				return fmt.Errorf("floor round trips: session closed")
			}
			if _, ok := ev.(xmpp.Connected); ok {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("floor round trips: not logged in after a minute")
		}
	}
}

// xircdRetryNotice starts the notice of a first XMPP login that xircd tries
// again while the IRC login waits.
const xircdRetryNotice = "Logging in to XMPP failed"

// muReady waits until user i's control channel holds all of its contacts,
// counting in *retried (when not nil) the XMPP logins tried again.
func muReady(c *ircClient, channel string, i int, peers int, retried *int) error {
	want := make(map[string]bool, muContacts)
	for _, p := range muRoster(i, peers) {
		want[fmt.Sprintf("peer%05d", p)] = true
	}
	members, voiced := newNickSet(want), newNickSet(nil)
	deadline := time.After(5 * time.Minute)
	for members.n < muContacts {
		l, err := c.next(deadline)
		if err != nil {
			return fmt.Errorf("%s: contacts visible %d/%d: %v", muUser(i), members.n, muContacts, err)
		}
		trackMembers(l, channel, members, voiced)
		if retried != nil && l.cmd == "NOTICE" && len(l.params) > 1 && strings.HasPrefix(l.params[1], xircdRetryNotice) {
			*retried++
		}
		if l.cmd == "ERROR" || l.cmd == "464" || l.cmd == "465" {
			return fmt.Errorf("%s: %s %v", muUser(i), l.cmd, l.params)
		}
		// BitlBee tells of a failed XMPP login (a refused certificate
		// among them) only in its control channel.
		if l.cmd == "PRIVMSG" && len(l.params) > 1 && l.params[0] == channel && strings.Contains(l.params[1], " - Login error: ") {
			return fmt.Errorf("%s: %s", muUser(i), l.params[1])
		}
	}
	return nil
}

// perUserKiB is a process's resident size per user: its peak less its
// size before any user, over the users.
func perUserKiB(peakKiB, idleKiB, users int) float64 {
	return float64(peakKiB-idleKiB) / float64(users)
}

// muMarkdown reports the multi-user runs, which began at start and end now.
func muMarkdown(rs []muResult, rtt int, withBitlBee bool, start time.Time) string {
	var b strings.Builder
	now := time.Now().UTC()
	fmt.Fprintf(&b, "### Results %s–%s\n\n", start.UTC().Format("2006-01-02 15:04"), now.Format("15:04 UTC"))
	fmt.Fprintf(&b, "%s, %s, Prosody %s (mod_mam, no mod_limits). Every user has %d contacts out of a shared pool of echo peers (seven in ten available). One run per user count.\n\n",
		now.Format("2006-01-02"), machine(), prosodyVersion(), muContacts)
	b.WriteString("| users | peers | load before → after | floor: all rosters ready | xircd: all rosters ready | × floor | logins tried again (floor / xircd: XMPP, IRC) | Prosody CPU in the logins (floor / xircd) | xircd idle RSS | xircd peak RSS: rosters ready, end | RSS per user: rosters ready, end | of the RSS, binary and library pages: idle → end | xircd CPU | round trip p50 / p99 (one user) | floor beside it: p50 / p99 | Prosody busy in the round trips | lost |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		lost := r.rttLost + (r.users - r.everyone)
		fmt.Fprintf(&b, "| %d | %d | %s → %s | %.0f ms | %.0f ms | %.2f× | %d / %d, %d | %.1f / %.1f s | %.1f MiB | %.1f, %.1f MiB | %.0f, %.0f KiB | %.1f → %.1f MiB | %.2f s | %.3f / %.3f ms | %.3f / %.3f ms (%d lost) | %.0f %% | %d of %d |\n",
			r.users, r.peers, r.loadBefore, r.loadAfter, ms(r.floorReady), ms(r.xircdReady), float64(r.xircdReady)/float64(r.floorReady), r.floorRetries, r.xircdAttempts, r.xircdRetries,
			r.floorServerCPU.Seconds(), r.xircdServerCPU.Seconds(),
			float64(r.idleKiB)/1024, float64(r.readyPeakKiB)/1024, float64(r.peakKiB)/1024, perUserKiB(r.readyPeakKiB, r.idleKiB, r.users), perUserKiB(r.peakKiB, r.idleKiB, r.users),
			float64(r.idleFileKiB)/1024, float64(r.endFileKiB)/1024, r.cpu.Seconds(),
			ms(pct(r.rtts, 50)), ms(pct(r.rtts, 99)), ms(pct(r.floorRTTs, 50)), ms(pct(r.floorRTTs, 99)), r.floorRTTLost, 100*r.rttServerBusy, lost, rtt+r.users)
	}
	switch {
	case !withBitlBee && bitlbeeInstalled():
		b.WriteString("\nBitlBee: not measured (-bitlbee=false).\n")
	case !withBitlBee:
		b.WriteString("\nBitlBee: not measured (not installed).\n")
	default:
		fmt.Fprintf(&b, "\nBitlBee %s, one process (daemon mode) serving the same users, each over its own IRC connection with its own Jabber account (StartTLS like the floor and xircd, Prosody's certificate verified against the test CA, then PLAIN inside TLS as BitlBee has no SCRAM; through a loopback relay), timed until every user's &bitlbee holds its %d contacts; then the same messages as xircd's (the first user's %d round trips, alone, then one message of every user at once):\n\n", bitlbeeVersion(), muContacts, rtt)
		b.WriteString("| users | BitlBee: all rosters ready | × floor | xircd ÷ BitlBee | BitlBee idle RSS | BitlBee peak RSS: rosters ready, end | RSS per user, rosters ready (BitlBee / xircd) | RSS per user, end (BitlBee / xircd) | BitlBee's binary and library pages: idle → end | BitlBee CPU | round trip p50 / p99 (one user) | lost | streams with StartTLS |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, r := range rs {
			if r.bitlbeeErr != nil {
				fmt.Fprintf(&b, "| %d | failed: %s | | | | | | | | | | | |\n", r.users, strings.ReplaceAll(r.bitlbeeErr.Error(), "|", "/"))
				continue
			}
			fmt.Fprintf(&b, "| %d | %.0f ms | %.2f× | %.2f× | %.1f MiB | %.1f, %.1f MiB | %.0f / %.0f KiB | %.0f / %.0f KiB | %.1f → %.1f MiB | %.2f s | %.3f / %.3f ms | %d of %d | %d of %d |\n",
				r.users, ms(r.bitlbeeReady), float64(r.bitlbeeReady)/float64(r.floorReady), float64(r.xircdReady)/float64(r.bitlbeeReady),
				float64(r.bitlbeeIdle)/1024, float64(r.bitlbeeReadyPeak)/1024, float64(r.bitlbeePeak)/1024,
				perUserKiB(r.bitlbeeReadyPeak, r.bitlbeeIdle, r.users), perUserKiB(r.readyPeakKiB, r.idleKiB, r.users),
				perUserKiB(r.bitlbeePeak, r.bitlbeeIdle, r.users), perUserKiB(r.peakKiB, r.idleKiB, r.users),
				float64(r.bitlbeeIdleFileKiB)/1024, float64(r.bitlbeeEndFileKiB)/1024, r.bitlbeeCPU.Seconds(),
				ms(pct(r.bitlbeeRTTs, 50)), ms(pct(r.bitlbeeRTTs, 99)), r.bitlbeeRTTLost+(r.users-r.bitlbeeEveryone), rtt+r.users, r.bitlbeeStartTLS, r.users)
		}
	}
	return b.String()
}
