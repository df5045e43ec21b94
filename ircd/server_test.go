package ircd

import (
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gopkg.in/irc.v4"
)

func TestRegistrationWelcomeBurst(t *testing.T) {
	overPipesAndTCP(t, func(t *testing.T, listen func(*testing.T) testListener) {
		b := newFakeBackend()
		_, l := testServerOn(t, listen(t), Config{ServerName: "gw.test", Network: "TestNet", Version: "v1"}, b)
		c := dial(t, l)

		c.send("NICK me", "USER u 0 * :Real Name")
		c.expect(irc.RPL_WELCOME, "me", "Welcome to the TestNet IRC Network me!u@localhost")
		c.expect(irc.RPL_YOURHOST, "me", "Your host is gw.test, running version v1")
		c.expect(irc.RPL_CREATED, "me")
		c.expect(irc.RPL_MYINFO, "me", "gw.test", "v1")
		var isupport []string
		lines := 0
		m := c.next()
		for m.Command == irc.RPL_ISUPPORT {
			lines++
			if m.Trailing() != "are supported by this server" {
				t.Errorf("005 trailing = %q", m.Trailing())
			}
			isupport = append(isupport, m.Params[1:len(m.Params)-1]...)
			m = c.next()
		}
		if lines < 2 {
			t.Errorf("ISUPPORT in %d line(s), want it split", lines)
		}
		for _, want := range []string{"CASEMAPPING=ascii", "CHANTYPES=&#", "NETWORK=TestNet", "UTF8ONLY",
			"NICKLEN=32", "CHANNELLEN=200", "TOPICLEN=390", "AWAYLEN=390", "PREFIX=(qaohv)~&@%+"} {
			if !slices.Contains(isupport, want) {
				t.Errorf("ISUPPORT lacks %s: %v", want, isupport)
			}
		}
		if m.Command != irc.RPL_LUSERCLIENT || m.Trailing() != "There are 1 users and 0 invisible on 1 servers" {
			t.Fatalf("got %q, want 251", m)
		}
		c.expect(irc.RPL_LUSERME, "me", "I have 1 clients and 0 servers")
		c.expect(RPL_LOCALUSERS, "me", "1", "1")
		c.expect(RPL_GLOBALUSERS, "me", "1", "1")
		c.expect(irc.ERR_NOMOTD, "me", "MOTD File is missing")

		s := b.waitAttach(t)
		if s.d.Nick() != "me" || s.d.User() != "u" || s.d.RealName() != "Real Name" || s.d.Account() != "" || s.d.ServerName() != "gw.test" {
			t.Errorf("Downstream = %s!%s (%s) account %q server %s", s.d.Nick(), s.d.User(), s.d.RealName(), s.d.Account(), s.d.ServerName())
		}
		if s.d.HasCap("server-time") {
			t.Error("HasCap(server-time) without CAP negotiation")
		}
	})
}

func TestMOTDLusersVersionTime(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{ServerName: "gw.test", Version: "v2", MOTD: []string{"hello", "world"}}, b)
	c := dial(t, l)
	burst := c.register("me")
	if got := commandsOf(burst[len(burst)-4:]); !slices.Equal(got, []string{"375", "372", "372", "376"}) {
		t.Errorf("burst ends with %v", got)
	}

	c.send("MOTD")
	c.expect(irc.RPL_MOTDSTART, "me", "- gw.test Message of the day - ")
	c.expect(irc.RPL_MOTD, "me", "- hello")
	c.expect(irc.RPL_MOTD, "me", "- world")
	c.expect(irc.RPL_ENDOFMOTD, "me")

	c.send("LUSERS")
	c.expect(irc.RPL_LUSERCLIENT, "me", "There are 1 users and 0 invisible on 1 servers")
	c.until(RPL_GLOBALUSERS)

	c.send("VERSION")
	c.expect(irc.RPL_VERSION, "me", "v2", "gw.test")
	c.expect(irc.RPL_ISUPPORT)
	c.roundtrip()

	c.send("TIME")
	m := c.expect(irc.RPL_TIME, "me", "gw.test")
	if _, err := time.Parse(time.RFC1123Z, m.Trailing()); err != nil {
		t.Errorf("TIME text %q: %v", m.Trailing(), err)
	}
}

