package xmpp_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

func TestLoginStartTLS(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Check(ctx); err != nil {
		t.Fatalf("Check: %v", err)
	}
	c, r := start(t, s)
	if c.JID != "alice@localhost/gw" {
		t.Errorf("bound JID %q, want alice@localhost/gw", c.JID)
	}
	if len(r.Items) != 0 {
		t.Errorf("roster %v, want empty", r.Items)
	}
	if s.JID() != "alice@localhost" {
		t.Errorf("JID() = %q", s.JID())
	}
}

func TestLoginPlainOnLoopback(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{AllowPlain: true})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", func(c *xmpp.Config) { c.TLS = "plain"; c.CAFile = "" })
	start(t, s)
}

func TestWrongPassword(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", func(c *xmpp.Config) { c.Password = "wrong" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Check(ctx)
	if !errors.Is(err, xmpp.ErrAuth) {
		t.Fatalf("Check with a wrong password = %v, want ErrAuth", err)
	}
	if errors.Is(err, xmpp.ErrTLS) || !strings.Contains(err.Error(), "password") {
		t.Errorf("error does not name the cause clearly: %v", err)
	}
	// The supervisor reports the same error and keeps retrying.
	s.Start()
	d := waitFor[xmpp.Disconnected](t, s, nil)
	if !errors.Is(d.Err, xmpp.ErrAuth) || d.RetryIn <= 0 {
		t.Errorf("Disconnected = %+v, want ErrAuth with a retry delay", d)
	}
}

func TestTLSFailureWithoutCA(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", func(c *xmpp.Config) { c.CAFile = "" })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := s.Check(ctx)
	if !errors.Is(err, xmpp.ErrTLS) {
		t.Fatalf("Check without the CA = %v, want ErrTLS", err)
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("TLS error does not name the certificate problem: %v", err)
	}
	// The same server is fine with verification explicitly disabled.
	s2 := newSession(t, srv, "alice", func(c *xmpp.Config) { c.CAFile = ""; c.InsecureSkipVerify = true })
	if err := s2.Check(ctx); err != nil {
		t.Fatalf("Check with insecure_skip_verify: %v", err)
	}
}

func TestRosterSubscriptionStates(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	err := srv.SetRoster("alice", []prosodytest.RosterEntry{
		{JID: "both@localhost", Name: "Both <B> & co", Groups: []string{"Friends", "Work"}, Subscription: "both"},
		{JID: "to@localhost", Subscription: "to"},
		{JID: "from@localhost", Subscription: "from"},
		{JID: "none@localhost", Subscription: "none"},
		{JID: "asked@localhost", Subscription: "none", Ask: "subscribe"},
	})
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(t, srv, "alice", nil)
	_, r := start(t, s)
	got := map[string]xmpp.RosterItem{}
	for _, it := range r.Items {
		got[it.JID] = it
	}
	want := map[string]xmpp.RosterItem{
		"both@localhost":  {JID: "both@localhost", Name: "Both <B> & co", Groups: []string{"Friends", "Work"}, Subscription: "both"},
		"to@localhost":    {JID: "to@localhost", Subscription: "to"},
		"from@localhost":  {JID: "from@localhost", Subscription: "from"},
		"none@localhost":  {JID: "none@localhost", Subscription: "none"},
		"asked@localhost": {JID: "asked@localhost", Subscription: "none", Ask: "subscribe"},
	}
	if len(got) != len(want) {
		t.Fatalf("roster has %d items, want %d: %+v", len(got), len(want), r.Items)
	}
	for jid, w := range want {
		g := got[jid]
		slices.Sort(g.Groups)
		if g.JID != w.JID || g.Name != w.Name || g.Subscription != w.Subscription || g.Ask != w.Ask || !slices.Equal(g.Groups, w.Groups) {
			t.Errorf("roster item %s = %+v, want %+v", jid, g, w)
		}
	}
}

