package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"
)

var readCaps = []string{"draft/read-marker", "message-tags", "server-time"}

// displayedOf reads the account's XEP-0490 node with a raw IQ of another
// session of the account, and returns the stanza-id marked for chat.
func displayedOf(t *testing.T, me *peer, chat string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := me.SendIQ(ctx, "", "get", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:mds:displayed:0'/></pubsub>")
	if err != nil {
		t.Fatal(err)
	}
	if res.Type != "result" {
		return ""
	}
	body := string(res.Payload)
	i := strings.Index(body, "id='"+chat+"'")
	if i < 0 {
		i = strings.Index(body, `id="`+chat+`"`)
	}
	if i < 0 {
		return ""
	}
	rest := body[i:]
	j := strings.Index(rest, "stanza-id")
	if j < 0 {
		return ""
	}
	rest = rest[j:]
	for _, q := range []string{" id='", ` id="`} {
		if k := strings.Index(rest, q); k >= 0 {
			v := rest[k+len(q):]
			return v[:strings.IndexAny(v, `'"`)]
		}
	}
	return ""
}

// MARKREAD from an IRC client lands in the account's read markers
// (XEP-0490), where the user's other XMPP clients read it; a client asking
// for the marker later gets it.
func TestMarkReadPublishedToPEP(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	c := e.client("me", readCaps...)
	waitContact(t, c, "alice")

	alice.send(e.userJID, "read me")
	m := c.expect(messageWith("read me"))
	msgid, ts := m.Tags["msgid"], m.Tags["time"]
	c.send("MARKREAD alice timestamp=%s", ts)
	c.expectLine("MARKREAD alice timestamp=" + ts)

	me := e.peer("me", "check")
	waitFor(t, func() bool { return displayedOf(t, me, alice.jid) == msgid })

	c.send("MARKREAD alice")
	c.expectLine("MARKREAD alice timestamp=" + ts)
}

// A chat marked displayed by another client of the account (a raw PEP
// publication, as Conversations or Gajim make) reaches IRC as MARKREAD
// with the time the message was shown with.
func TestDisplayedElsewhereArrivesAsMarkRead(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	c := e.client("me", readCaps...)
	plain := e.client("me")
	waitContact(t, c, "alice")

	alice.send(e.userJID, "read me on the phone")
	m := c.expect(messageWith("read me on the phone"))
	plain.expect(messageWith("read me on the phone"))

	me := e.peer("me", "phone")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := me.SendIQ(ctx, "", "set", fmt.Sprintf(
		"<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:mds:displayed:0'>"+
			"<item id='%s'><displayed xmlns='urn:xmpp:mds:displayed:0'><stanza-id xmlns='urn:xmpp:sid:0' id='%s' by='%s'/></displayed></item>"+
			"</publish><publish-options><x xmlns='jabber:x:data' type='submit'>"+
			"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"+
			"<field var='pubsub#persist_items'><value>true</value></field>"+
			"<field var='pubsub#max_items'><value>max</value></field>"+
			"<field var='pubsub#send_last_published_item'><value>never</value></field>"+
			"<field var='pubsub#access_model'><value>whitelist</value></field>"+
			"</x></publish-options></pubsub>", alice.jid, m.Tags["msgid"], e.userJID))
	if err != nil || res.Type != "result" {
		t.Fatalf("publishing: %v %+v %s", err, res, res.Payload)
	}
	c.expectLine("MARKREAD alice timestamp=" + m.Tags["time"])
	plain.roundtrip()
	if n := plain.count(func(m *irc.Message) bool { return m.Command == "MARKREAD" }); n != 0 {
		t.Errorf("a client without draft/read-marker got %d MARKREAD", n)
	}
}

// Messages another client of the account took while xircd was not running
// appear on IRC once xircd starts, once each, with the archive's time and
// id.
func TestStartupCatchUpTakesWhatAnotherResourceGot(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "laptop")
	e.start()
	c := e.client("me", readCaps...)
	waitContact(t, c, "alice")
	alice.send(e.userJID, "before the stop")
	c.expect(messageWith("before the stop"))

	e.stop()
	phone := e.peer("me", "phone")
	before := time.Now().Add(-time.Second)
	alice.send(e.userJID, "while stopped 1")
	alice.send(e.userJID, "while stopped 2")
	first := phone.expectMessage("while stopped 1")
	phone.expectMessage("while stopped 2")
	after := time.Now().Add(time.Second)

	e.start()
	c = e.client("me", readCaps...)
	m := c.expect(messageWith("while stopped 1"))
	c.expect(messageWith("while stopped 2"))
	c.expectLine("NOTICE &xmpp", "Fetched 2 message(s)", "while xircd was not running")
	if m.Tags["msgid"] == "" || m.Tags["msgid"] != first.StanzaID {
		t.Errorf("msgid %q, the archive's id %q", m.Tags["msgid"], first.StanzaID)
	}
	if at, err := time.Parse(time.RFC3339, m.Tags["time"]); err != nil || at.Before(before.Truncate(time.Second)) || at.After(after) {
		t.Errorf("time %q, want the time it arrived (%v to %v)", m.Tags["time"], before, after)
	}
	c.roundtrip()
	for _, body := range []string{"before the stop", "while stopped 1", "while stopped 2"} {
		want := 1
		if body == "before the stop" {
			want = 0 // shown before the stop
		}
		if n := c.count(messageWith(body)); n != want {
			t.Errorf("%q shown %d times, want %d", body, n, want)
		}
	}
}