func TestCapNegotiation(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)

	c.send("CAP LS 302", "NICK me", "USER u 0 * :R")
	ls := c.expect("CAP", "*", "LS")
	caps := strings.Fields(ls.Trailing())
	for _, want := range []string{"cap-notify", "server-time", "message-tags", "multi-prefix", "userhost-in-names",
		"away-notify", "extended-join", "echo-message", "batch", "labeled-response", "no-implicit-names",
		"account-tag", "setname", "extended-monitor", "example.org/flavour=plain"} {
		if !slices.Contains(caps, want) {
			t.Errorf("CAP LS lacks %s: %v", want, caps)
		}
	}
	if slices.ContainsFunc(caps, func(s string) bool { return strings.HasPrefix(s, "sasl") }) {
		t.Errorf("sasl advertised without a password: %v", caps)
	}
	// Registration waits for CAP END.
	c.send("CAP REQ :server-time bogus")
	c.expect("CAP", "me", "NAK", "server-time bogus")
	c.send("CAP LIST")
	c.expect("CAP", "me", "LIST", "cap-notify") // implied by 302
	c.send("CAP REQ :server-time message-tags")
	c.expect("CAP", "me", "ACK", "server-time message-tags")
	c.send("CAP REQ :-message-tags")
	c.expect("CAP", "me", "ACK", "-message-tags")
	c.send("CAP LIST")
	c.expect("CAP", "me", "LIST", "cap-notify server-time")
	c.send("CAP FOO")
	c.expect(ERR_INVALIDCAPCMD, "me", "FOO")
	c.send("CAP END")
	c.expect(irc.RPL_WELCOME, "me")
	s := b.waitAttach(t)
	if !s.d.HasCap("server-time") || s.d.HasCap("message-tags") {
		t.Error("HasCap does not reflect the negotiated caps")
	}
	c.untilMOTDEnd()

	// CAP REQ after registration.
	c.send("CAP REQ echo-message")
	c.expect("CAP", "me", "ACK", "echo-message")
	if !s.d.HasCap("echo-message") {
		t.Error("echo-message not enabled after late CAP REQ")
	}
}

func TestCapLSMultiline(t *testing.T) {
	old := capLineLen
	capLineLen = 40
	t.Cleanup(func() { capLineLen = old })
	_, l := testServer(t, Config{Password: "pw"}, newFakeBackend())
	c := dial(t, l)

	c.send("CAP LS 302")
	var got []string
	for {
		m := c.expect("CAP", "*", "LS")
		if len(m.Params) == 4 {
			if m.Params[2] != "*" {
				t.Fatalf("continuation line %q", m)
			}
			got = append(got, strings.Fields(m.Params[3])...)
			continue
		}
		got = append(got, strings.Fields(m.Params[2])...)
		break
	}
	if !slices.Contains(got, "sasl=PLAIN") || !slices.Contains(got, "labeled-response") || len(got) != len(ownCapabilities)+len(newFakeBackend().Features().Caps) {
		t.Errorf("multi-line LS gave %v", got)
	}

	// Without 302 there are no values and no continuation marker.
	c2 := dial(t, l)
	c2.send("CAP LS")
	m := c2.expect("CAP", "*", "LS")
	if len(m.Params) != 3 || strings.Contains(m.Params[2], "=") {
		t.Errorf("CAP LS (no version) = %q", m)
	}
}

func saslPlain(authz, authc, pw string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + authc + "\x00" + pw))
}