func TestRosterPushFromSecondResource(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "mallory")
	s := newSession(t, srv, "alice", nil)
	c, _ := start(t, s)

	phone := newPeer(t, srv, "alice", "phone")
	phone.send(t, "<iq type='set' id='r1'><query xmlns='jabber:iq:roster'><item jid='carol@localhost' name='Carol'><group>Fam</group></item></query></iq>")
	push := waitFor[xmpp.RosterPush](t, s, nil)
	want := xmpp.RosterItem{JID: "carol@localhost", Name: "Carol", Groups: []string{"Fam"}, Subscription: "none"}
	if push.Item.JID != want.JID || push.Item.Name != want.Name || push.Item.Subscription != "none" || !slices.Equal(push.Item.Groups, want.Groups) {
		t.Errorf("push = %+v, want %+v", push.Item, want)
	}

	// Our own RosterSet comes back as a push too; removal as "remove".
	if _, err := s.RosterSet(xmpp.RosterItem{JID: "dave@localhost", Name: "D'<ave>"}); err != nil {
		t.Fatal(err)
	}
	push = waitFor[xmpp.RosterPush](t, s, nil)
	if push.Item.JID != "dave@localhost" || push.Item.Name != "D'<ave>" {
		t.Errorf("push after RosterSet = %+v", push.Item)
	}
	if _, err := s.RosterRemove("carol@localhost"); err != nil {
		t.Fatal(err)
	}
	push = waitFor[xmpp.RosterPush](t, s, nil)
	if push.Item.JID != "carol@localhost" || push.Item.Subscription != "remove" {
		t.Errorf("push after RosterRemove = %+v", push.Item)
	}

	// A "roster push" from another account is refused and not reported.
	m := newPeer(t, srv, "mallory", "x")
	m.send(t, "<iq type='set' id='evil' to='%s'><query xmlns='jabber:iq:roster'><item jid='evil@localhost'/></query></iq>", c.JID)
	iq := recvPeer(t, m, func(iq goxmpp.IQ) bool { return iq.ID == "evil" })
	if iq.Type != "error" {
		t.Errorf("forged roster push answered with %q, want error", iq.Type)
	}
	noEvent(t, s, 300*time.Millisecond, func(p xmpp.RosterPush) bool { return p.Item.JID == "evil@localhost" })
}

func TestTwoResourcesPriorities(t *testing.T) {
	srv, s := aliceWithBob(t)

	desk := newPeer(t, srv, "bob", "desk")
	desk.send(t, "<presence><show>dnd</show><status>busy &amp; away</status><priority>5</priority><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://example.org/deskclient' ver='x'/></presence>")
	phone := newPeer(t, srv, "bob", "phone")
	phone.send(t, "<presence><show>away</show><priority>-1</priority></presence>")

	p := waitFor(t, s, func(p xmpp.Presence) bool { return p.From == "bob@localhost/desk" && p.Show == "dnd" })
	if p.Priority != 5 || p.Status != "busy & away" || p.Client != "https://example.org/deskclient" || p.Type != "" {
		t.Errorf("desk presence = %+v", p)
	}
	p = waitFor(t, s, func(p xmpp.Presence) bool { return p.From == "bob@localhost/phone" && p.Show == "away" })
	if p.Priority != -1 {
		t.Errorf("phone presence = %+v, want priority -1", p)
	}
	phone.send(t, "<presence type='unavailable'/>")
	waitFor(t, s, func(p xmpp.Presence) bool { return p.From == "bob@localhost/phone" && p.Type == "unavailable" })

	// Our own presence reaches bob with our priority.
	if err := s.SetPresence("xa", "gone <fishing>"); err != nil {
		t.Fatal(err)
	}
	got := recvPeer(t, desk, func(p goxmpp.Presence) bool { return p.From == "alice@localhost/gw" && p.Show == "xa" })
	if got.Status != "gone <fishing>" {
		t.Errorf("bob sees our status %q", got.Status)
	}
}

