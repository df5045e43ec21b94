package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

var saslBlob = base64.StdEncoding.EncodeToString([]byte("me\x00me\x00" + ircPassword))

// IRC over TLS with a password: the TLS listener serves a client that trusts
// the certificate and gives the password; a wrong password is refused.
func TestIRCOverTLSWithPassword(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	tlsAddr := freeAddr(t)
	e.ircExtra = fmt.Sprintf("tls_listen = %q\ntls_cert = %q\ntls_key = %q\npassword = %q",
		tlsAddr, e.srv.CAFile, filepath.Join(e.srv.Dir, "key.pem"), ircPassword)
	e.start()

	pem, err := os.ReadFile(e.srv.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	dial := func() *ircClient {
		conn, err := tls.Dial("tcp", tlsAddr, &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("TLS dial: %v", err)
		}
		return newIRCClient(t, conn)
	}

	c := dial()
	c.send("PASS %s", ircPassword)
	c.register("me")
	waitContact(t, c, "alice")

	// SASL PLAIN over TLS.
	sasl := dial()
	sasl.send("CAP LS 302")
	sasl.send("CAP REQ :sasl")
	sasl.expect(func(m *irc.Message) bool { return m.Command == "CAP" && m.Param(1) == "ACK" })
	sasl.send("AUTHENTICATE PLAIN")
	sasl.expect(func(m *irc.Message) bool { return m.Command == "AUTHENTICATE" && m.Param(0) == "+" })
	sasl.send("AUTHENTICATE %s", saslBlob)
	sasl.expect(func(m *irc.Message) bool { return m.Command == "903" })
	sasl.send("CAP END")
	sasl.send("NICK me")
	sasl.send("USER me 0 * :x")
	sasl.expect(func(m *irc.Message) bool { return m.Command == "001" })

	bad := dial()
	bad.send("PASS wrong")
	bad.send("NICK me")
	bad.send("USER me 0 * :x")
	bad.expect(func(m *irc.Message) bool { return m.Command == "464" })
	bad.expect(func(m *irc.Message) bool { return m.Command == "ERROR" })

	// The plain listener asks for the password too.
	plain := dialIRC(t, e.ircAddr)
	plain.send("NICK me")
	plain.send("USER me 0 * :x")
	m := plain.expect(func(m *irc.Message) bool { return m.Command == "464" || m.Command == "001" })
	if m.Command != "464" || !strings.Contains(strings.ToLower(m.Trailing()), "password") {
		t.Errorf("registration without password answered %q", m.String())
	}
}
