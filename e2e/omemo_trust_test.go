package e2e

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/xmpp/omemo"
)

// xircdOMEMOBundle waits until the user's device list holds xircd's
// device beside the others listed before (others of them) and returns
// xircd's bundle, as the contact p reads them.
func xircdOMEMOBundle(t *testing.T, e *env, p *peer, others int) omemo.Bundle {
	t.Helper()
	var devices []uint32
	var err error
	waitFor(t, func() bool {
		el := omemoItem(t, p, e.userJID, omemo.DeviceListNode, deviceListElement)
		devices, err = omemo.UnmarshalDeviceList(el)
		return err == nil && len(devices) == others+1
	})
	id := devices[others]
	var bundle omemo.Bundle
	waitFor(t, func() bool {
		el := omemoItem(t, p, e.userJID, omemo.BundleNode(id), bundleElement)
		bundle, err = omemo.UnmarshalBundle(id, el)
		return err == nil
	})
	return bundle
}

// xircdBundleSince waits until xircd has republished its bundle since
// old, as it does once a one-time pre-key of old is used, and returns
// it: a device starting a session fetches the bundle then, and a pre-key
// taken from old may be used already (its message could not be read).
func xircdBundleSince(t *testing.T, e *env, p *peer, old omemo.Bundle) omemo.Bundle {
	t.Helper()
	var bundle omemo.Bundle
	waitFor(t, func() bool {
		el := omemoItem(t, p, e.userJID, omemo.BundleNode(old.DeviceID), bundleElement)
		var err error
		bundle, err = omemo.UnmarshalBundle(old.DeviceID, el)
		return err == nil && !slices.Equal(bundle.PreKeys, old.PreKeys)
	})
	return bundle
}

// startSession starts the device's session with xircd's device from its
// bundle, as a client writing first does.
func (d *omemoDevice) startSession(bundle omemo.Bundle) {
	d.t.Helper()
	s, err := omemo.InitiateSession(rand.Reader, d.dev, bundle)
	if err != nil {
		d.t.Fatalf("starting a session from xircd's bundle: %v", err)
	}
	d.session, d.xircd = s, bundle.DeviceID
}

// fingerprint is the device's fingerprint as a user types it after
// reading it on the contact's screen: in groups, in capitals.
func (d *omemoDevice) fingerprint() string {
	fp := omemo.Fingerprint(d.dev.Identity.Public)
	var groups []string
	for i := 0; i < len(fp); i += 8 {
		groups = append(groups, fp[i:i+8])
	}
	return strings.ToUpper(strings.Join(groups, " "))
}

// Blind trust before verification, end to end: a contact's OMEMO device
// writes and is shown as trusted; the IRC user lists its fingerprint in
// &xmpp and trusts it. A second device of the contact then appears: its
// messages carry the untrusted mark, with one notice saying how to trust
// it, and what the user writes is not encrypted to it, until the user
// trusts it too.
func TestOMEMOTrust(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	keys := e.peer("alice", "keys")
	phone, laptop := newOMEMODevice(t), newOMEMODevice(t)
	publishOMEMO(t, keys, phone)
	alice := e.rawPeer("alice", "laptop")
	e.start()
	c := e.client("me")
	waitContact(t, c, "Alice")
	bundle := xircdOMEMOBundle(t, e, keys, 0)

	phone.startSession(bundle)
	phone.answer(alice, e.userJID, "from the phone")
	if m := c.expectLine("from the phone"); m.Prefix.Name != "Alice" || m.Trailing() != "🔒 from the phone" {
		t.Fatalf("a new contact's device is shown %q; want it trusted blindly", m)
	}

	c.send("PRIVMSG &xmpp :omemo fingerprints Alice")
	c.expectLine("PRIVMSG &xmpp :Alice's device", strings.ToLower(phone.fingerprint()), "trusted blindly")
	c.send("PRIVMSG &xmpp :omemo trust Alice " + phone.fingerprint())
	c.expectLine("PRIVMSG &xmpp :Alice's device", "is now trusted")

	// The laptop joins alice's devices and writes.
	publishOMEMO(t, keys, phone, laptop)
	laptop.startSession(xircdBundleSince(t, e, keys, bundle)) // the phone used one of its pre-keys
	laptop.answer(alice, e.userJID, "from the laptop")
	c.expectLine("NOTICE &xmpp :OMEMO: Alice's new device", strings.ToLower(laptop.fingerprint()), "is untrusted", "omemo trust Alice")
	if m := c.expectLine("from the laptop"); m.Trailing() != "⚠🔒 from the laptop" {
		t.Fatalf("the new device's message is shown %q; want it marked untrusted", m)
	}
	laptop.answer(alice, e.userJID, "again from the laptop")
	if m := c.expectLine("again from the laptop"); m.Trailing() != "⚠🔒 again from the laptop" {
		t.Fatalf("the new device's second message is shown %q", m)
	}
	phone.answer(alice, e.userJID, "the phone is still trusted")
	if m := c.expectLine("the phone is still trusted"); m.Trailing() != "🔒 the phone is still trusted" {
		t.Fatalf("the verified device's message is shown %q", m)
	}

	// What the user writes goes to the phone, not to the laptop.
	isOMEMO := func(m goxmpp.Chat) bool { return element(m, omemo.Namespace, "encrypted") != nil }
	c.send("PRIVMSG &xmpp :omemo on Alice")
	c.expectLine("OMEMO for Alice: on")
	c.send("PRIVMSG Alice :for trusted devices only")
	enc := encryptedOf(t, alice.expect(isOMEMO))
	if text, _ := phone.read(enc); text != "for trusted devices only" {
		t.Fatalf("the phone reads %q", text)
	}
	if _, ok := enc.KeyFor(laptop.dev.DeviceID); ok {
		t.Fatal("the message is encrypted to the untrusted laptop")
	}

	c.send("PRIVMSG &xmpp :omemo trust Alice " + strings.ReplaceAll(laptop.fingerprint(), " ", "-"))
	c.expectLine("PRIVMSG &xmpp :Alice's device", "is now trusted")
	laptop.answer(alice, e.userJID, "trusted laptop")
	if m := c.expectLine("trusted laptop"); m.Trailing() != "🔒 trusted laptop" {
		t.Fatalf("the device once trusted is shown %q", m)
	}
	c.send("PRIVMSG Alice :for both now")
	enc = encryptedOf(t, alice.expect(isOMEMO))
	for _, d := range []*omemoDevice{phone, laptop} {
		if text, _ := d.read(enc); text != "for both now" {
			t.Fatalf("device %d reads %q", d.dev.DeviceID, text)
		}
	}
	if n := c.count(lineWith("NOTICE &xmpp :OMEMO: Alice's")); n != 1 {
		t.Errorf("%d notices of Alice's devices, want 1 (the laptop's, once)", n)
	}
}
