package e2e

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

// The multi-user contract: one user's dead client, huge roster or flood
// never holds up another user. In each test "me" is in trouble and "you"
// chats with carol meanwhile; the multi-user tests' common env provides
// both accounts.

// converse has carol and you exchange messages from to to-1 both ways,
// each waiting for the other's: every one must arrive, in order.
func converse(t *testing.T, yours *ircClient, carol *peer, you string, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		carol.send(you, fmt.Sprintf("to you %d", i))
		m := yours.expect(func(m *irc.Message) bool {
			return m.Command == "PRIVMSG" && strings.HasPrefix(m.Trailing(), "to you ")
		})
		if want := fmt.Sprintf("to you %d", i); m.Trailing() != want {
			t.Fatalf("you got %q, want %q", m.Trailing(), want)
		}
		yours.send("PRIVMSG carol :to carol %d", i)
		got := carol.expect(func(ev xmpp.Event) bool {
			m, ok := ev.(xmpp.Message)
			return ok && strings.HasPrefix(m.Body, "to carol ")
		}).(xmpp.Message)
		if want := fmt.Sprintf("to carol %d", i); got.Body != want {
			t.Fatalf("carol got %q, want %q", got.Body, want)
		}
	}
}

// loginWithoutReading logs in to account with SASL PLAIN over a connection
// whose reader is not started: whatever xircd sends waits in the socket
// buffers (kept small) until newIRCClient reads it.
func loginWithoutReading(t *testing.T, addr, nick, account, password string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(conn, "CAP LS 302\r\nCAP REQ :sasl\r\nNICK %s\r\nUSER %s 0 * :e2e\r\nAUTHENTICATE PLAIN\r\nAUTHENTICATE %s\r\nCAP END\r\n",
		nick, nick, base64.StdEncoding.EncodeToString([]byte("\x00"+account+"\x00"+password)))
	return conn
}

// stalledClient logs in like loginWithoutReading, reads up to the end of
// the MOTD and then stops reading.
func stalledClient(t *testing.T, addr, nick, account, password string) net.Conn {
	t.Helper()
	return readUntil(t, loginWithoutReading(t, addr, nick, account, password), " 376 ")
}

// readUntil reads conn up to the end of the first line that contains text,
// byte by byte, so that what follows is left in the socket for
// newIRCClient.
func readUntil(t *testing.T, conn net.Conn, text string) net.Conn {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(waitTimeout))
	defer conn.SetReadDeadline(time.Time{})
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := conn.Read(b); err != nil {
			t.Fatalf("reading up to %q: %v", text, err)
		}
		line = append(line, b[0])
		if b[0] != '\n' {
			continue
		}
		if strings.Contains(string(line), text) {
			return conn
		}
		line = line[:0]
	}
}

// A user's client stops reading in the middle of a flood to it, so that
// xircd's write to it blocks, and then vanishes with a TCP RST: another user
// chats on both ways all along and gets everything, and the first user's
// session stays up and keeps what came meanwhile.
func TestMultiUserDeadClientDoesNotStallOthers(t *testing.T) {
	e := newMultiUserEnv(t, "", contact{user: "alice"})
	alice := e.peer("alice", "phone")
	carol := e.peer("carol", "phone")
	e.start()
	you := "you@" + e.srv.Domain

	mine := stalledClient(t, e.ircAddr, "me", e.userJID, userPass)
	gw := e.gatewayJID(alice)
	yours := e.saslClient("you", you, "you-pass")
	waitContact(t, yours, "carol")
	converse(t, yours, carol, you, 0, 5)

	// More than the socket buffers hold (about 4 MiB on Linux), less than
	// the send queue: xircd's writer to me blocks mid-write.
	long := strings.Repeat("x", 1000)
	const flood, away, messages = 5000, 20, 40
	for i := 0; i < flood; i++ {
		alice.send(gw, fmt.Sprintf("flood %d %s", i, long))
	}
	alice.synced(gw)
	converse(t, yours, carol, you, 5, messages/2)
	mine.(*net.TCPConn).SetLinger(0)
	mine.Close()
	converse(t, yours, carol, you, messages/2, messages)

	// me's session notices the client is gone, and stays.
	waitFor(t, func() bool { return e.metric("xircd_irc_clients") == "1" })
	for i := 0; i < away; i++ {
		alice.send(gw, fmt.Sprintf("while away %03d", i))
	}
	alice.synced(gw)
	converse(t, yours, carol, you, messages, messages+5)
	if v := e.metric("xircd_users"); v != "2" {
		t.Errorf("xircd_users %s, want 2", v)
	}

	back := e.saslClient("me", e.userJID, userPass)
	for i := 0; i < away; i++ {
		want := fmt.Sprintf("while away %03d", i)
		m := back.expect(func(m *irc.Message) bool {
			return m.Command == "PRIVMSG" && strings.Contains(m.Trailing(), "while away ")
		})
		if !strings.HasSuffix(m.Trailing(), want) {
			t.Fatalf("me's backlog: %q, want %q", m.Trailing(), want)
		}
	}
}

