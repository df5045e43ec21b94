package prosodytest

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startTLS opens a stream, upgrades it with StartTLS verifying the server
// against CAFile, and returns the features offered after TLS.
func startTLS(t *testing.T, s *Server) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := s.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	header := fmt.Sprintf("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>", s.Domain)
	io.WriteString(c, header)
	r := bufio.NewReader(c)
	readUntil(t, r, "</stream:features>")
	io.WriteString(c, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	readUntil(t, r, "<proceed")
	pem, err := os.ReadFile(s.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tc := tls.Client(c, &tls.Config{ServerName: s.Domain, RootCAs: pool})
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS with the generated CA: %v", err)
	}
	io.WriteString(tc, header)
	return readUntil(t, bufio.NewReader(tc), "</stream:features>")
}

func readUntil(t *testing.T, r *bufio.Reader, marker string) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 1)
	for !strings.Contains(b.String(), marker) {
		if _, err := r.Read(buf); err != nil {
			t.Fatalf("reading until %q: %v (got %q)", marker, err, b.String())
		}
		b.Write(buf)
	}
	return b.String()
}

func TestStartTLSRegisterRestart(t *testing.T) {
	s := StartT(t, Options{})
	features := startTLS(t, s)
	if !strings.Contains(features, "SCRAM-SHA-1") {
		t.Errorf("features after TLS lack SCRAM-SHA-1: %s", features)
	}
	jid, err := s.Register("alice", "secret")
	if err != nil || jid != "alice@localhost" {
		t.Fatalf("Register = %q, %v", jid, err)
	}
	if err := s.SetRoster("alice", []RosterEntry{{JID: "bob@localhost", Name: `Bob "the" \ builder`, Groups: []string{"Friends"}, Subscription: "both"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir, "data", "localhost", "accounts", "alice.dat")); err != nil {
		t.Fatal(err)
	}
	port := s.Port
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Port != port {
		t.Fatalf("port changed on restart")
	}
	startTLS(t, s)
}

func TestEncodePath(t *testing.T) {
	for in, want := range map[string]string{"localhost": "localhost", "a.b-c": "a%2eb%2dc", "x_y": "x_y"} {
		if got := encodePath(in); got != want {
			t.Errorf("encodePath(%q) = %q, want %q", in, got, want)
		}
	}
	if got := luaQuote("a\"\\\n"); got != `"a\"\\\010"` {
		t.Errorf("luaQuote = %s", got)
	}
}
