package ircd

import (
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

func TestParseClientName(t *testing.T) {
	for _, tc := range []struct {
		in, user, client string
		bad              bool
	}{
		{in: "carol", user: "carol"},
		{in: "carol@laptop", user: "carol", client: "laptop"},
		{in: "carol@example.org@phone-2", user: "carol@example.org", client: "phone-2"},
		{in: "@weechat.1", user: "", client: "weechat.1"},
		{in: "carol@", bad: true},
		{in: "carol@lap top", bad: true},
		{in: "carol@lap/top", bad: true},
		{in: "carol@" + strings.Repeat("x", 33), bad: true},
	} {
		user, client, err := ParseClientName(tc.in)
		if (err != nil) != tc.bad || user != tc.user || client != tc.client {
			t.Errorf("ParseClientName(%q) = %q, %q, %v", tc.in, user, client, err)
		}
	}
}

func TestSASLClientName(t *testing.T) {
	for _, tc := range []struct {
		authz, authc, client string
		ok                   bool
	}{
		{"", "me@example.org", "", true},
		{"me@example.org", "me@example.org", "", true},
		{"me@example.org@phone", "me@example.org", "phone", true},
		{"you@example.org@phone", "me@example.org", "", false},
		{"me@example.org@", "me@example.org", "", false},
		{"me@example.org@a b", "me@example.org", "", false},
	} {
		client, ok := saslClientName(tc.authz, tc.authc)
		if client != tc.client || ok != tc.ok {
			t.Errorf("saslClientName(%q, %q) = %q, %v", tc.authz, tc.authc, client, ok)
		}
	}
}

// The backend learns the client's name from USER or from SASL; the
// username shown in prefixes is without it.
func TestClientNameReachesBackend(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{Password: "secret"}, b)

	t.Run("USER", func(t *testing.T) {
		c := dial(t, l)
		c.send("PASS secret", "NICK me", "USER carol@laptop 0 * :R")
		c.expect(irc.RPL_WELCOME, "me")
		s := b.waitAttach(t)
		if s.d.ClientName() != "laptop" || s.d.User() != "carol" {
			t.Errorf("ClientName() = %q, User() = %q", s.d.ClientName(), s.d.User())
		}
	})
	t.Run("malformed in USER", func(t *testing.T) {
		c := dial(t, l)
		c.send("PASS secret", "NICK me", "USER carol@lap,top 0 * :R")
		c.expect(ERR_INVALIDUSERNAME, "me")
	})
	t.Run("SASL authzid", func(t *testing.T) {
		c := dial(t, l)
		c.send("CAP REQ sasl", "NICK me", "USER u@laptop 0 * :R")
		c.expect("CAP", "*", "ACK", "sasl")
		c.send("AUTHENTICATE PLAIN")
		c.expect("AUTHENTICATE", "+")
		c.send("AUTHENTICATE " + saslPlain("me@example.org@phone", "me@example.org", "secret"))
		c.expect(RPL_LOGGEDIN, "me", "me!u@localhost", "me@example.org")
		c.expect(RPL_SASLSUCCESS, "me")
		c.send("CAP END")
		c.expect(irc.RPL_WELCOME, "me")
		if s := b.waitAttach(t); s.d.ClientName() != "phone" || s.d.Account() != "me@example.org" {
			t.Errorf("ClientName() = %q, Account() = %q", s.d.ClientName(), s.d.Account())
		}
	})
	t.Run("SASL authzid of someone else", func(t *testing.T) {
		c := dial(t, l)
		c.send("CAP REQ sasl")
		c.expect("CAP", "*", "ACK", "sasl")
		c.send("AUTHENTICATE PLAIN")
		c.expect("AUTHENTICATE", "+")
		c.send("AUTHENTICATE " + saslPlain("you@example.org", "me@example.org", "secret"))
		c.expect(ERR_SASLFAIL, "*")
	})
}
