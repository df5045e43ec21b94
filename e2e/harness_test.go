// Package e2e tests xircd as a user meets it: the real xircd binary, a real
// Prosody behind it, real XMPP contacts on the other side and IRC clients
// speaking over TCP.
//
// The contacts' XMPP clients (see peer) are go-xmpp with the harness's own
// stanza decoding, never xircd's xmpp package: the events they report are
// only xmpp's plain data types.
package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

var xircdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "xircd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	xircdBin = filepath.Join(dir, "xircd")
	build := exec.Command("go", "build", "-o", xircdBin, "xircd/cmd/xircd")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building xircd:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	userPass    = "user-pass"
	ircPassword = "irc-secret" // used by tests that set irc.password
)

// env is one test's world: a Prosody, the user's account, contacts, and
// xircd running against them.
type env struct {
	t        *testing.T
	srv      *prosodytest.Server
	userJID  string
	dir      string
	ircAddr  string
	ircExtra string // added to the [irc] table of the generated config
	xmppAddr string // where xircd reaches the XMPP server; default srv.Addr
	extra    string // appended to the generated config
	// multiUser starts xircd in multi-user mode for the accounts of the
	// server's domain, with these keys added to [multiuser]; metricsAddr is
	// then its /metrics endpoint.
	multiUser   *string
	metricsAddr string
	proc        *exec.Cmd
	procDone    chan struct{}
	logFile     string
}

// contact describes a roster entry of the user, and the account behind it.
type contact struct {
	user, name string
	sub        string // subscription from the user's side; default both
}

func newEnv(t *testing.T, contacts ...contact) *env {
	t.Helper()
	return newEnvWith(t, prosodytest.Options{}, contacts...)
}

// newEnvWith is newEnv with a Prosody started with opts.
func newEnvWith(t *testing.T, opts prosodytest.Options, contacts ...contact) *env {
	t.Helper()
	srv := prosodytest.StartT(t, opts)
	e := &env{t: t, srv: srv, dir: t.TempDir()}
	var err error
	if e.userJID, err = srv.Register("me", userPass); err != nil {
		t.Fatal(err)
	}
	var items []prosodytest.RosterEntry
	for _, c := range contacts {
		jid, err := srv.Register(c.user, c.user+"-pass")
		if err != nil {
			t.Fatal(err)
		}
		sub := c.sub
		if sub == "" {
			sub = "both"
		}
		items = append(items, prosodytest.RosterEntry{JID: jid, Name: c.name, Subscription: sub})
		back := map[string]string{"both": "both", "to": "from", "from": "to", "none": "none"}[sub]
		if err := srv.SetRoster(c.user, []prosodytest.RosterEntry{{JID: e.userJID, Name: "me", Subscription: back}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.SetRoster("me", items); err != nil {
		t.Fatal(err)
	}
	return e
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start runs the xircd binary with a config for this env and waits until it
// accepts IRC connections. It is stopped with SIGTERM at the end of the test.
func (e *env) start() {
	t := e.t
	t.Helper()
	if e.ircAddr == "" {
		e.ircAddr = freeAddr(t)
	}
	if e.xmppAddr == "" {
		e.xmppAddr = e.srv.Addr
	}
	account := fmt.Sprintf("jid = %q\npassword = %q\n", e.userJID, userPass)
	multiUser := ""
	if e.multiUser != nil {
		e.metricsAddr = freeAddr(t)
		account = ""
		multiUser = fmt.Sprintf("[multiuser]\nenabled = true\nallowed_domains = [%q]\nmetrics_listen = %q\n%s\n", e.srv.Domain, e.metricsAddr, *e.multiUser)
	}
	cfg := fmt.Sprintf(`[irc]
listen = %q
motd = "e2e"
%s
[xmpp]
%sserver = %q
ca_file = %q
muc_service = %q
dead_timeout = "10s"
ping_interval = "4s"
[bridge]
state_dir = %q
%s
%s`, e.ircAddr, e.ircExtra, account, e.xmppAddr, e.srv.CAFile, e.srv.MUCDomain, filepath.Join(e.dir, "state"), e.extra, multiUser)
	path := filepath.Join(e.dir, "xircd.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	e.logFile = filepath.Join(e.dir, "xircd.log")
	logf, err := os.OpenFile(e.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(xircdBin, "-debug", "-config", path)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	e.proc, e.procDone = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(e.procDone) }()
	t.Cleanup(func() {
		e.stop()
		// Passwords never reach the log, not even at debug level.
		b, _ := os.ReadFile(e.logFile)
		for _, secret := range []string{userPass, ircPassword, saslBlob} {
			if strings.Contains(string(b), secret) {
				t.Errorf("the xircd log contains the password %q", secret)
			}
		}
		if t.Failed() {
			b, _ := os.ReadFile(e.logFile)
			t.Logf("xircd log:\n%s", tailString(string(b), 6000))
		}
	})
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := net.DialTimeout("tcp", e.ircAddr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-e.procDone:
			b, _ := os.ReadFile(e.logFile)
			t.Fatalf("xircd exited early:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("xircd does not accept on %s: %v", e.ircAddr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends xircd with SIGTERM, as an init system would.
func (e *env) stop() {
	if e.proc == nil {
		return
	}
	e.proc.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.procDone:
	case <-time.After(15 * time.Second):
		e.proc.Process.Kill()
		<-e.procDone
		e.t.Errorf("xircd did not exit within 15s of SIGTERM")
	}
	e.proc = nil
}

// client connects and registers an IRC client with the given caps.
func (e *env) client(nick string, caps ...string) *ircClient {
	e.t.Helper()
	c := dialIRC(e.t, e.ircAddr)
	c.register(nick, caps...)
	return c
}

func summarize(evs []xmpp.Event) string {
	var b strings.Builder
	for i, ev := range evs {
		if i > 20 {
			b.WriteString(" …")
			break
		}
		fmt.Fprintf(&b, " %T%+v", ev, ev)
	}
	return b.String()
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// waitFor polls cond until it holds or waitTimeout passes. Use it only for
// state that arrives in no particular order.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in time")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// srvAccount creates an account that is not in the user's roster.
func (e *env) srvAccount(t *testing.T, user string) string {
	t.Helper()
	jid, err := e.srv.Register(user, user+"-pass")
	if err != nil {
		t.Fatal(err)
	}
	return jid
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}

type xmppEvent = xmpp.Event

// isPresence reports whether ev is a presence from one of jid's resources
// with the given show and status.
func isPresence(ev xmpp.Event, jid, show, status string) bool {
	p, ok := ev.(xmpp.Presence)
	return ok && strings.HasPrefix(p.From, jid+"/") && p.Show == show && p.Status == status
}
