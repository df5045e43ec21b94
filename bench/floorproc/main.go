// Command floorproc is the memory floor of the benchmark: a process that
// does nothing but log in with xircd's XMPP session and receive the roster
// and every contact's presence. Its peak RSS is what the same Go runtime,
// TLS stack and session code need before any gateway work; the benchmark
// reports it next to xircd's.
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
	flag.Parse()
	if err := run(*jid, *pass, *server, *ca, *resource, *n); err != nil {
		fmt.Fprintln(os.Stderr, "floorproc:", err)
		os.Exit(1)
	}
}

func run(jid, pass, server, ca, resource string, n int) error {
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
		case ev, ok := <-s.Events():
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