func TestSASL(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{Password: "secret"}, b)

	t.Run("success", func(t *testing.T) {
		c := dial(t, l)
		c.send("CAP LS 302")
		if ls := c.expect("CAP", "*", "LS"); !strings.Contains(ls.Trailing(), "sasl=PLAIN") {
			t.Errorf("LS = %q", ls)
		}
		c.send("NICK me", "USER u 0 * :R", "CAP REQ :sasl")
		c.expect("CAP", "me", "ACK", "sasl")
		c.send("AUTHENTICATE PLAIN")
		c.expect("AUTHENTICATE", "+")
		c.send("AUTHENTICATE " + saslPlain("", "me@example.org", "secret"))
		c.expect(RPL_LOGGEDIN, "me", "me!u@localhost", "me@example.org")
		c.expect(RPL_SASLSUCCESS, "me")
		c.send("AUTHENTICATE PLAIN")
		c.expect(ERR_SASLALREADY, "me")
		c.send("CAP END")
		c.expect(irc.RPL_WELCOME, "me")
		if s := b.waitAttach(t); s.d.Account() != "me@example.org" {
			t.Errorf("Account() = %q", s.d.Account())
		}
	})

	t.Run("wrong password, wrong mechanism, abort, too long", func(t *testing.T) {
		c := dial(t, l)
		c.send("CAP REQ sasl")
		c.expect("CAP", "*", "ACK", "sasl")
		c.send("AUTHENTICATE EXTERNAL")
		c.expect(RPL_SASLMECHS, "*", "PLAIN")
		c.expect(ERR_SASLFAIL, "*")
		c.send("AUTHENTICATE PLAIN")
		c.expect("AUTHENTICATE", "+")
		c.send("AUTHENTICATE *")
		c.expect(ERR_SASLABORTED, "*")
		c.send("AUTHENTICATE PLAIN", "AUTHENTICATE "+strings.Repeat("A", 401))
		c.expect("AUTHENTICATE", "+")
		c.expect(ERR_SASLTOOLONG, "*")
		c.send("AUTHENTICATE PLAIN", "AUTHENTICATE "+saslPlain("", "me", "wrong"))
		c.expect("AUTHENTICATE", "+")
		c.expect(ERR_SASLFAIL, "*", "SASL authentication failed")
		// Without SASL success and without PASS, registration is refused.
		c.send("NICK me", "USER u 0 * :R", "CAP END")
		c.expect(irc.ERR_PASSWDMISMATCH, "me")
		if reason := c.expectClosed(); reason != "Bad password" {
			t.Errorf("ERROR reason %q", reason)
		}
	})

	t.Run("chunked payload", func(t *testing.T) {
		// A payload of exactly 400 bytes is followed by "AUTHENTICATE +".
		pw := "secret"
		authc := strings.Repeat("x", 300-len(pw)-2)
		payload := saslPlain("", authc, pw)
		if len(payload) != 400 {
			t.Fatalf("test payload is %d bytes", len(payload))
		}
		c := dial(t, l)
		c.send("CAP REQ sasl", "AUTHENTICATE PLAIN")
		c.expect("CAP", "*", "ACK")
		c.expect("AUTHENTICATE", "+")
		c.send("AUTHENTICATE "+payload, "AUTHENTICATE +")
		c.expect(RPL_LOGGEDIN, "*", "*!*@localhost", authc)
		c.expect(RPL_SASLSUCCESS)
	})

	t.Run("not negotiated", func(t *testing.T) {
		c := dial(t, l)
		c.send("AUTHENTICATE PLAIN")
		c.expect(ERR_SASLFAIL, "*")
	})

	t.Run("too many failures", func(t *testing.T) {
		c := dial(t, l)
		c.send("CAP REQ sasl")
		c.expect("CAP")
		for i := 0; i < maxSASLFailures; i++ {
			c.send("AUTHENTICATE PLAIN", "AUTHENTICATE "+saslPlain("", "me", "nope"))
		}
		if reason := c.expectClosed(); reason != "Too many failed authentication attempts" {
			t.Errorf("ERROR reason %q", reason)
		}
	})
}

func TestPassword(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{Password: "secret"}, b)

	c := dial(t, l)
	c.send("PASS secret")
	c.register("me")
	b.waitAttach(t)
	c.send("PASS secret")
	c.expect(irc.ERR_ALREADYREGISTERED, "me")
	c.send("USER a b c d")
	c.expect(irc.ERR_ALREADYREGISTERED, "me")

	wrong := dial(t, l)
	wrong.send("PASS guess", "NICK me", "USER u 0 * :R")
	wrong.expect(irc.ERR_PASSWDMISMATCH, "me", "Password incorrect")
	if reason := wrong.expectClosed(); reason != "Bad password" {
		t.Errorf("ERROR reason %q", reason)
	}

	none := dial(t, l)
	none.send("NICK me", "USER u 0 * :R")
	none.expect(irc.ERR_PASSWDMISMATCH, "me")
	none.expectClosed()
}

func TestLoopbackOnlyWithoutPassword(t *testing.T) {
	open := NewServer(Config{}, newFakeBackend())
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 1}, true},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}, false},
		{&net.UnixAddr{Name: "/run/x", Net: "unix"}, true},
	} {
		if got := open.allowed(tc.addr); got != tc.want {
			t.Errorf("no password: allowed(%v) = %v", tc.addr, got)
		}
	}
	locked := NewServer(Config{Password: "x"}, newFakeBackend())
	if !locked.allowed(&net.TCPAddr{IP: net.IPv4(192, 0, 2, 1)}) {
		t.Error("with password: remote client refused")
	}
}

