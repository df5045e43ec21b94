package e2e

import (
	"strings"
	"testing"

	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

// add, accept, deny and remove, as typed in the control channel, change the
// roster and subscriptions on the server as the other side sees them.
func TestAddAcceptDenyRemove(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	dave := e.srvAccount(t, "dave")
	erin := e.srvAccount(t, "erin")
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")
	davePeer := e.peer("dave", "pc")
	erinPeer := e.peer("erin", "pc")

	// add: dave gets a subscription request and approves it; dave becomes a
	// contact with the chosen nick.
	c.send("PRIVMSG &xmpp :add %s davey", dave)
	davePeer.expect(func(ev xmpp.Event) bool {
		s, ok := ev.(xmpp.Subscription)
		return ok && s.Type == "subscribe" && s.From == e.userJID
	})
	if err := davePeer.Approve(e.userJID); err != nil {
		t.Fatal(err)
	}
	c.expectLine("davey", "accepted your presence subscription")
	c.expect(func(m *irc.Message) bool { return m.Command == "JOIN" && m.Prefix.Name == "davey" })

	// accept: erin asks to see our presence; the request is announced with the
	// commands to answer it; accepting lets erin see us.
	if err := erinPeer.Subscribe(e.userJID); err != nil {
		t.Fatal(err)
	}
	c.expectLine("NOTICE &xmpp", erin, "asks to see your presence", "accept "+erin, "deny "+erin)
	c.send("PRIVMSG &xmpp :accept %s", erin)
	erinPeer.expect(func(ev xmpp.Event) bool {
		s, ok := ev.(xmpp.Subscription)
		return ok && s.Type == "subscribed" && s.From == e.userJID
	})

	// deny: erin's access is revoked.
	c.send("PRIVMSG &xmpp :deny %s", erin)
	erinPeer.expect(func(ev xmpp.Event) bool {
		s, ok := ev.(xmpp.Subscription)
		return ok && s.Type == "unsubscribed" && s.From == e.userJID
	})

	// remove: davey (online) leaves the channel and the roster.
	c.send("PRIVMSG &xmpp :remove davey")
	c.expect(func(m *irc.Message) bool {
		return (m.Command == "QUIT" || m.Command == "PART") && m.Prefix.Name == "davey"
	})
	c.expectLine("davey", "was removed from the roster")
	c.send("PRIVMSG &xmpp :info davey")
	c.expectLine(":xircd!xircd@", " PRIVMSG &xmpp :No contact \"davey\".")
	c.send("WHO davey")
	c.expect(func(m *irc.Message) bool { return m.Command == "315" })
	if n := namesOf(c, "&xmpp"); hasName(n, "+davey") || hasName(n, "davey") {
		t.Errorf("removed contact still in NAMES: %v", n)
	}

	// A bad command gets one line of usage.
	c.send("PRIVMSG &xmpp :add")
	c.expect(func(m *irc.Message) bool {
		return m.Prefix.Name == "xircd" && strings.Contains(m.Trailing(), "add JID")
	})
}

// rename gives a contact another nick, and the choice survives a restart.
func TestRenameSurvivesRestart(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	e.peer("alice", "phone")
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")
	c.send("PRIVMSG xircd :rename alice wonderland")
	c.expectLine("NICK wonderland")
	e.stop()
	c.expect(func(m *irc.Message) bool { return m.Command == "ERROR" })

	e.start()
	c2 := e.client("me")
	waitContact(t, c2, "wonderland")
	c2.send("WHOIS wonderland")
	c2.expectLine("alice@localhost")
}

// Someone not in the roster gets a temporary nick and can be answered.
func TestUnknownSender(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	stranger := e.srvAccount(t, "stranger")
	e.start()
	c := e.client("me")
	waitContact(t, c, "alice")
	p := e.peer("stranger", "pc")
	p.send(e.userJID, "hello, we have not met")
	m := c.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "hello, we have not met" })
	nick := m.Prefix.Name
	if nick == "" || nick == "alice" || nick == "xircd" {
		t.Fatalf("stranger got nick %q", nick)
	}
	c.send("WHOIS %s", nick)
	c.expectLine(stranger)
	c.send("PRIVMSG %s :nice to meet you", nick)
	p.expectMessage("nice to meet you")
}

// Two IRC clients attached at once see the same contacts and each other's
// messages to contacts.
func TestTwoClientsAttached(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	one := e.client("me")
	waitContact(t, one, "alice")
	two := e.client("me2", "echo-message")
	// The second client is moved to the session's nick.
	two.expectLine("NICK me")
	waitContact(t, two, "alice")
	if n := namesOf(two, "&xmpp"); !hasName(n, "+alice") {
		t.Errorf("second client NAMES %v lacks +alice", n)
	}

	alice.send(e.userJID, "to both of you")
	one.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "to both of you" })
	two.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "to both of you" })

	one.send("PRIVMSG alice :sent from client one")
	alice.expectMessage("sent from client one")
	m := two.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "sent from client one" })
	if m.Prefix.Name != "me" || m.Param(0) != "alice" {
		t.Errorf("client two saw %q", m.String())
	}
	// echo-message: the sender with the cap sees its own message too.
	two.send("PRIVMSG alice :sent from client two")
	alice.expectMessage("sent from client two")
	two.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "sent from client two" })
	one.expect(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == "sent from client two" })

	// Each client saw each message once: client one, without echo-message,
	// not its own.
	for _, tc := range []struct {
		name   string
		c      *ircClient
		text   string
		wanted int
	}{
		{"one", one, "to both of you", 1},
		{"two", two, "to both of you", 1},
		{"one", one, "sent from client one", 0},
		{"two", two, "sent from client one", 1},
		{"one", one, "sent from client two", 1},
		{"two", two, "sent from client two", 1},
	} {
		if n := tc.c.count(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == tc.text }); n != tc.wanted {
			t.Errorf("client %s saw %q %d times, want %d", tc.name, tc.text, n, tc.wanted)
		}
	}
}
