package main

import (
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"xircd/xmpp"
)

// floorRun measures a plain XMPP client session of the user: the floor any
// gateway is compared against.
func floorRun(e *env, run int) (result, error) {
	var res result
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	t0 := time.Now()
	s, err := xmpp.New(xmpp.Config{JID: e.me, Password: e.pass, Server: e.srv.Addr, CAFile: e.srv.CAFile,
		Resource: fmt.Sprintf("floor%d", run), Logger: logger})
	if err != nil {
		return res, err
	}
	s.Start()
	defer closeWithin(s, 5*time.Second)

	// Roster and presence of every contact.
	want := e.n
	seen := make(map[string]bool, want)
	rosterN := -1
	var loginAt time.Time
	deadline := time.After(e.readyTimeout)
	for rosterN != want || len(seen) < want {
		select {
		case <-s.EventsReady():
			ev, ok := s.NextEvent()
			if !ok {
				return res, fmt.Errorf("floor: session closed")
			}
			switch ev := ev.(type) {
			case xmpp.Connected:
				loginAt = time.Now()
			case xmpp.Roster:
				rosterN = len(ev.Items)
			case xmpp.Presence:
				if ev.Type == "" && ev.MUC == nil {
					bare, _, _ := strings.Cut(ev.From, "/")
					if e.contacts[bare] {
						// xircd shows a contact once it is online, too.
						if len(seen) == 0 {
							res.firstShown = time.Since(loginAt)
						}
						seen[bare] = true
					}
				}
			case xmpp.Disconnected:
				return res, fmt.Errorf("floor: disconnected: %v", ev.Err)
			}
		case <-deadline:
			return res, fmt.Errorf("floor: roster %d/%d, presence %d/%d after %v", rosterN, want, len(seen), want, e.readyTimeout)
		}
	}
	res.ready = time.Since(t0)

	// Sequential round trips to one available contact.
	target := e.peers[0].user + "@" + e.srv.Domain
	tag := fmt.Sprintf("f%d", run)
	for i := 0; i < e.rttCount; i++ {
		body := fmt.Sprintf("%s-rtt-%d", tag, i)
		start := time.Now()
		if _, err := s.SendMessage(xmpp.OutMessage{To: target, Type: "chat", Body: body}); err != nil {
			return res, err
		}
		if err := waitMessage(s, body, 10*time.Second); err != nil {
			res.lost++
			continue
		}
		res.rtts = append(res.rtts, time.Since(start))
	}

	// Throughput: everything written at once, spread over available contacts.
	targets := e.tpTargets()
	pending := make(map[string]bool, e.tpCount)
	start := time.Now()
	for i := 0; i < e.tpCount; i++ {
		body := fmt.Sprintf("%s-tp-%d", tag, i)
		pending[body] = true
		if _, err := s.SendMessage(xmpp.OutMessage{To: targets[i%len(targets)] + "@" + e.srv.Domain, Type: "chat", Body: body}); err != nil {
			return res, err
		}
	}
	idle := time.NewTimer(e.idleTimeout)
	last := start
	for len(pending) > 0 {
		select {
		case <-s.EventsReady():
			ev, _ := s.NextEvent()
			if m, ok := ev.(xmpp.Message); ok && pending[m.Body] {
				delete(pending, m.Body)
				last = time.Now()
				idle.Reset(e.idleTimeout)
			}
		case <-idle.C:
			goto done
		}
	}
done:
	// Until the last echo: a lost message is counted, not waited for.
	res.tp = last.Sub(start)
	res.tpLost = len(pending)
	return res, nil
}

func waitMessage(s *xmpp.Session, body string, timeout time.Duration) error {
	t := time.After(timeout)
	for {
		select {
		case <-s.EventsReady():
			ev, _ := s.NextEvent()
			if m, ok := ev.(xmpp.Message); ok && m.Body == body {
				return nil
			}
		case <-t:
			return fmt.Errorf("no echo of %q", body)
		}
	}
}

// floorMemory runs the floorproc binary, a process that does the same work
// as the floor client (roster and presences, round trips, a burst) with the
// same session code, and returns its peak RSS and its RssFile (KiB): the
// memory floor.
func floorMemory(e *env, run int) (rssKiB, fileKiB int, err error) {
	var to []string
	for _, t := range e.tpTargets() {
		to = append(to, t+"@"+e.srv.Domain)
	}
	cmd := exec.Command(e.floorProc, "-jid", e.me, "-password", e.pass, "-server", e.srv.Addr,
		"-ca", e.srv.CAFile, "-contacts", strconv.Itoa(e.n), "-resource", fmt.Sprintf("mem%d", run),
		"-rtt", strconv.Itoa(e.rttCount), "-messages", strconv.Itoa(e.tpCount), "-targets", strings.Join(to, ","))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(stderr.String()))
	}
	for _, l := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(l, ":")
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.Atoi(f[0])
		switch k {
		case "VmHWM":
			rssKiB = n
		case "RssFile":
			fileKiB = n
		}
	}
	if rssKiB == 0 {
		return 0, 0, fmt.Errorf("no VmHWM in %q", out)
	}
	return rssKiB, fileKiB, nil
}

func closeWithin(s *xmpp.Session, d time.Duration) {
	done := make(chan struct{})
	go func() { s.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}