// TestLoopbackTCP runs a real TCP listener: a loopback client registers.
func TestLoopbackTCP(t *testing.T) {
	b := newFakeBackend()
	s := NewServer(Config{Logger: discardLogger()}, b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := &client{t: t, nc: nc, r: newReader(nc)}
	c.register("me")
	b.waitAttach(t)
	s.Shutdown("going down")
	if reason := c.expectClosed(); reason != "going down" {
		t.Errorf("ERROR reason %q", reason)
	}
	if r := b.waitDetach(t); r != "going down" {
		t.Errorf("Detach(%q)", r)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve returned %v after Shutdown", err)
	}
}

func TestCommandTableErrors(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)

	c.send("JOIN #x")
	c.expect(irc.ERR_NOTREGISTERED, "*", "You have not registered")
	c.send("FROB")
	c.expect(irc.ERR_UNKNOWNCOMMAND, "*", "FROB", "Unknown command")
	c.send("USER onlyone")
	c.expect(irc.ERR_NEEDMOREPARAMS, "*", "USER", "Not enough parameters")
	// An empty username or real name counts as missing (Modern IRC).
	c.send("USER u 0 * :")
	c.expect(irc.ERR_NEEDMOREPARAMS, "*", "USER", "Not enough parameters")
	c.send("USER  0 * :Real")
	c.expect(irc.ERR_NEEDMOREPARAMS, "*", "USER", "Not enough parameters")
	c.send("NICK")
	c.expect(irc.ERR_NONICKNAMEGIVEN, "*")
	c.send("PING")
	c.expect(irc.ERR_NEEDMOREPARAMS, "*", "PING")
	c.send("PING :pre reg")
	c.expect("PONG", "xircd", "pre reg")
	c.register("me")
	s := b.waitAttach(t)

	c.send("JOIN")
	c.expect(irc.ERR_NEEDMOREPARAMS, "me", "JOIN")
	c.send("KICK #x")
	c.expect(irc.ERR_NEEDMOREPARAMS, "me", "KICK")
	// The backend's commands are checked against the counts it declared.
	c.send("PRIVMSG bob")
	c.expect(irc.ERR_NEEDMOREPARAMS, "me", "PRIVMSG")
	c.send("KNOCK")
	c.expect(irc.ERR_NEEDMOREPARAMS, "me", "KNOCK")
	c.send("WHOWAS")
	c.expect(irc.ERR_NEEDMOREPARAMS, "me", "WHOWAS", "Not enough parameters")
	c.send("PRIVMSG nobody :hi")
	c.expect(irc.ERR_NOSUCHNICK, "me", "nobody", "No such nick/channel")
	s.waitHandled(t)
	c.send("LIST")
	c.expect(ERR_UNKNOWNERROR, "me", "LIST", "Internal error")
	s.waitHandled(t)
	c.send("FROB")
	c.expect(irc.ERR_UNKNOWNCOMMAND, "me", "FROB")

	// Every backend command reaches the session with its params.
	for _, line := range []string{"JOIN #a", "PART #a :bye", "PRIVMSG bob :hi there", "NOTICE bob :n",
		"@+typing=active TAGMSG bob", "WHO #a", "WHOIS bob", "WHOWAS bob 1", "NAMES #a", "TOPIC #a :t", "MODE #a +m", "ISON a b",
		"USERHOST bob", "INVITE bob #a", "KICK #a bob :r", "AWAY :gone", "KNOCK #a", "NICK other"} {
		c.send(line)
		want, _ := irc.ParseMessage(line)
		got := s.waitHandled(t)
		if got.Command != want.Command || !slices.Equal(got.Params, want.Params) {
			t.Errorf("%q reached the backend as %q", line, got)
		}
	}
	c.roundtrip()
	if s.d.Nick() != "other" {
		t.Errorf("nick after NICK = %q", s.d.Nick())
	}
}

func TestNickCollisions(t *testing.T) {
	b := newFakeBackend("xircd", "alice")
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)

	c.send("NICK 9lives")
	c.expect(irc.ERR_ERRONEUSNICKNAME, "*", "9lives", "Erroneous nickname")
	c.send("NICK :has space")
	c.expect(irc.ERR_ERRONEUSNICKNAME, "*", "has_space") // middle params never carry spaces
	c.send("NICK XIRCD")
	c.expect(irc.ERR_NICKNAMEINUSE, "*", "XIRCD", "Nickname is already in use")
	c.send("USER u 0 * :R")
	c.send("NICK Alice")
	c.expect(irc.ERR_NICKNAMEINUSE, "*", "Alice")
	c.send("NICK me")
	c.expect(irc.RPL_WELCOME, "me")
	c.untilMOTDEnd()
	s := b.waitAttach(t)

	c.send("NICK alice")
	c.expect(irc.ERR_NICKNAMEINUSE, "me", "alice")
	c.send("NICK b@d")
	c.expect(irc.ERR_ERRONEUSNICKNAME, "me", "b@d")
	c.send("NICK Me2")
	c.expect("NICK", "Me2")
	if got := s.waitHandled(t); got.Command != "NICK" {
		t.Errorf("backend got %q", got)
	}

	// A name the backend takes while a client is registering is still refused.
	c2 := dial(t, l)
	c2.send("NICK bob")
	c2.send("PING taken") // once answered, the server holds "bob" as c2's nick
	c2.expect("PONG")
	b.mu.Lock()
	b.reserved["bob"] = true
	b.mu.Unlock()
	c2.send("USER u 0 * :R")
	c2.expect(irc.ERR_NICKNAMEINUSE, "*", "bob")
	c2.send("NICK bob2")
	c2.expect(irc.RPL_WELCOME, "bob2")
}