// attachedClients asks the service how many IRC clients are attached.
func attachedClients(c *ircClient) string {
	c.send("PRIVMSG &xmpp :status")
	return c.expect(func(m *irc.Message) bool { return strings.Contains(m.Trailing(), "IRC clients attached:") }).Trailing()
}

// Two clients that name themselves each get what they missed since they
// left, once; a client without a name does not.
func TestNamedClientsCatchUpSeparately(t *testing.T) {
	e := newEnv(t, contact{user: "alice"})
	alice := e.peer("alice", "phone")
	e.start()
	named := func(name string) *ircClient {
		c := dialIRC(t, e.ircAddr)
		c.registerUser("me", "me@"+name, readCaps...)
		return c
	}
	observer := e.client("me", readCaps...)
	waitContact(t, observer, "alice")
	laptop, phone := named("laptop"), named("phone")

	alice.send(e.userJID, "one")
	laptop.expect(messageWith("one"))
	phone.expect(messageWith("one"))
	laptop.send("QUIT :lid closed")
	waitFor(t, func() bool { return strings.HasSuffix(attachedClients(observer), ": 2.") })

	alice.send(e.userJID, "two")
	phone.expect(messageWith("two"))
	phone.send("QUIT :pocket")
	waitFor(t, func() bool { return strings.HasSuffix(attachedClients(observer), ": 1.") })

	alice.send(e.userJID, "three")
	observer.expect(messageWith("three"))

	laptop = named("laptop")
	laptop.expect(messageWith("two"))
	laptop.expect(messageWith("three"))
	laptop.expectLine("NOTICE me", "Fetched 2 message(s)", "(laptop)")
	phone = named("phone")
	phone.expect(messageWith("three"))
	phone.expectLine("NOTICE me", "Fetched 1 message(s)", "(phone)")

	laptop.roundtrip()
	phone.roundtrip()
	observer.roundtrip()
	for _, tc := range []struct {
		c    *ircClient
		name string
		want map[string]int
	}{
		{laptop, "laptop", map[string]int{"one": 0, "two": 1, "three": 1}},
		{phone, "phone", map[string]int{"one": 0, "two": 0, "three": 1}},
		{observer, "observer", map[string]int{"one": 1, "two": 1, "three": 1}},
	} {
		for body, want := range tc.want {
			if n := tc.c.count(func(m *irc.Message) bool { return m.Command == "PRIVMSG" && m.Trailing() == body }); n != want {
				t.Errorf("%s got %q %d times, want %d", tc.name, body, n, want)
			}
		}
	}
}
