package e2e

import (
	"context"
	"crypto/rand"
	"regexp"
	"testing"

	"xircd/xmpp/omemo"
)

// omemoItem fetches the item "current" of jid's PEP node as user's client
// sees it, and returns the element of it that re finds ("" while the
// node has none).
func omemoItem(t *testing.T, p *peer, jid, node string, re *regexp.Regexp) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := p.SendIQ(ctx, jid, "get", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='"+node+"'/></pubsub>")
	if err != nil {
		t.Fatal(err)
	}
	return re.Find(res.Payload)
}

var (
	deviceListElement = regexp.MustCompile(`(?s)<list\b.*</list>`)
	bundleElement     = regexp.MustCompile(`(?s)<bundle\b.*</bundle>`)
)

// xircd is an OMEMO device of the account: another client of the account
// sees it in the device list next to its own device, a contact reads its
// bundle, starts a session from it as OMEMO clients do (with go-xmpp
// sending the XML that package omemo makes), and the IRC client sees
// the contact's encrypted messages decrypted and marked, the ratchet
// advancing from one to the next.
func TestOMEMOReceive(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	phone := e.peer("me", "phone")
	// The phone was an OMEMO device of the account before xircd came.
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	list, _ := omemo.MarshalDeviceList([]uint32{4242})
	res, err := phone.SendIQ(ctx, "", "set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='"+omemo.DeviceListNode+"'><item id='current'>"+string(list)+"</item></publish>"+
		"<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"+
		"<field var='pubsub#access_model'><value>open</value></field></x></publish-options></pubsub>")
	if err != nil || res.Type != "result" {
		t.Fatalf("publishing the phone's device list: %+v %v", res, err)
	}

	e.start()
	c := e.client("me")
	waitContact(t, c, "Alice")

	var devices []uint32
	waitFor(t, func() bool {
		el := omemoItem(t, phone, e.userJID, omemo.DeviceListNode, deviceListElement)
		devices, err = omemo.UnmarshalDeviceList(el)
		return err == nil && len(devices) == 2
	})
	if devices[0] != 4242 {
		t.Fatalf("device list %v: the phone's device is gone", devices)
	}
	xircdDevice := devices[1]

	alice := e.peer("alice", "phone")
	var bundle omemo.Bundle
	waitFor(t, func() bool {
		el := omemoItem(t, alice, e.userJID, omemo.BundleNode(xircdDevice), bundleElement)
		bundle, err = omemo.UnmarshalBundle(xircdDevice, el)
		return err == nil
	})
	aliceDevice, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	session, err := omemo.InitiateSession(rand.Reader, aliceDevice, bundle)
	if err != nil {
		t.Fatalf("starting a session from xircd's bundle: %v", err)
	}
	raw := e.rawPeer("alice", "laptop")
	for _, text := range []string{"first secret", "second secret"} {
		enc, err := omemo.Encrypt(rand.Reader, aliceDevice.DeviceID, []byte(text), []omemo.Recipient{{DeviceID: xircdDevice, Session: session}})
		if err != nil {
			t.Fatal(err)
		}
		el, err := omemo.MarshalEncrypted(enc)
		if err != nil {
			t.Fatal(err)
		}
		raw.send(`<message to='%s' type='chat'>%s<encryption xmlns='urn:xmpp:eme:0' namespace='eu.siacs.conversations.axolotl' name='OMEMO'/>`+
			`<body>I sent you an OMEMO encrypted message but your client doesn't seem to support that.</body><store xmlns='urn:xmpp:hints'/></message>`, e.userJID, el)
		m := c.expectLine("🔒 " + text)
		if m.Prefix.Name != "Alice" || m.Trailing() != "🔒 "+text {
			t.Errorf("shown as %q", m)
		}
	}
}
