package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// loginRequest is one request a user's session makes at login, beyond a
// plain client's, as the XMPP session API sends it.
type loginRequest struct {
	name string
	send func(ctx context.Context, s *xmpp.Session, dev *omemo.Device) (string, error)
}

// loginRequests are xircd's requests at a login, in the order it sends
// them: the bridge's after the session's own (roster, stream management,
// carbons, presence), which a plain client sends too.
var loginRequests = []loginRequest{
	{"account disco#info (CHATHISTORY)", func(ctx context.Context, s *xmpp.Session, _ *omemo.Device) (string, error) {
		return s.DiscoFeatures(ctx, "")
	}},
	{"bookmarks (autojoin)", func(ctx context.Context, s *xmpp.Session, _ *omemo.Device) (string, error) { return s.Bookmarks(ctx) }},
	{"read markers (XEP-0490)", func(ctx context.Context, s *xmpp.Session, _ *omemo.Device) (string, error) {
		return s.DisplayedMarkers(ctx)
	}},
	{"archive since the last message (empty)", func(ctx context.Context, s *xmpp.Session, _ *omemo.Device) (string, error) {
		return s.QueryArchive(ctx, xmpp.ArchiveQuery{Start: time.Now().Add(-time.Minute), Max: 100})
	}},
	{"upload service discovery", func(ctx context.Context, s *xmpp.Session, _ *omemo.Device) (string, error) {
		return s.FindUploadService(ctx)
	}},
	{"OMEMO device list", func(ctx context.Context, s *xmpp.Session, _ *omemo.Device) (string, error) {
		return s.OMEMODevices(ctx, "")
	}},
	{"OMEMO device list publication", func(ctx context.Context, s *xmpp.Session, dev *omemo.Device) (string, error) {
		return s.PublishOMEMODevices(ctx, []uint32{dev.DeviceID})
	}},
	{"OMEMO bundle publication (100 pre-keys)", func(ctx context.Context, s *xmpp.Session, dev *omemo.Device) (string, error) {
		return s.PublishOMEMOBundle(ctx, dev.Bundle())
	}},
}

