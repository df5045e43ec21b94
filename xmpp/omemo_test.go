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