func TestUserModes(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	s := b.waitAttach(t)

	c.send("MODE me")
	c.expect(irc.RPL_UMODEIS, "me", "+")
	c.send("MODE ME +i")
	c.expect("MODE", "me", "+i")
	c.send("MODE me")
	c.expect(irc.RPL_UMODEIS, "me", "+i")
	c.send("MODE me +z")
	c.expect(irc.ERR_UMODEUNKNOWNFLAG, "me")
	c.send("MODE bob +i")
	c.expect(irc.ERR_USERSDONTMATCH, "me")
	c.send("MODE &xmpp")
	if got := s.waitHandled(t); got.Command != "MODE" || got.Params[0] != "&xmpp" {
		t.Errorf("channel MODE reached backend as %q", got)
	}
}

func TestPingPong(t *testing.T) {
	overPipesAndTCP(t, func(t *testing.T, listen func(*testing.T) testListener) {
		b := newFakeBackend()
		_, l := testServerOn(t, listen(t), Config{PingInterval: 30 * time.Millisecond, PingTimeout: 100 * time.Millisecond}, b)

		// A client that answers keeps its connection across several PINGs.
		c := dial(t, l)
		c.register("me")
		for i := 0; i < 3; i++ {
			m := c.expect("PING", "xircd")
			c.send("PONG :" + m.Params[0])
		}
		c.send("PING :still here")
		c.until("PONG")

		// One that does not is dropped.
		quiet := dial(t, l)
		quiet.register("quiet")
		quiet.expect("PING")
		if reason := quiet.expectClosed(); !strings.HasPrefix(reason, "Ping timeout") {
			t.Errorf("ERROR reason %q", reason)
		}
		for {
			if r := b.waitDetach(t); strings.HasPrefix(r, "Ping timeout") {
				break
			}
		}
	})
}

func TestRegistrationTimeout(t *testing.T) {
	overPipesAndTCP(t, func(t *testing.T, listen func(*testing.T) testListener) {
		_, l := testServerOn(t, listen(t), Config{RegistrationTimeout: 50 * time.Millisecond}, newFakeBackend())
		c := dial(t, l)
		c.send("NICK slow")
		if reason := c.expectClosed(); reason != "Registration timed out" {
			t.Errorf("ERROR reason %q", reason)
		}
	})
}

func TestQuit(t *testing.T) {
	overPipesAndTCP(t, func(t *testing.T, listen func(*testing.T) testListener) {
		b := newFakeBackend()
		_, l := testServerOn(t, listen(t), Config{}, b)
		c := dial(t, l)
		c.register("me")
		b.waitAttach(t)
		c.send("QUIT :see you")
		if reason := c.expectClosed(); reason != "Quit: see you" {
			t.Errorf("ERROR reason %q", reason)
		}
		if r := b.waitDetach(t); r != "Quit: see you" {
			t.Errorf("Detach(%q)", r)
		}
	})
}

func TestLabeledResponse(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.send("CAP REQ :labeled-response batch echo-message")
	c.expect("CAP", "*", "ACK")
	c.send("CAP END")
	c.register("me")

	// Several replies: a labeled batch.
	c.send("@label=w1 WHOIS bob")
	start := c.expect("BATCH")
	id := strings.TrimPrefix(start.Params[0], "+")
	if start.Tags["label"] != "w1" || start.Params[1] != "labeled-response" || id == start.Params[0] {
		t.Fatalf("batch start %q", start)
	}
	for _, code := range []string{irc.RPL_WHOISUSER, irc.RPL_ENDOFWHOIS} {
		m := c.expect(code, "me", "bob")
		if m.Tags["batch"] != id || m.Tags["label"] != "" {
			t.Errorf("reply in batch: %q", m)
		}
	}
	c.expect("BATCH", "-"+id)
	// What the backend sends after the replies comes after the batch.
	c.send("@label=t1 TOPIC #late")
	id = strings.TrimPrefix(c.expect("BATCH").Params[0], "+")
	c.expect(irc.RPL_TOPIC, "me", "#late")
	c.expect(RPL_TOPICWHOTIME, "me", "#late")
	c.expect("BATCH", "-"+id)
	c.expect("NOTICE", "me", "after the answer")

	// One reply: the label on it.
	c.send("@label=i1 ISON alice")
	if m := c.expect(irc.RPL_ISON, "me", "alice"); m.Tags["label"] != "i1" {
		t.Errorf("single reply %q", m)
	}
	// An echo is the reply.
	c.send("@label=p1 PRIVMSG bob :hi")
	if m := c.expect("PRIVMSG", "bob", "hi"); m.Tags["label"] != "p1" || m.Prefix.Name != "me" {
		t.Errorf("echo %q", m)
	}
	// No reply: ACK.
	c.send("@label=j1 JOIN #x")
	if m := c.expect("ACK"); m.Tags["label"] != "j1" {
		t.Errorf("ACK %q", m)
	}
	// Errors and ircd's own commands are labeled too.
	c.send("@label=e1 FROB")
	if m := c.expect(irc.ERR_UNKNOWNCOMMAND); m.Tags["label"] != "e1" {
		t.Errorf("error %q", m)
	}
	c.send("@label=pp PING x")
	if m := c.expect("PONG"); m.Tags["label"] != "pp" {
		t.Errorf("PONG %q", m)
	}

	// Without the cap, labels are ignored.
	plain := dial(t, l)
	plain.register("plain")
	plain.send("@label=w2 WHOIS bob")
	if m := plain.expect(irc.RPL_WHOISUSER); len(m.Tags) != 0 {
		t.Errorf("untagged client got %q", m)
	}
}