// loginCostBench measures what each of xircd's login requests costs
// Prosody: users plain sessions (50 contacts each) log in at once, then
// send each request at once, twice over (the second time, a publication
// replaces the same item); Prosody's CPU time is read around each step.
func loginCostBench(users int) (string, error) {
	srv, err := prosodytest.Start(prosodytest.Options{AllowPlain: true, LogLevel: "error",
		ExtraConfig: "network_settings = { tcp_backlog = 4096 }\n"})
	if err != nil {
		return "", err
	}
	defer srv.Close()
	const pass, peers = "bench-password", 500
	for p := 0; p < peers; p++ {
		if _, err := srv.Register(fmt.Sprintf("peer%05d", p), pass); err != nil {
			return "", err
		}
	}
	jids := make([]string, users)
	for i := range jids {
		if jids[i], err = srv.Register(muUser(i), pass); err != nil {
			return "", err
		}
		var roster []prosodytest.RosterEntry
		for _, p := range muRoster(i, peers) {
			name := fmt.Sprintf("peer%05d", p)
			roster = append(roster, prosodytest.RosterEntry{JID: name + "@" + srv.Domain, Name: name, Subscription: "both"})
		}
		if err := srv.SetRoster(muUser(i), roster); err != nil {
			return "", err
		}
	}
	devices := make([]*omemo.Device, users)
	for i := range devices {
		if devices[i], err = omemo.NewDevice(rand.Reader); err != nil {
			return "", err
		}
	}
	type row struct {
		name       string
		cpu, wall  [2]time.Duration
		failed     int
		firstError error
	}
	var rows []row
	// step runs f for every user at once and measures Prosody's CPU time
	// until all are done and a moment after.
	step := func(f func(i int) error) (cpu, wall time.Duration, failed int, first error) {
		time.Sleep(time.Second) // the previous step's stragglers
		_, c0 := procUsage(srv.PID())
		t0 := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		for i := range jids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := f(i); err != nil {
					mu.Lock()
					failed++
					first = cmpErr(first, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		wall = time.Since(t0)
		time.Sleep(300 * time.Millisecond)
		_, c1 := procUsage(srv.PID())
		return c1 - c0, wall, failed, first
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sessions := make([]*xmpp.Session, users)
	events := make([]chan xmpp.Event, users)
	defer func() {
		for _, s := range sessions {
			if s != nil {
				closeWithin(s, 5*time.Second)
			}
		}
	}()
	login := row{name: "plain login (roster of 50, presences)"}
	for round := range 2 {
		login.cpu[round], login.wall[round], login.failed, login.firstError = step(func(i int) error {
			if sessions[i] != nil {
				closeWithin(sessions[i], 5*time.Second)
			}
			s, err := xmpp.New(xmpp.Config{JID: jids[i], Password: pass, Server: srv.Addr, CAFile: srv.CAFile, Resource: "cost", Logger: logger})
			if err != nil {
				return err
			}
			sessions[i] = s
			s.Start()
			for ev := range s.Events() {
				switch ev := ev.(type) {
				case xmpp.Roster:
					// Room for everything between two steps (presences,
					// answers); more is dropped rather than holding up the
					// session once the next login replaces it, and a dropped
					// answer is a request that failed.
					ch := make(chan xmpp.Event, 1024)
					events[i] = ch
					go func() {
						for ev := range s.Events() {
							select {
							case ch <- ev:
							default:
							}
						}
					}()
					return nil
				case xmpp.Disconnected:
					if ev.RetryIn == 0 {
						return fmt.Errorf("disconnected: %v", ev.Err)
					}
				}
			}
			return fmt.Errorf("session closed")
		})
	}
	rows = append(rows, login)
	for _, req := range loginRequests {
		r := row{name: req.name}
		for round := range 2 {
			r.cpu[round], r.wall[round], r.failed, r.firstError = step(func(i int) error {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				id, err := req.send(ctx, sessions[i], devices[i])
				if err != nil {
					return err
				}
				return awaitAnswer(ctx, events[i], id)
			})
		}
		rows = append(rows, r)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "### Login cost at Prosody, %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "%s, Prosody %s (mod_mam). `go run ./bench -logincost %d`: %d sessions log in at once (50 contacts each), then each request is sent by every session at once, twice; Prosody's CPU time per session. Load average at the end: %s.\n\n",
		machine(), prosodyVersion(), users, users, loadAvg())
	b.WriteString("| request | Prosody CPU per session (1st / 2nd round) | wall time, all sessions (1st / 2nd) | failed |\n|---|---|---|---|\n")
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(users) }
	for _, r := range rows {
		failed := fmt.Sprint(r.failed)
		if r.firstError != nil {
			failed += " (" + strings.ReplaceAll(r.firstError.Error(), "|", "/") + ")"
		}
		fmt.Fprintf(&b, "| %s | %.1f / %.1f ms | %.0f / %.0f ms | %s |\n", r.name, per(r.cpu[0]), per(r.cpu[1]), ms(r.wall[0]), ms(r.wall[1]), failed)
	}
	return b.String(), nil
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// awaitAnswer waits for the event that answers request id.
func awaitAnswer(ctx context.Context, events <-chan xmpp.Event, id string) error {
	for {
		select {
		case ev := <-events:
			if answerID(ev) == id {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("no answer: %w", ctx.Err())
		}
	}
}

// answerID is the request id an answer event carries, "" for others.
func answerID(ev xmpp.Event) string {
	switch ev := ev.(type) {
	case xmpp.DiscoInfo:
		return ev.ID
	case xmpp.BookmarkList:
		return ev.ID
	case xmpp.DisplayedList:
		return ev.ID
	case xmpp.ArchivePage:
		return ev.ID
	case xmpp.UploadService:
		return ev.ID
	case xmpp.OMEMODeviceList:
		return ev.ID
	case xmpp.RequestDone:
		return ev.ID
	}
	return ""
}
