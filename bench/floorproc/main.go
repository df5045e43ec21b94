// Command floorproc is the memory floor of the benchmark: a process that
// does with xircd's XMPP session what the benchmark asks of a gateway (log
// in, receive the roster and every contact's presence, sequential round
// trips, a burst of messages) and nothing else. Its peak RSS is what the
// same Go runtime, TLS stack and session code need without any gateway
// work; the benchmark reports it next to xircd's.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"xircd/xmpp"
)

func main() {
	jid := flag.String("jid", "", "account")
	pass := flag.String("password", "", "password")
	server := flag.String("server", "", "host:port")
	ca := flag.String("ca", "", "CA file of the server")
	n := flag.Int("contacts", 0, "contacts whose presence to wait for")
	resource := flag.String("resource", "floorproc", "resource")
	rtt := flag.Int("rtt", 0, "sequential round trips to the first target")
	burst := flag.Int("messages", 0, "messages sent at once, spread over the targets")
	targets := flag.String("targets", "", "comma-separated bare JIDs of echo contacts")
	flag.Parse()
	var to []string
	if *targets != "" {
		to = strings.Split(*targets, ",")
	}
	if err := run(*jid, *pass, *server, *ca, *resource, *n, *rtt, *burst, to); err != nil {
		fmt.Fprintln(os.Stderr, "floorproc:", err)
		os.Exit(1)
	}
}

func run(jid, pass, server, ca, resource string, n, rtt, burst int, to []string) error {
	s, err := xmpp.New(xmpp.Config{JID: jid, Password: pass, Server: server, CAFile: ca, Resource: resource,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	s.Start()
	defer s.Close()
	seen := make(map[string]bool, n)
	rosterN := -1
	deadline := time.After(2 * time.Minute)
	for rosterN < n || len(seen) < n {
		select {
		case <-s.EventsReady():
			ev, ok := s.NextEvent()
			if !ok {
				return fmt.Errorf("session closed")
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
				return fmt.Errorf("disconnected: %v", ev.Err)
			}
		case <-deadline:
			return fmt.Errorf("roster %d, presence %d of %d", rosterN, len(seen), n)
		}
	}
	if len(to) > 0 {
		for i := range rtt {
			body := fmt.Sprintf("mem-rtt-%d", i)
			if _, err := s.SendMessage(xmpp.OutMessage{To: to[0], Type: "chat", Body: body}); err != nil {
				return err
			}
			if err := waitEchoes(s, map[string]bool{body: true}); err != nil {
				return err
			}
		}
		pending := make(map[string]bool, burst)
		for i := range burst {
			body := fmt.Sprintf("mem-tp-%d", i)
			pending[body] = true
			if _, err := s.SendMessage(xmpp.OutMessage{To: to[i%len(to)], Type: "chat", Body: body}); err != nil {
				return err
			}
		}
		if err := waitEchoes(s, pending); err != nil {
			return err
		}
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return err
	}
	// The parent reads VmHWM and RssFile from these lines.
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmHWM:") || strings.HasPrefix(l, "RssFile:") {
			fmt.Println(l)
		}
	}
	return nil
}

// waitEchoes waits until every body in pending has come back.
func waitEchoes(s *xmpp.Session, pending map[string]bool) error {
	t := time.NewTimer(15 * time.Second)
	defer t.Stop()
	for len(pending) > 0 {
		select {
		case <-s.EventsReady():
			ev, _ := s.NextEvent()
			if m, ok := ev.(xmpp.Message); ok && pending[m.Body] {
				delete(pending, m.Body)
				t.Reset(15 * time.Second)
			}
		case <-t.C:
			return fmt.Errorf("%d echoes missing", len(pending))
		}
	}
	return nil
}