func TestOutputEdgeOnDownstream(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	tagged := dial(t, l)
	tagged.send("CAP REQ :server-time message-tags batch", "CAP END")
	tagged.expect("CAP", "*", "ACK")
	tagged.register("tagged")
	ts := b.waitAttach(t)
	plain := dial(t, l)
	plain.register("plain")
	ps := b.waitAttach(t)

	msg := func() *irc.Message {
		return &irc.Message{
			Tags:    irc.Tags{"time": "2026-01-02T03:04:05.000Z", "msgid": "m1", "+typing": "active", "account": "a"},
			Prefix:  &irc.Prefix{Name: "bob", User: "bob", Host: "example.org"},
			Command: "PRIVMSG", Params: []string{"me", "line1\r\nQUIT :injected\x00"},
		}
	}
	for _, s := range []*fakeSession{ts, ps} {
		s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "xircd"}, Command: "BATCH", Params: []string{"+b1", "chathistory", "bob"}})
		s.d.Send(msg())
		s.d.Send(&irc.Message{Tags: irc.Tags{"+typing": "active"}, Prefix: &irc.Prefix{Name: "bob"}, Command: "TAGMSG", Params: []string{"me"}})
	}
	tagged.expect("BATCH", "+b1")
	m := tagged.expect("PRIVMSG", "me", "line1  QUIT :injected ")
	if m.Tags["time"] == "" || m.Tags["msgid"] != "m1" || m.Tags["+typing"] != "active" {
		t.Errorf("tagged client lost tags: %q", m)
	}
	if _, ok := m.Tags["account"]; ok {
		t.Errorf("account tag without account-tag: %q", m)
	}
	tagged.expect("TAGMSG", "me")

	m = plain.expect("PRIVMSG", "me", "line1  QUIT :injected ")
	if len(m.Tags) != 0 {
		t.Errorf("plain client got tags: %q", m)
	}
	plain.roundtrip() // BATCH and TAGMSG were dropped, not queued
}

func TestInvalidUTF8(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	s := b.waitAttach(t)
	c.send("PRIVMSG bob :caf\xe9")
	c.expect("FAIL", "PRIVMSG", "INVALID_UTF8")
	c.send("PRIVMSG bob :café")
	if got := s.waitHandled(t); got.Params[1] != "café" {
		t.Errorf("backend got %q", got)
	}
}

func TestMalformedLinesDoNotKill(t *testing.T) {
	overPipesAndTCP(t, func(t *testing.T, listen func(*testing.T) testListener) {
		_, l := testServerOn(t, listen(t), Config{}, newFakeBackend())
		c := dial(t, l)
		// "@a=b " panics inside irc.ParseMessage; ":prefix" alone is an error.
		c.send("@a=b ", ":onlyprefix", "", "   ")
		c.expect(ERR_UNKNOWNERROR, "*", "*", "Malformed line")
		c.expect(ERR_UNKNOWNERROR, "*", "*", "Malformed line")
		c.expect(ERR_UNKNOWNERROR, "*", "*", "Malformed line")
		c.register("me")
	})
}

func TestBackendPanicClosesOnlyThatClient(t *testing.T) {
	b := newFakeBackend()
	b.panicky = true
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.register("me")
	b.waitAttach(t)
	c.send("TOPIC #panic")
	if reason := c.expectClosed(); reason != "Internal error" {
		t.Errorf("ERROR reason %q", reason)
	}
	other := dial(t, l)
	other.register("other")
	other.roundtrip()
}