func TestChatBothWaysWithIDs(t *testing.T) {
	srv, s := aliceWithBob(t)
	bob := newPeer(t, srv, "bob", "desk")

	id, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: "hello bob", ChatState: "active"})
	if err != nil || id == "" {
		t.Fatalf("SendMessage = %q, %v", id, err)
	}
	chat := recvPeer(t, bob, func(c goxmpp.Chat) bool { return c.Text != "" })
	if chat.Text != "hello bob" || chat.Type != "chat" || chat.OriginID != id || !strings.HasPrefix(chat.Remote, "alice@localhost/gw") {
		t.Errorf("bob received %+v (id %q)", chat, id)
	}

	// An id chosen before sending (to show the message on IRC first) is
	// the one used.
	if id, err := s.SendMessage(xmpp.OutMessage{ID: "chosen-1", To: "bob@localhost", Body: "chosen"}); err != nil || id != "chosen-1" {
		t.Fatalf("SendMessage with ID = %q, %v", id, err)
	}
	if chat := recvPeer(t, bob, func(c goxmpp.Chat) bool { return c.Text == "chosen" }); chat.OriginID != "chosen-1" {
		t.Errorf("bob received %+v, want origin-id chosen-1", chat)
	}

	bob.send(t, "<message to='alice@localhost' type='chat' id='m-1'><body>hi alice</body><composing xmlns='http://jabber.org/protocol/chatstates'/><origin-id xmlns='urn:xmpp:sid:0' id='o-1'/></message>")
	m := waitFor(t, s, func(m xmpp.Message) bool { return m.Body != "" })
	if m.ID != "m-1" || m.OriginID != "o-1" || m.Body != "hi alice" || m.From != "bob@localhost/desk" || m.Type != "chat" || m.ChatState != "composing" || m.Carbon != xmpp.NotCarbon || !m.Delay.IsZero() {
		t.Errorf("alice received %+v", m)
	}
	if m.StanzaID == "" {
		t.Errorf("no stanza-id from our server (mod_mam) in %+v", m)
	}

	// An error bounce keeps the id of the message that failed.
	id, err = s.SendMessage(xmpp.OutMessage{To: "nobody@nowhere.invalid", Body: "lost"})
	if err != nil {
		t.Fatal(err)
	}
	e := waitFor(t, s, func(m xmpp.Message) bool { return m.Type == "error" })
	if e.ID != id || e.Error == nil || e.Error.Condition == "" {
		t.Errorf("error message = %+v, want id %s with a condition", e, id)
	}
}

func TestOfflineMessageHasDelay(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	mutual(t, srv, "alice", "bob")
	bob := newPeer(t, srv, "bob", "desk")
	before := time.Now().Add(-2 * time.Second)
	bob.send(t, "<message to='alice@localhost' type='chat' id='off-1'><body>while you were out</body></message>")
	// Make sure the server has stored it before alice logs in.
	bob.send(t, "<iq type='get' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>")
	recvPeer(t, bob, func(iq goxmpp.IQ) bool { return iq.ID == "sync" })

	s := newSession(t, srv, "alice", nil)
	s.Start()
	m := waitFor(t, s, func(m xmpp.Message) bool { return m.Body == "while you were out" })
	if m.Delay.IsZero() || m.Delay.Before(before) || m.Delay.After(time.Now().Add(2*time.Second)) || m.Delay.Location() != time.UTC {
		t.Errorf("offline message delay = %v, want about now in UTC", m.Delay)
	}
	if m.ID != "off-1" {
		t.Errorf("offline message id %q", m.ID)
	}
}

