package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

// historyMessages is how many messages the archive holds for the history
// measurement, and historyLimit how many one answer asks for.
const (
	historyMessages = 300
	historyLimit    = 100
)

// historyBench measures CHATHISTORY LATEST of historyLimit messages through
// xircd against its floor, the same archive pages asked by a plain XMPP
// session, iterations times each, alternating, and returns a Markdown
// section.
func historyBench(work, bin string, iterations int) (string, error) {
	srv, err := prosodytest.Start(prosodytest.Options{AllowPlain: true, LogLevel: "error"})
	if err != nil {
		return "", err
	}
	defer srv.Close()
	const pass = "bench-password"
	me, err := srv.Register("me", pass)
	if err != nil {
		return "", err
	}
	alice, err := srv.Register("alice", pass)
	if err != nil {
		return "", err
	}
	if err := srv.SetRoster("me", []prosodytest.RosterEntry{{JID: alice, Name: "alice", Subscription: "both"}}); err != nil {
		return "", err
	}
	if err := fillArchive(srv, alice, me, pass); err != nil {
		return "", fmt.Errorf("filling the archive: %w", err)
	}

	floor, err := newHistoryFloor(srv, me, pass)
	if err != nil {
		return "", err
	}
	defer closeWithin(floor.s, 5*time.Second)
	gw, stop, err := newHistoryGateway(srv, work, bin, me, pass)
	if err != nil {
		return "", err
	}
	defer stop()

	var floorTimes, gwTimes []time.Duration
	loadBefore := loadAvg()
	for i := -5; i < iterations; i++ { // 5 warm-up rounds
		var f, g time.Duration
		// Taking turns, so that neither always comes first.
		turns := []func() error{
			func() (err error) { f, err = floor.latest(alice); return err },
			func() (err error) { g, err = gw.latest("alice"); return err },
		}
		for j := range turns {
			if err := turns[(i+j+5)%2](); err != nil {
				return "", fmt.Errorf("round %d: %w", i, err)
			}
		}
		if i >= 0 {
			floorTimes, gwTimes = append(floorTimes, f), append(gwTimes, g)
		}
	}
	loadAfter := loadAvg()
	fmed, gmed := pct(floorTimes, 50), pct(gwTimes, 50)
	log.Printf("history: floor p50 %v, xircd p50 %v", fmed, gmed)
	var b strings.Builder
	fmt.Fprintf(&b, "## CHATHISTORY LATEST %d\n\n", historyLimit)
	fmt.Fprintf(&b, "%s, %s, Prosody %s (mod_mam, internal storage, pages of at most 50), %d archived messages with the contact. ",
		time.Now().UTC().Format("2006-01-02"), machine(), prosodyVersion(), historyMessages)
	fmt.Fprintf(&b, "%d measured rounds after 5 for warm-up; in each, taking turns at going first, the floor (an XMPP session of the user asking the archive for the same %d messages, page by page) and xircd (an IRC client's `CHATHISTORY LATEST alice * %d`, until the end of its batch). Load average before %s, after %s.\n\n",
		iterations, historyLimit, historyLimit, loadBefore, loadAfter)
	b.WriteString("| | p50 | p90 | min | max |\n|---|---|---|---|---|\n")
	row := func(name string, ds []time.Duration) {
		fmt.Fprintf(&b, "| %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms |\n", name, ms(pct(ds, 50)), ms(pct(ds, 90)), ms(pct(ds, 0)), ms(pct(ds, 100)))
	}
	row("floor: MAM query", floorTimes)
	row("xircd: CHATHISTORY", gwTimes)
	fmt.Fprintf(&b, "\nxircd / floor at p50: %.2f× (target: within 1.2×).\n", float64(gmed)/float64(fmed))
	return b.String(), nil
}

