package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/internal/prosodytest"
)

// deploymentExample returns the HAProxy configuration of
// docs/deployment.md: its first haproxy code block.
func deploymentExample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "docs", "deployment.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(b), "\n```haproxy\n")
	if ok {
		block, _, ok = strings.Cut(block, "\n```\n")
	}
	if !ok {
		t.Fatal("docs/deployment.md has no ```haproxy block")
	}
	return block + "\n"
}

// replaceOnce replaces old, which must occur exactly once in s, by new.
func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("the HAProxy example has %q %d times, want once", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// startHAProxy runs haproxy in the foreground with cfg and waits until it
// accepts on addr. It is killed at the end of the test.
func startHAProxy(t *testing.T, cfg, addr string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("haproxy", "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c: %v\n%s\nconfiguration:\n%s", err, out, cfg)
	}
	var log bytes.Buffer
	cmd := exec.Command("haproxy", "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("haproxy log:\n%s", tailString(log.String(), 3000))
		}
	})
	deadline := time.Now().Add(waitTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			t.Fatalf("haproxy exited early")
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy does not accept on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// welcomeServer returns the server name of the 001 c received.
func welcomeServer(c *ircClient) string {
	for _, raw := range c.rawLines() {
		if m, err := irc.ParseMessage(raw); err == nil && m.Command == irc.RPL_WELCOME {
			return m.Prefix.Name
		}
	}
	return ""
}

// Two multi-user instances behind HAProxy, configured as
// docs/deployment.md shows: each user's client names its instance's host in
// the TLS handshake, reaches that instance through the proxy (TLS ends at
// xircd, which the certificate check proves) and chats there.
func TestHAProxyRoutesBySNI(t *testing.T) {
	needTool(t, "haproxy")
	instA := newMultiUserEnv(t, "", contact{user: "alice"})
	noExtra := ""
	instB := &env{t: t, srv: instA.srv, dir: t.TempDir(), multiUser: &noExtra}
	you := "you@" + instA.srv.Domain
	alice := instA.peer("alice", "phone")
	carol := instA.peer("carol", "phone")

	pool := x509.NewCertPool()
	tlsListen := map[*env]string{}
	for _, inst := range []struct {
		e    *env
		host string
	}{{instA, "users-a.example.org"}, {instB, "users-b.example.org"}} {
		certFile, keyFile := filepath.Join(inst.e.dir, "cert.pem"), filepath.Join(inst.e.dir, "key.pem")
		if err := prosodytest.WriteCert(certFile, keyFile, []string{inst.host}); err != nil {
			t.Fatal(err)
		}
		pem, err := os.ReadFile(certFile)
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(pem)
		tlsListen[inst.e] = freeAddr(t)
		inst.e.ircExtra = fmt.Sprintf("server_name = %q\ntls_listen = %q\ntls_cert = %q\ntls_key = %q\nproxy_from = [\"127.0.0.1\"]",
			inst.host, tlsListen[inst.e], certFile, keyFile)
		inst.e.start()
	}

	proxyAddr := freeAddr(t)
	cfg := deploymentExample(t)
	cfg = replaceOnce(t, cfg, "bind :6697", "bind "+proxyAddr)
	cfg = replaceOnce(t, cfg, "10.0.0.11:6697", tlsListen[instA])
	cfg = replaceOnce(t, cfg, "10.0.0.12:6697", tlsListen[instB])
	startHAProxy(t, cfg, proxyAddr)

	// clientAddr is the address each client connects from.
	clientAddr := map[*ircClient]string{}
	dial := func(host string) *ircClient {
		conn, err := tls.Dial("tcp", proxyAddr, &tls.Config{RootCAs: pool, ServerName: host})
		if err != nil {
			t.Fatalf("TLS dial of %s through HAProxy: %v", host, err)
		}
		c := newIRCClient(t, conn)
		clientAddr[c] = conn.LocalAddr().String()
		return c
	}
	me := dial("users-a.example.org")
	me.saslRegister("me", instA.userJID, userPass)
	yours := dial("users-b.example.org")
	yours.saslRegister("you", you, "you-pass")

	// The PROXY protocol header from HAProxy gives xircd the client's own
	// address: the port is the client's, not the one HAProxy connects from.
	for c, inst := range map[*ircClient]*env{me: instA, yours: instB} {
		b, _ := os.ReadFile(inst.logFile)
		if want := "remote=" + clientAddr[c] + " "; !strings.Contains(string(b), want) {
			t.Errorf("the log of %s has no %q: xircd does not see the client's address", inst.ircAddr, want)
		}
	}

	// The server name in 001 is the instance's.
	for c, want := range map[*ircClient]string{me: "users-a.example.org", yours: "users-b.example.org"} {
		if got := welcomeServer(c); got != want {
			t.Errorf("001 from %q, want %q", got, want)
		}
	}
	for _, inst := range []*env{instA, instB} {
		if v := inst.metric("xircd_users"); v != "1" {
			t.Errorf("xircd_users of %s: %s, want 1", inst.metricsAddr, v)
		}
	}

	// Chat works both ways through the proxy, for both users.
	waitContact(t, me, "alice")
	waitContact(t, yours, "carol")
	me.send("PRIVMSG alice :hello alice")
	alice.expectMessage("hello alice")
	alice.send(instA.userJID, "hello me")
	me.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "hello me" })
	yours.send("PRIVMSG carol :hello carol")
	carol.expectMessage("hello carol")
	carol.send(you, "hello you")
	yours.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "hello you" })

	// Each user's state is on their instance only.
	for _, st := range []struct {
		e        *env
		jid      string
		expected bool
	}{{instA, instA.userJID, true}, {instA, you, false}, {instB, you, true}, {instB, instA.userJID, false}} {
		_, err := os.Stat(filepath.Join(st.e.dir, "state", st.jid))
		if exists := err == nil; exists != st.expected {
			t.Errorf("state of %s in %s: exists %v, want %v", st.jid, st.e.dir, exists, st.expected)
		}
	}

	// A host name the proxy does not know gets no instance: the proxy
	// closes the connection (the certificate is not checked here, so that
	// only a handshake with no instance at all passes).
	if conn, err := tls.Dial("tcp", proxyAddr, &tls.Config{ServerName: "users-c.example.org", InsecureSkipVerify: true}); err == nil {
		conn.Close()
		t.Error("a TLS handshake for an unknown host name succeeded through HAProxy")
	}
}