func TestCarbonOfMessageSentElsewhere(t *testing.T) {
	srv, s := aliceWithBob(t)
	// A round trip to the server after connect: carbons are enabled by now.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if res, err := s.SendIQ(ctx, "", "get", "<ping xmlns='urn:xmpp:ping'/>"); err != nil || res.Type != "result" {
		t.Fatalf("SendIQ ping = %+v, %v", res, err)
	}

	phone := newPeer(t, srv, "alice", "phone")
	phone.send(t, "<message to='bob@localhost' type='chat' id='c-1'><body>sent from my phone</body></message>")
	m := waitFor(t, s, func(m xmpp.Message) bool { return m.Body == "sent from my phone" })
	if m.Carbon != xmpp.CarbonSent || m.From != "alice@localhost/phone" || m.To != "bob@localhost" || m.ID != "c-1" {
		t.Errorf("carbon = %+v", m)
	}

	bob := newPeer(t, srv, "bob", "desk")
	bob.send(t, "<message to='alice@localhost/phone' type='chat' id='c-2'><body>to your phone</body></message>")
	m = waitFor(t, s, func(m xmpp.Message) bool { return m.Body == "to your phone" })
	if m.Carbon != xmpp.CarbonReceived || m.From != "bob@localhost/desk" {
		t.Errorf("received carbon = %+v", m)
	}

	// A forged carbon from a contact must not be taken as ours.
	bob.send(t, "<message to='alice@localhost/gw' type='chat'><sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='alice@localhost/x' to='carol@localhost' type='chat'><body>forged</body></message></forwarded></sent></message>")
	bob.send(t, "<message to='alice@localhost/gw' type='chat'><body>marker</body></message>")
	for {
		m := waitFor[xmpp.Message](t, s, nil)
		if m.Body == "forged" {
			t.Fatalf("forged carbon delivered: %+v", m)
		}
		if m.Body == "marker" {
			break
		}
	}
}

func TestSubscriptionRequestApprove(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	bob := newPeer(t, srv, "bob", "desk")
	bob.send(t, "<presence to='alice@localhost' type='subscribe'><nick xmlns='http://jabber.org/protocol/nick'>Bobby</nick></presence>")
	req := waitFor[xmpp.Subscription](t, s, nil)
	if req.From != "bob@localhost" || req.Type != "subscribe" || req.Nick != "Bobby" {
		t.Errorf("subscription request = %+v", req)
	}
	if err := s.Approve(req.From); err != nil {
		t.Fatal(err)
	}
	// Prosody forwards the approval to interested (roster-fetching) resources
	// only; the peer sees its effect: our presence now reaches bob.
	recvPeer(t, bob, func(p goxmpp.Presence) bool { return p.Type == "" && p.From == "alice@localhost/gw" })
	push := waitFor(t, s, func(p xmpp.RosterPush) bool { return p.Item.JID == "bob@localhost" })
	if push.Item.Subscription != "from" {
		t.Errorf("after approving, roster item = %+v, want subscription from", push.Item)
	}
	if err := s.Subscribe("bob@localhost"); err != nil {
		t.Fatal(err)
	}
	recvPeer(t, bob, func(p goxmpp.Presence) bool { return p.Type == "subscribe" && p.From == "alice@localhost" })
}

