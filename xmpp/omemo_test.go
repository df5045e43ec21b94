package xmpp_test

import (
	"crypto/rand"
	"regexp"
	"slices"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// The OMEMO device list and bundle are published where clients look for
// them: another client of the account reads the list, a contact reads the
// bundle, and both parse.
func TestOMEMOPublish(t *testing.T) {
	srv, s := aliceWithBob(t)
	id, err := s.OMEMODevices(t.Context(), "")
	if list := answer[xmpp.OMEMODeviceList](t, s, id, err); list.Err != nil || len(list.Devices) != 0 || list.JID != "alice@localhost" {
		t.Fatalf("device list of a new account = %+v", list)
	}
	dev, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err = s.PublishOMEMODevices(t.Context(), []uint32{7, dev.DeviceID})
	done(t, s, id, err)
	id, err = s.PublishOMEMOBundle(t.Context(), dev.Bundle())
	done(t, s, id, err)

	other := newSession(t, srv, "alice", func(c *xmpp.Config) { c.Resource = "phone" })
	start(t, other)
	id, err = other.OMEMODevices(t.Context(), "alice@localhost")
	list := answer[xmpp.OMEMODeviceList](t, other, id, err)
	if list.Err != nil || !slices.Equal(list.Devices, []uint32{7, dev.DeviceID}) {
		t.Fatalf("device list = %+v, want 7 and %d", list, dev.DeviceID)
	}

	// Someone not in the roster reads the bundle: the node is open.
	register(t, srv, "carol")
	carol := newPeer(t, srv, "carol", "desk")
	carol.send(t, "<iq type='get' to='alice@localhost' id='bundle'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='%s'/></pubsub></iq>", omemo.BundleNode(dev.DeviceID))
	iq := recvPeer(t, carol, func(iq goxmpp.IQ) bool { return iq.ID == "bundle" })
	if iq.Type != "result" {
		t.Fatalf("carol reading the bundle: %+v %s", iq, iq.Query)
	}
	m := regexp.MustCompile(`(?s)<bundle.*</bundle>`).Find(iq.Query)
	b, err := omemo.UnmarshalBundle(dev.DeviceID, m)
	if err != nil {
		t.Fatalf("bundle %s: %v", iq.Query, err)
	}
	if b.IdentityKey != dev.Identity.Public || len(b.PreKeys) != omemo.PreKeyCount {
		t.Errorf("bundle read back = %+v", b)
	}
	if _, err := omemo.InitiateSession(rand.Reader, dev, b); err != nil {
		t.Errorf("a session cannot start from the published bundle: %v", err)
	}
}

// An OMEMO message carries its <encrypted/> element, which parses, from a
// contact and as a carbon of the account's other client.
func TestOMEMOMessage(t *testing.T) {
	srv, s := aliceWithBob(t)
	element, err := omemo.MarshalEncrypted(omemo.Encrypted{SenderDeviceID: 9, IV: make([]byte, 12), Payload: []byte("ciphertext"),
		Keys: []omemo.RecipientKey{{DeviceID: 77, PreKey: true, Data: []byte("key")}}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(m xmpp.Message) {
		t.Helper()
		e, err := omemo.UnmarshalEncrypted(m.OMEMO)
		if err != nil || m.Encryption != "OMEMO" || e.SenderDeviceID != 9 || string(e.Payload) != "ciphertext" {
			t.Fatalf("message %+v: element %+v, %v", m, e, err)
		}
		if k, ok := e.KeyFor(77); !ok || !k.PreKey || string(k.Data) != "key" {
			t.Errorf("key for 77 = %+v, %v", k, ok)
		}
	}
	bob := newPeer(t, srv, "bob", "desk")
	bob.send(t, "<message to='alice@localhost' type='chat' id='e1'>%s<body>fallback</body></message>", element)
	check(waitFor(t, s, func(m xmpp.Message) bool { return m.ID == "e1" }))

	phone := newPeer(t, srv, "alice", "phone")
	phone.send(t, "<message to='bob@localhost' type='chat' id='e2'>%s<body>fallback</body></message>", element)
	m := waitFor(t, s, func(m xmpp.Message) bool { return m.ID == "e2" })
	if m.Carbon != xmpp.CarbonSent {
		t.Errorf("carbon = %v, want sent", m.Carbon)
	}
	check(m)
}
