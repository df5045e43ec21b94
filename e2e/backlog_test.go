package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

// gatewayJID waits for the presence of xircd's session, as p sees it, and
// returns its full JID.
func (e *env) gatewayJID(p *peer) string {
	e.t.Helper()
	ev := p.expect(func(ev xmpp.Event) bool {
		pr, ok := ev.(xmpp.Presence)
		return ok && strings.HasPrefix(pr.From, e.userJID+"/") && pr.Type == ""
	})
	return ev.(xmpp.Presence).From
}

// synced returns once xircd's session has read everything p sent to it
// before: it answers a ping only after the stanzas ahead of it.
func (p *peer) synced(to string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if res, err := p.SendIQ(ctx, to, "get", "<ping xmlns='urn:xmpp:ping'/>"); err != nil || res.Type != "result" {
		p.t.Fatalf("ping to %s: %v %+v", to, err, res)
	}
}

// A stranger flooding the account while no IRC client is attached cannot
// push a contact's messages out of the backlog: they come in the replay, in
// the chathistory batch of their query, and the notice names whose
// messages were dropped.
func TestBacklogFloodKeepsContactMessages(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	strangerJID := e.srvAccount(t, "stranger")
	alice := e.peer("alice", "phone")
	e.start()
	gw := e.gatewayJID(alice)
	stranger := e.peer("stranger", "bot")

	for i := 1; i <= 3; i++ {
		alice.send(gw, fmt.Sprintf("from alice %d", i))
	}
	alice.synced(gw)
	for i := 1; i <= 2000; i++ {
		stranger.send(gw, fmt.Sprintf("spam %d", i))
	}
	stranger.synced(gw)

	c := e.client("me", "batch", "server-time")
	notice := regexp.MustCompile(`^(\d+) older messages from ` + regexp.QuoteMeta(strangerJID) + ` were dropped while no IRC client was attached`)
	m := c.expect(func(m *irc.Message) bool { return m.Command == "NOTICE" && strings.Contains(m.Trailing(), "dropped") })
	if sub := notice.FindStringSubmatch(m.Trailing()); sub == nil {
		t.Errorf("drop notice %q does not name the stranger alone", m.Trailing())
	} else if n, _ := strconv.Atoi(sub[1]); n < 500 {
		t.Errorf("only %d messages dropped: the flood did not fill the backlog", n)
	}
	start := c.expect(func(m *irc.Message) bool {
		return m.Command == "BATCH" && len(m.Params) == 3 && m.Params[1] == "chathistory" && m.Params[2] == "alice"
	})
	ref := strings.TrimPrefix(start.Params[0], "+")
	for i := 1; i <= 3; i++ {
		m := c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" || m.Command == "BATCH" })
		if m.Command != "PRIVMSG" || m.Prefix.Name != "alice" || m.Trailing() != fmt.Sprintf("from alice %d", i) || m.Tags["batch"] != ref {
			t.Fatalf("message %d of alice's replay: %q", i, m.String())
		}
	}
	if m := c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" || m.Command == "BATCH" }); m.Command != "BATCH" || m.Params[0] != "-"+ref {
		t.Errorf("alice's batch does not end after her messages: %q", m.String())
	}
}

// A 100 KiB message kept while no client is attached reaches a client
// without server-time whole: every line within 512 bytes (checked for every
// line the client receives), every line stamped with its time, and the
// lines, stamps taken off, add up to the text sent.
func TestBacklogLongMessageArrivesWhole(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	gw := e.gatewayJID(alice)
	text := strings.Repeat("ünïcödé words, ", 100<<10/len("ünïcödé words, "))
	alice.send(gw, text)
	alice.synced(gw)
	sent := time.Now().UTC()

	c := e.client("me")
	stamp := regexp.MustCompile(`^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] `)
	var joined strings.Builder
	lines := 0
	for joined.Len() < len(text) {
		m := c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Prefix.Name == "alice" })
		lines++
		sub := stamp.FindStringSubmatch(m.Trailing())
		if sub == nil {
			t.Fatalf("line %d has no time stamp: %.80q", lines, m.Trailing())
		}
		at, err := time.Parse("2006-01-02 15:04:05", sub[1])
		if err != nil || at.Sub(sent) > 2*time.Second || sent.Sub(at) > 30*time.Second {
			t.Errorf("line %d stamped %s, the message was sent at %s", lines, sub[1], sent)
		}
		joined.WriteString(strings.TrimPrefix(m.Trailing(), sub[0]))
	}
	if joined.String() != text {
		t.Errorf("the %d lines do not add up to the text sent (%d bytes, got %d)", lines, len(text), joined.Len())
	}
}

// A client that stops reading is dropped when its send queue overflows,
// and reads "ERROR :SendQ exceeded" before the close once it reads again.
func TestSendQExceededGetsError(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	e.ircExtra = "send_queue = 65536"
	e.extra = "backlog_bytes = 32768"
	alice := e.peer("alice", "phone")
	e.start()
	gw := e.gatewayJID(alice)

	// A small receive buffer, so that the kernel takes little of the flood.
	d := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
	}}
	conn, err := d.Dial("tcp", e.ircAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	fmt.Fprintf(conn, "NICK me\r\nUSER me 0 * :stuck\r\n")
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("registration: %v", err)
		}
		if m, _ := irc.ParseMessage(line); m != nil && (m.Command == "376" || m.Command == "422") {
			break
		}
	}

	// The client reads no more while alice sends far more than the send
	// queue and the sockets hold.
	body := strings.Repeat("flood ", 100<<10/len("flood "))
	for i := 0; i < 80; i++ {
		alice.send(gw, body)
	}
	e.waitLog("send queue full")

	var last string
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			break
		}
		last = strings.TrimRight(line, "\r\n")
	}
	if last != "ERROR :SendQ exceeded" {
		t.Errorf("last line before the close: %.200q, want ERROR :SendQ exceeded", last)
	}
}