func TestInputTooLong(t *testing.T) {
	overPipesAndTCP(t, func(t *testing.T, listen func(*testing.T) testListener) {
		b := newFakeBackend()
		_, l := testServerOn(t, listen(t), Config{}, b)
		c := dial(t, l)
		c.register("me")
		b.waitAttach(t)

		// 1 MiB without a newline, then a normal command.
		sent := make(chan error, 1)
		go func() {
			chunk := []byte(strings.Repeat("A", 64*1024))
			for i := 0; i < 16; i++ {
				if _, err := c.nc.Write(chunk); err != nil {
					sent <- err
					return
				}
			}
			_, err := c.nc.Write([]byte("\r\nPING :after\r\n"))
			sent <- err
		}()
		c.expect(ERR_INPUTTOOLONG, "me", "Input line was too long")
		if m := c.expect("PONG"); m.Trailing() != "after" {
			t.Errorf("after overlong line: %q", m)
		}
		if err := <-sent; err != nil {
			t.Fatal(err)
		}

		// Just over the limit without tags, with a newline: 417 as well.
		c.send("PRIVMSG bob :" + strings.Repeat("x", 510))
		c.expect(ERR_INPUTTOOLONG)
		// Big tags are fine as long as they fit their own budget.
		c.send("@+x=" + strings.Repeat("t", 8000) + " PING :tagged")
		c.expect("PONG", "xircd", "tagged")
	})
}

func TestLineReaderMemoryFlat(t *testing.T) {
	in := strings.Repeat("B", 1<<20) + "\nNICK x\n" + strings.Repeat("C", 3*maxInputLen) + "\r\nPING y\r\n"
	lr := newLineReader(strings.NewReader(in))
	var got []string
	tooLongs := 0
	for {
		line, err := lr.readLine()
		if err == errLineTooLong {
			tooLongs++
			continue
		}
		if err != nil {
			break
		}
		got = append(got, string(line))
		if cap(lr.buf) > maxInputLen {
			t.Fatalf("reader buffer grew to %d", cap(lr.buf))
		}
	}
	if tooLongs != 2 || !slices.Equal(got, []string{"NICK x", "PING y"}) {
		t.Errorf("got %d overlong and lines %q", tooLongs, got)
	}
}

// TestLineReaderShrinksWhenIdle: a long line (big tags) needs a big
// buffer, which is let go once the line is read: an idle client holds at
// most idleInputLen.
func TestLineReaderShrinksWhenIdle(t *testing.T) {
	long := "@+x=" + strings.Repeat("t", 8000) + " PING :tagged"
	r, w := io.Pipe()
	lr := newLineReader(r)
	go func() {
		io.WriteString(w, "NICK x\r\n"+long+"\r\n")
		io.WriteString(w, "PING :after\r\n")
		w.Close()
	}()
	var got []string
	for {
		line, err := lr.readLine()
		if err != nil {
			break
		}
		got = append(got, string(line))
		if string(line) == "PING :after" && cap(lr.buf) > idleInputLen {
			t.Errorf("reader buffer after the long line: %d bytes, want at most %d", cap(lr.buf), idleInputLen)
		}
	}
	if !slices.Equal(got, []string{"NICK x", long, "PING :after"}) {
		t.Errorf("lines %q", got)
	}
}