// A user with a huge roster logs in while another user is mid-conversation,
// and asks for the whole roster again and again (WHO &xmpp) without
// reading the answers, until xircd's connection to that client waits for
// it to read. The other user's conversation goes on to the end before the
// first client reads a byte more; that client then gets every answer.
func TestMultiUserHugeRosterDoesNotStallOthers(t *testing.T) {
	e := newMultiUserEnv(t, "")
	// Offline contacts too are in the control channel: the whole roster
	// goes to the client.
	e.extra = "show_offline = true"
	carol := e.peer("carol", "phone")
	const contacts = 3000
	roster := make([]prosodytest.RosterEntry, contacts)
	for i := range roster {
		roster[i] = prosodytest.RosterEntry{JID: fmt.Sprintf("c%04d@%s", i, e.srv.Domain), Name: fmt.Sprintf("contact%04d", i), Subscription: "both"}
	}
	if err := e.srv.SetRoster("me", roster); err != nil {
		t.Fatal(err)
	}
	e.start()
	you := "you@" + e.srv.Domain
	yours := e.saslClient("you", you, "you-pass")
	waitContact(t, yours, "carol")

	converse(t, yours, carol, you, 0, 5)
	whosBefore := e.logCount("command=WHO")
	mine := stalledClient(t, e.ircAddr, "me", e.userJID, userPass)
	// Buffers small enough that the answers outgrow them, big enough
	// that reading is not slow.
	mine.(*net.TCPConn).SetReadBuffer(64 << 10)
	readUntil(t, mine, fmt.Sprintf("contact%04d", contacts-1))
	// With the roster in, each answer is some 300 kB: together far more
	// than the socket buffers and half the send queue hold. The
	// conversation goes on until three whole exchanges pass while xircd
	// reads no more of me's WHOs: its connection to me is stuck on the
	// unread answers.
	const whos = 60
	for i := 0; i < whos; i++ {
		fmt.Fprintf(mine, "WHO &xmpp\r\n")
	}
	next, read, still := 5, -1, 0
	for still < 3 {
		n := e.logCount("command=WHO") - whosBefore
		if n == whos {
			t.Fatalf("xircd answered all %d WHOs: its connection to me never waited", whos)
		}
		if n == read {
			still++
		} else {
			read, still = n, 0
		}
		converse(t, yours, carol, you, next, next+1)
		next++
	}
	converse(t, yours, carol, you, next, next+10)

	mine.(*net.TCPConn).SetReadBuffer(4 << 20)
	me := newIRCClient(t, mine)
	for i := 0; i < whos; i++ {
		me.expect(func(m *irc.Message) bool { return m.Command == irc.RPL_ENDOFWHO && m.Param(1) == "&xmpp" })
	}
	if n := len(namesOf(me, "&xmpp")); n < contacts {
		t.Errorf("me's &xmpp has %d names, want %d contacts and more", n, contacts)
	}
}

// logCount is how many times text is in xircd's log.
func (e *env) logCount(text string) int {
	e.t.Helper()
	b, err := os.ReadFile(e.logFile)
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Count(string(b), text)
}

// A contact floods a user whose client reads along: another user's
// conversation, meanwhile, loses nothing and keeps its order; the flooded
// user gets the whole flood too. What it guards is loss and reordering
// under a flood: a lock shared between users only slows the other user
// here, and no test asserts a time, so the isolation proper is shown by
// the dead-client, slow-client and huge-roster tests.
func TestMultiUserFloodLosesNothingForAnyone(t *testing.T) {
	e := newMultiUserEnv(t, "", contact{user: "alice"})
	alice := e.peer("alice", "phone")
	carol := e.peer("carol", "phone")
	e.start()
	you := "you@" + e.srv.Domain

	me := e.saslClient("me", e.userJID, userPass)
	waitContact(t, me, "alice")
	gw := e.gatewayJID(alice)
	yours := e.saslClient("you", you, "you-pass")
	waitContact(t, yours, "carol")

	const flood, messages = 3000, 40
	for i := 0; i < flood; i++ {
		alice.send(gw, fmt.Sprintf("flood %d", i))
	}
	converse(t, yours, carol, you, 0, messages)

	for i := 0; i < flood; i++ {
		m := me.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && strings.HasPrefix(m.Trailing(), "flood ") })
		if want := fmt.Sprintf("flood %d", i); m.Trailing() != want {
			t.Fatalf("me got %q, want %q", m.Trailing(), want)
		}
	}
}
