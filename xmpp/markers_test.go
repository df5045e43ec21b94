package xmpp_test

import (
	"strings"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/xmpp"
)

// A message asking for chat markers is seen as markable, and the
// displayed marker reaches the contact with the message's id.
func TestChatMarkers(t *testing.T) {
	srv, s := aliceWithBob(t)
	bob := newPeer(t, srv, "bob", "desk")
	bob.send(t, "<message to='alice@localhost' type='chat' id='b1'><body>read me</body><markable xmlns='urn:xmpp:chat-markers:0'/></message>")
	m := waitFor(t, s, func(m xmpp.Message) bool { return m.Body == "read me" })
	if !m.Markable || m.ID != "b1" {
		t.Fatalf("message = %+v, want markable b1", m)
	}
	bob.send(t, "<message to='alice@localhost' type='chat' id='b2'><body>plain</body></message>")
	if m := waitFor(t, s, func(m xmpp.Message) bool { return m.Body == "plain" }); m.Markable {
		t.Errorf("a message without <markable/> is markable")
	}
	if err := s.SendDisplayed(bob.jid, "b1"); err != nil {
		t.Fatal(err)
	}
	recvPeer(t, bob, func(c goxmpp.Chat) bool {
		for _, e := range c.OtherElem {
			if e.XMLName.Space == "urn:xmpp:chat-markers:0" && e.XMLName.Local == "displayed" {
				for _, a := range e.Attr {
					if a.Name.Local == "id" && a.Value == "b1" {
						return true
					}
				}
			}
		}
		return false
	})
}

// A displayed marker published by one session of the account is kept in
// the account's private PEP node and notified to its other sessions, which
// announce +notify in their entity capabilities.
func TestDisplayedSynchronization(t *testing.T) {
	srv, s := aliceWithBob(t)
	other := newSession(t, srv, "alice", func(c *xmpp.Config) { c.Resource = "phone" })
	start(t, other)

	id, err := s.DisplayedMarkers(t.Context())
	if list := answer[xmpp.DisplayedList](t, s, id, err); list.Err != nil || len(list.Markers) != 0 {
		t.Fatalf("markers of a new account = %+v", list)
	}

	id, err = other.PublishDisplayed(t.Context(), "bob@localhost", "stanza-1", "alice@localhost")
	done(t, other, id, err)
	d := waitFor(t, s, func(d xmpp.Displayed) bool { return d.StanzaID == "stanza-1" })
	if d.Chat != "bob@localhost" || d.By != "alice@localhost" || d.ID != "" {
		t.Errorf("notification = %+v", d)
	}

	id, err = s.DisplayedMarkers(t.Context())
	list := answer[xmpp.DisplayedList](t, s, id, err)
	if list.Err != nil || len(list.Markers) != 1 || list.Markers[0].Chat != "bob@localhost" || list.Markers[0].StanzaID != "stanza-1" {
		t.Fatalf("markers = %+v", list)
	}

	// The node is private: bob may not read it.
	bob := newPeer(t, srv, "bob", "desk")
	bob.send(t, "<iq type='get' to='alice@localhost' id='peek'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:mds:displayed:0'/></pubsub></iq>")
	iq := recvPeer(t, bob, func(iq goxmpp.IQ) bool { return iq.ID == "peek" })
	if iq.Type != "error" || strings.Contains(string(iq.Query), "stanza-1") {
		t.Errorf("bob read alice's read markers: %+v %s", iq, iq.Query)
	}

	// A notification from anyone but the account is not believed.
	bob.send(t, "<message to='alice@localhost/gw' type='headline'><event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:mds:displayed:0'><item id='bob@localhost'><displayed xmlns='urn:xmpp:mds:displayed:0'><stanza-id xmlns='urn:xmpp:sid:0' id='forged' by='alice@localhost'/></displayed></item></items></event></message>")
	bob.send(t, "<message to='alice@localhost/gw' type='chat'><body>after the forgery</body></message>")
	waitFor(t, s, func(ev xmpp.Event) bool {
		if d, ok := ev.(xmpp.Displayed); ok && d.StanzaID == "forged" {
			t.Errorf("forged notification believed: %+v", d)
		}
		m, ok := ev.(xmpp.Message)
		return ok && m.Body == "after the forgery"
	})
}