// TestLineReaderHoldsNoBufferWhenEmpty: the reader takes a buffer when
// data comes, gives it back once the last line in it is read, keeps it
// while part of a line waits, and gives back one that a probe found empty
// (idle).
func TestLineReaderHoldsNoBufferWhenEmpty(t *testing.T) {
	ln := listenTCP(t)
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	lr := newLineReader(nc)
	read := func(want string) {
		t.Helper()
		line, err := lr.readLine()
		if err != nil || line != want {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
	}
	// idle waits as the connection does: nothing is held, the buffer
	// goes back unless part of a line waits.
	idle := func() {
		t.Helper()
		if lr.held(nc, time.Time{}) {
			t.Fatal("a quiet socket holds a line")
		}
		lr.idle()
	}
	idle()
	if lr.buf != nil {
		t.Errorf("a reader that never read holds %d bytes", cap(lr.buf))
	}
	io.WriteString(client, "NICK x\r\nPRIV")
	read("NICK x")
	idle()
	if lr.buf == nil {
		t.Fatal("the partial line was let go")
	}
	long := "@+x=" + strings.Repeat("t", 8000) + " PING :tagged"
	io.WriteString(client, "MSG a :b\r\n"+long+"\r\n")
	read("PRIVMSG a :b")
	read(long)
	if lr.buf != nil {
		t.Errorf("after a long line, the reader holds %d bytes", cap(lr.buf))
	}
	io.WriteString(client, "PING :after\r\n")
	read("PING :after")
	if lr.buf != nil {
		t.Errorf("once its last line is read, the reader holds %d bytes", cap(lr.buf))
	}
}

func TestSlowReaderDoesNotStallOthers(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{SendQueueBytes: 1024, WriteTimeout: time.Minute}, b)

	stuck := dial(t, l)
	stuck.register("stuck") // then never reads again
	ss := b.waitAttach(t)
	fine := dial(t, l)
	fine.register("fine")
	b.waitAttach(t)

	// The backend floods the stuck client; Send never blocks.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 10000; i++ {
			ss.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "bob"}, Command: "PRIVMSG", Params: []string{"stuck", "flood"}})
		}
	}()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Send blocked on a client that does not read")
	}
	if r := b.waitDetach(t); r != "SendQ exceeded" {
		t.Errorf("stuck client detached with %q", r)
	}
	fine.send("PING :alive")
	fine.expect("PONG", "xircd", "alive")
	// Once the stuck client reads again, what was being written comes,
	// then ERROR, then the close.
	if reason := stuck.expectClosed(); reason != "SendQ exceeded" {
		t.Errorf("stuck client's ERROR %q, want \"SendQ exceeded\"", reason)
	}
}

func TestBackendClosesClient(t *testing.T) {
	overPipesAndTCP(t, func(t *testing.T, listen func(*testing.T) testListener) {
		b := newFakeBackend()
		_, l := testServerOn(t, listen(t), Config{}, b)
		c := dial(t, l)
		c.register("me")
		s := b.waitAttach(t)
		s.d.Send(&irc.Message{Prefix: &irc.Prefix{Name: "xircd"}, Command: "NOTICE", Params: []string{"me", "bye now"}})
		s.d.Close("Closed by the gateway")
		c.expect("NOTICE", "me", "bye now")
		if reason := c.expectClosed(); reason != "Closed by the gateway" {
			t.Errorf("ERROR reason %q", reason)
		}
		if r := b.waitDetach(t); r != "Closed by the gateway" {
			t.Errorf("Detach(%q)", r)
		}
		// Sending to a closed client is harmless.
		s.d.Send(&irc.Message{Command: "NOTICE", Params: []string{"me", "late"}})
	})
}

func TestLongReplyWithSmallQueue(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{SendQueueBytes: 256}, b)
	c := dial(t, l)
	c.register("me")
	c.send("WHO #big")
	if got := c.until(irc.RPL_ENDOFWHO); len(got) != 101 {
		t.Errorf("got %d lines, want 100 WHO replies and 315", len(got))
	}
	c.roundtrip()
}

func TestShutdownReachesEveryClient(t *testing.T) {
	overPipesAndTCP(t, func(t *testing.T, listen func(*testing.T) testListener) {
		b := newFakeBackend()
		s, l := testServerOn(t, listen(t), Config{}, b)
		c1 := dial(t, l)
		c1.register("one")
		c2 := dial(t, l)
		c2.send("NICK two") // not registered yet
		c2.roundtrip()
		b.waitAttach(t)
		go s.Shutdown("server restart")
		for _, c := range []*client{c1, c2} {
			if reason := c.expectClosed(); reason != "server restart" {
				t.Errorf("ERROR reason %q", reason)
			}
		}
		if r := b.waitDetach(t); r != "server restart" {
			t.Errorf("Detach(%q)", r)
		}
	})
}

// copyCountingHandler counts the copies made of it with attributes.
type copyCountingHandler struct {
	slog.Handler
	copies *atomic.Int32
}

func (h copyCountingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.copies.Add(1)
	return copyCountingHandler{h.Handler.WithAttrs(attrs), h.copies}
}

// A connection's log lines start with its attributes, and no connection
// keeps a copy of the server's log handler (which With would make, for
// every idle connection).
func TestConnectionLogAttributes(t *testing.T) {
	var out lockedBuffer
	var copies atomic.Int32
	h := copyCountingHandler{slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}), &copies}
	_, l := testServer(t, Config{Logger: slog.New(h)}, newFakeBackend())
	c := dial(t, l)
	c.register("me")
	c.roundtrip()
	if !regexp.MustCompile(`msg="client registered" conn=\d+ remote=pipe nick=me\n`).MatchString(out.String()) {
		t.Errorf("no registration line with the connection's attributes first in:\n%s", out.String())
	}
	if n := copies.Load(); n != 0 {
		t.Errorf("the server's log handler was copied %d times for one connection", n)
	}
}
