package main

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"xircd/internal/prosodytest"
)

// memOnline of the memContacts contacts of BenchmarkMultiUserHeap are
// online, as in `go run ./bench`: seven in ten plainly available, the
// others with a status text.
const memOnline = 35

// onlineStatus is contact k's status text: one in ten each, as the bench's
// away, dnd and xa contacts have. Every online contact is available
// (voiced), so that a client can tell when all of them are shown.
func onlineStatus(k int) string {
	return [10]string{7: "in a meeting until 3", 8: "focus time", 9: "on holiday"}[k%10]
}

// startOnlineContacts registers the first memOnline contacts, each with
// every user of jids in its roster, and logs each in over a plain XML
// stream (PLAIN without TLS: srv must allow it) that sends its presence
// and then discards what arrives: a small buffer and a goroutine each,
// set before any measurement. Closing the returned connections logs them out.
func startOnlineContacts(b *testing.B, srv *prosodytest.Server, jids []string, pass string) []net.Conn {
	var roster []prosodytest.RosterEntry
	for _, jid := range jids {
		roster = append(roster, prosodytest.RosterEntry{JID: jid, Name: jid[:strings.IndexByte(jid, '@')], Subscription: "both"})
	}
	conns := make([]net.Conn, 0, memOnline)
	b.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for k := range memOnline {
		user := fmt.Sprintf("mc%02d", k)
		if _, err := srv.Register(user, pass); err != nil {
			b.Fatal(err)
		}
		if err := srv.SetRoster(user, roster); err != nil {
			b.Fatal(err)
		}
		c, err := net.Dial("tcp", srv.Addr)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		c.SetDeadline(time.Now().Add(30 * time.Second))
		r := bufio.NewReaderSize(c, 256)
		open := fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", srv.Domain)
		steps := []struct{ send, until string }{
			{open, "</stream:features>"},
			{"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + "</auth>", "<success"},
			{open, "</stream:features>"},
			{"<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>peer</resource></bind></iq>", "</iq>"},
		}
		for _, st := range steps {
			if _, err := io.WriteString(c, st.send); err != nil {
				b.Fatal(err)
			}
			if err := readUntil(r, st.until); err != nil {
				b.Fatalf("%s: waiting for %s: %v", user, st.until, err)
			}
		}
		presence := "<presence/>"
		if status := onlineStatus(k); status != "" {
			presence = "<presence><status>" + status + "</status></presence>"
		}
		if _, err := io.WriteString(c, presence); err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Time{})
		// Byte by byte: what arrives is little, and a bigger buffer would
		// stand out in the heap profile.
		go func() {
			for {
				if _, err := r.ReadByte(); err != nil {
					return
				}
			}
		}()
	}
	return conns
}

// readUntil reads r up to and including the first occurrence of marker.
func readUntil(r *bufio.Reader, marker string) error {
	var seen strings.Builder
	for !strings.HasSuffix(seen.String(), marker) {
		c, err := r.ReadByte()
		if err != nil {
			return fmt.Errorf("%w after %q", err, seen.String())
		}
		seen.WriteByte(c)
	}
	return nil
}

// waitOnline asks c's control channel for its members (read from r)
// until memOnline contacts are voiced: every online contact's presence has
// been shown.
func waitOnline(b *testing.B, c net.Conn, r *bufio.Reader, nick string) {
	c.SetDeadline(time.Now().Add(time.Minute))
	defer c.SetDeadline(time.Time{})
	for {
		fmt.Fprintf(c, "NAMES &xmpp\r\n")
		voiced := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				b.Fatalf("%s: %d of %d contacts online: %v", nick, voiced, memOnline, err)
			}
			f := strings.Fields(line)
			if len(f) >= 2 && f[1] == "366" {
				break
			}
			if len(f) >= 6 && f[1] == "353" && f[4] == "&xmpp" {
				for _, m := range f[5:] {
					if strings.HasPrefix(strings.TrimLeft(strings.TrimPrefix(m, ":"), "@%"), "+mc") {
						voiced++
					}
				}
			}
		}
		if voiced >= memOnline {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