// fillArchive makes from send historyMessages chats to to.
func fillArchive(srv *prosodytest.Server, from, to, pass string) error {
	s, err := xmpp.New(xmpp.Config{JID: from, Password: pass, Server: srv.Addr, CAFile: srv.CAFile, Resource: "fill",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	s.Start()
	defer closeWithin(s, 5*time.Second)
	if err := waitConnected(s); err != nil {
		return err
	}
	for i := range historyMessages {
		if _, err := s.SendMessage(xmpp.OutMessage{To: to, Body: fmt.Sprintf("archived message %d", i)}); err != nil {
			return err
		}
	}
	// A round trip to the server: everything sent before is archived.
	_, err = s.SendIQ(context.Background(), "", "get", "<ping xmlns='urn:xmpp:ping'/>")
	return err
}

func waitConnected(s *xmpp.Session) error {
	deadline := time.After(15 * time.Second)
	for {
		select {
		case <-s.EventsReady():
			ev, _ := s.NextEvent()
			if _, ok := ev.(xmpp.Connected); ok {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("not connected after 15s")
		}
	}
}

// historyFloor is a plain XMPP session of the user reading the archive.
type historyFloor struct{ s *xmpp.Session }

func newHistoryFloor(srv *prosodytest.Server, me, pass string) (*historyFloor, error) {
	s, err := xmpp.New(xmpp.Config{JID: me, Password: pass, Server: srv.Addr, CAFile: srv.CAFile, Resource: "floor",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, err
	}
	s.Start()
	if err := waitConnected(s); err != nil {
		return nil, err
	}
	return &historyFloor{s: s}, nil
}

// latest asks for the newest historyLimit messages with peer, page by page
// backwards as xircd does, and returns how long it took.
func (f *historyFloor) latest(peer string) (time.Duration, error) {
	start := time.Now()
	var got int
	before := ""
	for got < historyLimit {
		id, err := f.s.QueryArchive(context.Background(), xmpp.ArchiveQuery{With: peer, FromEnd: true, Before: before, Max: historyLimit - got})
		if err != nil {
			return 0, err
		}
		page, err := f.page(id)
		if err != nil {
			return 0, err
		}
		got += len(page.Messages)
		if page.Complete || len(page.Messages) == 0 {
			break
		}
		before = page.First
	}
	if got != historyLimit {
		return 0, fmt.Errorf("%d messages, want %d", got, historyLimit)
	}
	return time.Since(start), nil
}

func (f *historyFloor) page(id string) (xmpp.ArchivePage, error) {
	deadline := time.After(15 * time.Second)
	for {
		select {
		case <-f.s.EventsReady():
			ev, _ := f.s.NextEvent()
			if p, ok := ev.(xmpp.ArchivePage); ok && p.ID == id {
				return p, p.Err
			}
		case <-deadline:
			return xmpp.ArchivePage{}, fmt.Errorf("no archive page after 15s")
		}
	}
}

// historyGateway is an IRC client of xircd with draft/chathistory.
type historyGateway struct{ c *ircClient }

func newHistoryGateway(srv *prosodytest.Server, work, bin, me, pass string) (*historyGateway, func(), error) {
	dir, err := os.MkdirTemp(work, "history-")
	if err != nil {
		return nil, nil, err
	}
	port, err := prosodytest.FreePort()
	if err != nil {
		return nil, nil, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf("[irc]\nlisten = %q\n[xmpp]\njid = %q\npassword = %q\nserver = %q\nca_file = %q\nresource = \"gw\"\n[bridge]\nstate_dir = %q\n",
		listen, me, pass, srv.Addr, srv.CAFile, filepath.Join(dir, "state"))
	cfgPath := filepath.Join(dir, "xircd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, nil, err
	}
	proc, err := startGateway("xircd", dir, exec.Command(bin, "-config", cfgPath))
	if err != nil {
		return nil, nil, err
	}
	c, err := dialIRC(listen, 15*time.Second)
	if err != nil {
		proc.stop()
		return nil, nil, proc.errorf("connect: %v", err)
	}
	stop := func() { c.conn.Close(); proc.stop() }
	c.send("CAP LS 302", "CAP REQ :batch message-tags server-time", "NICK me", "USER me 0 * :bench", "CAP END")
	for registered := time.After(15 * time.Second); ; {
		l, err := c.next(registered)
		if err != nil {
			stop()
			return nil, nil, proc.errorf("registration: %v", err)
		}
		if l.cmd == "376" || l.cmd == "422" { // end of the MOTD, or none
			break
		}
	}
	// draft/chathistory is offered once xircd knows the server's archive.
	deadline := time.Now().Add(15 * time.Second)
	for acked := false; !acked; {
		if time.Now().After(deadline) {
			stop()
			return nil, nil, proc.errorf("draft/chathistory never offered")
		}
		c.send("CAP REQ draft/chathistory")
		for {
			l, err := c.next(time.After(5 * time.Second))
			if err != nil {
				stop()
				return nil, nil, proc.errorf("CAP REQ: %v", err)
			}
			if l.cmd == "CAP" && len(l.params) > 1 && (l.params[1] == "ACK" || l.params[1] == "NAK") {
				acked = l.params[1] == "ACK"
				break
			}
		}
		if !acked {
			time.Sleep(50 * time.Millisecond)
		}
	}
	return &historyGateway{c: c}, stop, nil
}

// latest sends CHATHISTORY LATEST for nick and returns how long its whole
// batch took.
func (g *historyGateway) latest(nick string) (time.Duration, error) {
	start := time.Now()
	if err := g.c.send(fmt.Sprintf("CHATHISTORY LATEST %s * %d", nick, historyLimit)); err != nil {
		return 0, err
	}
	timeout := time.After(15 * time.Second)
	got, open := 0, false
	for {
		l, err := g.c.next(timeout)
		if err != nil {
			return 0, err
		}
		switch {
		case l.cmd == "FAIL":
			return 0, fmt.Errorf("FAIL %v", l.params)
		case l.cmd == "BATCH" && len(l.params) > 1 && l.params[1] == "chathistory":
			open = true
		case l.cmd == "PRIVMSG" && open:
			got++
		case l.cmd == "BATCH" && open:
			if got != historyLimit {
				return 0, fmt.Errorf("%d messages, want %d", got, historyLimit)
			}
			return time.Since(start), nil
		}
	}
}
