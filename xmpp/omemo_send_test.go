package xmpp_test

import (
	"crypto/rand"
	"encoding/xml"
	"errors"
	"slices"
	"strings"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// publishPEP publishes payload as the item "current" of p's node, open to
// anyone, as OMEMO clients publish.
func publishPEP(t *testing.T, p *peer, node string, payload []byte) {
	t.Helper()
	p.send(t, "<iq type='set' id='pub-%s'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='%s'><item id='current'>%s</item></publish>"+
		"<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"+
		"<field var='pubsub#access_model'><value>open</value></field></x></publish-options></pubsub></iq>", node, node, payload)
	iq := recvPeer(t, p, func(iq goxmpp.IQ) bool { return iq.ID == "pub-"+node })
	if iq.Type != "result" {
		t.Fatalf("publishing %s: %+v", node, iq)
	}
}

// A contact's bundle is fetched for one device and parses; a device
// without one is a clear error.
func TestOMEMOBundleFetch(t *testing.T) {
	srv, s := aliceWithBob(t)
	bob := newPeer(t, srv, "bob", "desk")
	dev, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := omemo.MarshalBundle(dev.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	publishPEP(t, bob, omemo.BundleNode(dev.DeviceID), bundle)

	id, err := s.OMEMOBundle(t.Context(), "bob@localhost", dev.DeviceID)
	got := answer[xmpp.OMEMOBundle](t, s, id, err)
	if got.Err != nil || got.JID != "bob@localhost" || got.DeviceID != dev.DeviceID || got.Bundle.IdentityKey != dev.Identity.Public {
		t.Fatalf("bundle answer = %+v", got)
	}
	if _, err := omemo.InitiateSession(rand.Reader, dev, got.Bundle); err != nil {
		t.Fatalf("no session from the fetched bundle: %v", err)
	}

	id, err = s.OMEMOBundle(t.Context(), "bob@localhost", dev.DeviceID+1)
	got = answer[xmpp.OMEMOBundle](t, s, id, err)
	if !errors.Is(got.Err, xmpp.ErrNoOMEMOBundle) || !strings.Contains(got.Err.Error(), "bob@localhost") {
		t.Fatalf("answer for a device without bundle = %+v", got)
	}
}

// Device lists are pushed: the session asks for them (+notify in its
// caps), and a contact's list and the account's own arrive as
// OMEMODeviceList events without request id, on publication and changes.
func TestOMEMODeviceListPush(t *testing.T) {
	srv, s := aliceWithBob(t)
	bob := newPeer(t, srv, "bob", "desk")
	list, _ := omemo.MarshalDeviceList([]uint32{11, 12})
	publishPEP(t, bob, omemo.DeviceListNode, list)
	ev := waitFor(t, s, func(l xmpp.OMEMODeviceList) bool { return l.JID == "bob@localhost" })
	if ev.ID != "" || !slices.Equal(ev.Devices, []uint32{11, 12}) {
		t.Fatalf("pushed list = %+v", ev)
	}
	list, _ = omemo.MarshalDeviceList([]uint32{12})
	publishPEP(t, bob, omemo.DeviceListNode, list)
	waitFor(t, s, func(l xmpp.OMEMODeviceList) bool {
		return l.JID == "bob@localhost" && slices.Equal(l.Devices, []uint32{12})
	})

	phone := newPeer(t, srv, "alice", "phone")
	list, _ = omemo.MarshalDeviceList([]uint32{77})
	publishPEP(t, phone, omemo.DeviceListNode, list)
	ev = waitFor(t, s, func(l xmpp.OMEMODeviceList) bool { return l.JID == "alice@localhost" })
	if ev.ID != "" || !slices.Equal(ev.Devices, []uint32{77}) {
		t.Fatalf("own pushed list = %+v", ev)
	}
}

// An encrypted message carries the <encrypted/> element, the XEP-0380
// name of the method, a store hint and the fallback body; the text
// itself is not in the stanza.
func TestOMEMOSend(t *testing.T) {
	srv, s := aliceWithBob(t)
	bob := newPeer(t, srv, "bob", "desk")
	element, err := omemo.MarshalEncrypted(omemo.Encrypted{SenderDeviceID: 9, IV: make([]byte, 12), Payload: []byte("ciphertext"),
		Keys: []omemo.RecipientKey{{DeviceID: 77, PreKey: true, Data: []byte("key")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: "the secret", OMEMO: element,
		Reply: &xmpp.OutReply{To: "bob@localhost", ID: "x1", Quote: "> the quoted secret\n"}}); err != nil {
		t.Fatal(err)
	}
	m := recvPeer(t, bob, func(c goxmpp.Chat) bool { return c.Type == "chat" && c.Text != "" })
	if m.Text != xmpp.OMEMOFallback {
		t.Errorf("body %q, want the fallback", m.Text)
	}
	var enc []byte
	var eme, store bool
	for _, o := range m.OtherElem {
		switch {
		case o.XMLName.Space == omemo.Namespace && o.XMLName.Local == "encrypted":
			enc = []byte("<encrypted xmlns='" + omemo.Namespace + "'>" + o.InnerXML + "</encrypted>")
		case o.XMLName.Space == "urn:xmpp:eme:0":
			eme = slices.ContainsFunc(o.Attr, func(a xml.Attr) bool { return a.Name.Local == "namespace" && a.Value == omemo.Namespace })
		case o.XMLName.Space == "urn:xmpp:hints" && o.XMLName.Local == "store":
			store = true
		}
		if strings.Contains(o.InnerXML, "secret") {
			t.Errorf("the text is in clear in %+v", o)
		}
	}
	e, err := omemo.UnmarshalEncrypted(enc)
	if err != nil || string(e.Payload) != "ciphertext" || e.SenderDeviceID != 9 {
		t.Fatalf("encrypted element %q: %+v, %v", enc, e, err)
	}
	if !eme || !store {
		t.Errorf("EME %v, store hint %v; want both in %+v", eme, store, m.OtherElem)
	}
}