func TestAnswersIQs(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	s := newSession(t, srv, "alice", func(c *xmpp.Config) { c.ClientVersion = "1.2.3" })
	c, _ := start(t, s)
	bob := newPeer(t, srv, "bob", "desk")

	bob.send(t, "<iq type='get' id='ping1' to='%s'><ping xmlns='urn:xmpp:ping'/></iq>", c.JID)
	iq := recvPeer(t, bob, func(iq goxmpp.IQ) bool { return iq.ID == "ping1" })
	if iq.Type != "result" || iq.From != c.JID {
		t.Errorf("ping answer = %+v", iq)
	}

	bob.send(t, "<iq type='get' id='v1' to='%s'><query xmlns='jabber:iq:version'/></iq>", c.JID)
	iq = recvPeer(t, bob, func(iq goxmpp.IQ) bool { return iq.ID == "v1" })
	if iq.Type != "result" || !strings.Contains(string(iq.Query), "xircd") || !strings.Contains(string(iq.Query), "1.2.3") {
		t.Errorf("version answer = %+v %s", iq, iq.Query)
	}

	bob.send(t, "<iq type='get' id='d1' to='%s'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>", c.JID)
	disco := recvPeer(t, bob, func(d goxmpp.DiscoResult) bool { return d.ID == "d1" })
	for _, f := range []string{"urn:xmpp:ping", "urn:xmpp:carbons:2", "http://jabber.org/protocol/chatstates", "jabber:iq:version"} {
		if !slices.Contains(disco.Features, f) {
			t.Errorf("disco#info lacks %s: %v", f, disco.Features)
		}
	}

	// Our presence advertises entity caps; disco#info on that node answers.
	bob.send(t, "<iq type='get' id='d2' to='%s'><query xmlns='http://jabber.org/protocol/disco#info' node='https://xircd.invalid/caps#x'/></iq>", c.JID)
	disco = recvPeer(t, bob, func(d goxmpp.DiscoResult) bool { return d.ID == "d2" })
	if !slices.Contains(disco.Features, "http://jabber.org/protocol/chatstates") {
		t.Errorf("disco#info with a node lacks chat states: %v", disco.Features)
	}

	bob.send(t, "<iq type='set' id='u1' to='%s'><query xmlns='urn:example:unknown'/></iq>", c.JID)
	iq = recvPeer(t, bob, func(iq goxmpp.IQ) bool { return iq.ID == "u1" })
	if iq.Type != "error" || iq.Error.Condition != "service-unavailable" {
		t.Errorf("unknown iq answer = %+v", iq)
	}
}

func TestReconnectAfterServerRestart(t *testing.T) {
	srv, s := aliceWithBob(t)
	if err := s.SetPresence("away", "lunch"); err != nil {
		t.Fatal(err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	d := waitFor[xmpp.Disconnected](t, s, nil)
	if d.Err == nil || d.RetryIn <= 0 {
		t.Errorf("Disconnected = %+v, want an error and a retry delay", d)
	}
	if _, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: "x"}); !errors.Is(err, xmpp.ErrNotConnected) {
		t.Errorf("SendMessage while down = %v, want ErrNotConnected", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitFor[xmpp.Connected](t, s, nil)
	r := waitFor[xmpp.Roster](t, s, nil)
	if len(r.Items) != 1 || r.Items[0].JID != "bob@localhost" {
		t.Errorf("roster after reconnect = %+v", r.Items)
	}
	// The presence set before the outage is restored.
	bob := newPeer(t, srv, "bob", "desk")
	p := recvPeer(t, bob, func(p goxmpp.Presence) bool { return strings.HasPrefix(p.From, "alice@localhost/") })
	if p.Show != "away" || p.Status != "lunch" {
		t.Errorf("bob sees alice as %+v after reconnect", p)
	}
	if _, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: "back"}); err != nil {
		t.Fatal(err)
	}
	recvPeer(t, bob, func(c goxmpp.Chat) bool { return c.Text == "back" })
}

