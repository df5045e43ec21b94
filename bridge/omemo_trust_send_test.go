package bridge

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// Outgoing encryption follows the trust policy: before any verification
// every device of the contact is encrypted to; once the user trusts one,
// a device the contact adds later is announced and left out until the
// user trusts it; with no trusted device left, the message is not sent.
func TestOMEMOSendLeavesOutUntrusted(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	phone := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", phone.dev.DeviceID)
	c.command("omemo on alice")
	c.send("PRIVMSG alice :first")
	c.take()
	sent := sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("%d encrypted messages sent, want 1", len(sent))
	}
	if text, _ := phone.read(sent[0]); text != "first" {
		t.Fatalf("the phone reads %q", text)
	}

	c.command("omemo trust alice " + strings.ToUpper(groupedFingerprint(phone.dev.Identity.Public)))
	laptop := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", phone.dev.DeviceID, laptop.dev.DeviceID)
	h.event(xmpp.OMEMODeviceList{JID: "alice@example.org", Devices: []uint32{phone.dev.DeviceID, laptop.dev.DeviceID}})
	if lines := c.take(); !hasLine(lines, fmt.Sprintf("NOTICE &xmpp :OMEMO: alice's new device %d, with the fingerprint %s, is untrusted", laptop.dev.DeviceID, groupedFingerprint(laptop.dev.Identity.Public))) {
		t.Fatalf("the new device's bundle is not told as untrusted: %q", lines)
	}
	if lines := c.command("omemo"); !hasLine(lines, fmt.Sprintf("alice: on; messages go encrypted; devices: %d (session), %d (left out: untrusted)", phone.dev.DeviceID, laptop.dev.DeviceID)) {
		t.Fatalf("omemo shows %q", lines)
	}
	c.send("PRIVMSG alice :second")
	c.take()
	sent = sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("%d encrypted messages sent, want 1", len(sent))
	}
	e, err := omemo.UnmarshalEncrypted(sent[0].OMEMO)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.KeyFor(laptop.dev.DeviceID); ok {
		t.Fatal("the message is encrypted to the untrusted laptop")
	}
	if text, _ := phone.read(sent[0]); text != "second" {
		t.Fatalf("the phone reads %q", text)
	}

	c.command("omemo trust alice " + omemo.Fingerprint(laptop.dev.Identity.Public))
	c.send("PRIVMSG alice :third")
	c.take()
	sent = sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("%d encrypted messages sent, want 1", len(sent))
	}
	if text, _ := laptop.read(sent[0]); text != "third" {
		t.Fatalf("the trusted laptop reads %q", text)
	}

	c.command("omemo untrust alice " + omemo.Fingerprint(laptop.dev.Identity.Public))
	c.command("omemo untrust alice " + omemo.Fingerprint(phone.dev.Identity.Public))
	c.send("PRIVMSG alice :fourth")
	lines := c.take()
	if len(sentOMEMO(h)) != 0 || !hasLine(lines, "message NOT sent", fmt.Sprintf("device %d: untrusted", phone.dev.DeviceID), fmt.Sprintf("device %d: untrusted", laptop.dev.DeviceID)) {
		t.Fatalf("with every device untrusted: %q", lines)
	}
}

// The user's own other devices are left out of encryption once untrusted.
func TestOMEMOSendLeavesOutUntrustedOwnDevice(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	phone := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", phone.dev.DeviceID)
	tablet := newOMEMOPeer(t, h, "me@example.org")
	h.event(xmpp.OMEMODeviceList{JID: "me@example.org", Devices: []uint32{h.b.omemo.dev.DeviceID, tablet.dev.DeviceID}})
	c.command("omemo on alice")
	c.send("PRIVMSG alice :hello")
	c.take()
	sent := sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("%d encrypted messages sent, want 1", len(sent))
	}
	if text, _ := tablet.read(sent[0]); text != "hello" {
		t.Fatalf("the own tablet reads %q", text)
	}
	c.command("omemo untrust me " + omemo.Fingerprint(tablet.dev.Identity.Public))
	c.send("PRIVMSG alice :not for the tablet")
	c.take()
	sent = sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("%d encrypted messages sent, want 1", len(sent))
	}
	e, err := omemo.UnmarshalEncrypted(sent[0].OMEMO)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uint32, len(e.Keys))
	for i, k := range e.Keys {
		ids[i] = k.DeviceID
	}
	if !slices.Equal(ids, []uint32{phone.dev.DeviceID}) {
		t.Fatalf("encrypted to %v, want only the phone %d", ids, phone.dev.DeviceID)
	}
}