func TestBodyRule(t *testing.T) {
	srv, s := aliceWithBob(t)
	bob := newPeer(t, srv, "bob", "desk")

	// Outgoing: markup is escaped, controls and invalid UTF-8 handled.
	outgoing := []struct{ in, want string }{
		{"two\nlines", "two\nlines"},
		{"<b>bold</b> & </body></message><message>", "<b>bold</b> & </body></message><message>"},
		{"emoji 😀👍🏽", "emoji 😀👍🏽"},
		{"bell\x07 nul\x00 esc\x1b", "bell nul esc"},
		{"crlf\r\nand cr\rend", "crlf\nand cr\nend"},
		{"bad \xff\xfe utf8", "bad \uFFFD\uFFFD utf8"},
		{"nonchar \uFFFE", "nonchar \uFFFD"},
	}
	for _, tc := range outgoing {
		if _, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: tc.in}); err != nil {
			t.Fatal(err)
		}
		got := recvPeer(t, bob, func(c goxmpp.Chat) bool { return c.Text != "" })
		if got.Text != tc.want {
			t.Errorf("sent %q, bob received %q, want %q", tc.in, got.Text, tc.want)
		}
	}

	// Incoming: escaped markup and character references come out decoded.
	incoming := []struct{ xml, want string }{
		{"line1\nline2", "line1\nline2"},
		{"&lt;script&gt; &amp;amp; &quot;", "<script> &amp; \""},
		{"&#x1F600; 😀", "😀 😀"},
		{"cr&#xD;&#xA;lf and lone&#xD;cr", "cr\nlf and lone\ncr"},
		{"tab\there", "tab\there"},
	}
	for _, tc := range incoming {
		bob.send(t, "<message to='alice@localhost' type='chat'><body>%s</body></message>", tc.xml)
		m := waitFor(t, s, func(m xmpp.Message) bool { return m.Body != "" })
		if m.Body != tc.want {
			t.Errorf("bob sent %q, alice got %q, want %q", tc.xml, m.Body, tc.want)
		}
	}
}

func TestLoginDirectTLS(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{DirectTLS: true})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", func(c *xmpp.Config) { c.TLS = "direct"; c.Server = srv.DirectTLSAddr })
	c, _ := start(t, s)
	if c.JID != "alice@localhost/gw" {
		t.Errorf("bound JID %q", c.JID)
	}
}

func TestConnectToSilentServerIsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accept, then say nothing
		}
	}()
	s, err := xmpp.New(xmpp.Config{JID: "alice@localhost", Password: "pw", Server: ln.Addr().String(), ConnectTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	done := make(chan error, 1)
	go func() { done <- s.Check(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("Check against a silent server = %v, want a timeout", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Check against a silent server does not return")
	}
}

func TestOwnPresenceSeenByAnotherSession(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	mutual(t, srv, "alice", "bob")
	bob := newSession(t, srv, "bob", nil)
	start(t, bob)
	alice := newSession(t, srv, "alice", func(c *xmpp.Config) { c.Priority = -5 })
	start(t, alice)
	if err := alice.SetPresence("chat", "free to chat"); err != nil {
		t.Fatal(err)
	}
	p := waitFor(t, bob, func(p xmpp.Presence) bool { return p.From == "alice@localhost/gw" && p.Show == "chat" })
	if p.Priority != -5 || p.Status != "free to chat" || p.Client != "https://xircd.invalid/caps" {
		t.Errorf("bob sees %+v", p)
	}
	alice.Close()
	waitFor(t, bob, func(p xmpp.Presence) bool { return p.From == "alice@localhost/gw" && p.Type == "unavailable" })
}

// A burst goes out in batched writes: every message must arrive whole and
// in order, a body bigger than one batch among them.
func TestBurstArrivesWholeAndInOrder(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	mutual(t, srv, "alice", "bob")
	alice := newSession(t, srv, "alice", nil)
	start(t, alice)
	bob := newSession(t, srv, "bob", nil)
	start(t, bob)

	const n = 400
	big := strings.Repeat("0123456789abcdef<&>", 3000) // 57 kB, several batches' worth
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("burst-%03d", i)
		if i == n/2 {
			want[i] = big
		}
		if _, err := alice.SendMessage(xmpp.OutMessage{To: "bob@localhost", Type: "chat", Body: want[i]}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	for i := range n {
		m := waitFor(t, bob, func(m xmpp.Message) bool { return m.Body != "" })
		if m.Body != want[i] {
			got := m.Body
			if len(got) > 40 {
				got = got[:40] + "…"
			}
			t.Fatalf("message %d: got %q (%d bytes), want %d bytes", i, got, len(m.Body), len(want[i]))
		}
	}
}

// Sessions between bursts have no writer goroutine: after a burst both
// ways, the process is back to the goroutines it had before.
func TestIdleSessionsHaveNoWriter(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	mutual(t, srv, "alice", "bob")
	alice := newSession(t, srv, "alice", nil)
	start(t, alice)
	bob := newSession(t, srv, "bob", nil)
	start(t, bob)
	before := waitGoroutines(t, -1)

	const n = 50
	for i := range n {
		if _, err := alice.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: fmt.Sprintf("a-%d", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := bob.SendMessage(xmpp.OutMessage{To: "alice@localhost", Body: fmt.Sprintf("b-%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		waitFor(t, bob, func(m xmpp.Message) bool { return m.Body == fmt.Sprintf("a-%d", i) })
		waitFor(t, alice, func(m xmpp.Message) bool { return m.Body == fmt.Sprintf("b-%d", i) })
	}
	waitGoroutines(t, before)
}

// waitGoroutines waits until no stream has a writer goroutine and, unless
// most is -1, the process has at most most goroutines; it returns how many
// it has then.
func waitGoroutines(t *testing.T, most int) int {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		writers, all := xmpp.WriterGoroutines(), runtime.NumGoroutine()
		if writers == 0 && (most == -1 || all <= most) {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writer goroutines and %d in all, want none and at most %d", writers, all, most)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// What the stream brings is read, decrypted, decoded and handled on a
// goroutine that ends once the data is read: nothing stays to read the
// idle stream, even after a burst whose handling waited for a receiver.
// The receiver here takes no events until the queue is full, so that the
// handling goroutine waits where it hands over the next one.
func TestBurstLeavesNoReader(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	mutual(t, srv, "alice", "bob")
	alice := newSession(t, srv, "alice", nil)
	start(t, alice)
	xmpp.WaitReaderIdle(t)
	bob := newPeer(t, srv, "bob", "phone")
	const messages = 300 // more than the events that may wait
	for i := range messages {
		bob.send(t, "<message to='alice@localhost' type='chat' id='m%d'><body>%d</body></message>", i, i)
	}
	var handlers []string
	for deadline := time.Now().Add(waitTimeout); len(handlers) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nothing waits to hand over an event")
		}
		handlers = xmpp.StacksWith("xmpp.(*conn).handle(")
	}
	last := fmt.Sprint(messages - 1)
	waitFor(t, alice, func(m xmpp.Message) bool { return m.Body == last })
	xmpp.WaitReaderIdle(t)
}

// An idle stream keeps no goroutine: it waits for its socket in the
// poller. With StartTLS and direct TLS, TLS 1.2 and 1.3, after the login
// and after a message.
func TestIdleStreamKeepsNoGoroutine(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts prosodytest.Options
		tls  string
	}{
		{"StartTLS, TLS 1.3", prosodytest.Options{}, xmpp.TLSStartTLS},
		{"StartTLS, TLS 1.2", prosodytest.Options{TLS12: true}, xmpp.TLSStartTLS},
		{"direct TLS", prosodytest.Options{DirectTLS: true}, xmpp.TLSDirect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := prosodytest.StartT(t, tc.opts)
			register(t, srv, "alice", "bob")
			mutual(t, srv, "alice", "bob")
			alice := newSession(t, srv, "alice", func(c *xmpp.Config) {
				c.TLS = tc.tls
				if tc.tls == xmpp.TLSDirect {
					c.Server = srv.DirectTLSAddr
				}
			})
			start(t, alice)
			xmpp.WaitReaderIdle(t)
			bob := newPeer(t, srv, "bob", "phone")
			bob.send(t, "<message to='alice@localhost' type='chat' id='m1'><body>hello</body></message>")
			waitFor(t, alice, func(m xmpp.Message) bool { return m.Body == "hello" })
			xmpp.WaitReaderIdle(t)
		})
	}
}
