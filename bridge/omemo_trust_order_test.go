package bridge

import (
	"fmt"
	"strings"
	"testing"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// keyTransport is an <encrypted/> element without payload from the
// device to xircd's: what a client sends to set up or advance a session.
func (c *contactDevice) keyTransport() []byte {
	c.t.Helper()
	data, preKey, err := c.session.Encrypt(make([]byte, 32))
	if err != nil {
		c.t.Fatal(err)
	}
	x, err := omemo.MarshalEncrypted(omemo.Encrypted{SenderDeviceID: c.dev.DeviceID, IV: make([]byte, 12),
		Keys: []omemo.RecipientKey{{DeviceID: c.to, PreKey: preKey, Data: data}}})
	if err != nil {
		c.t.Fatal(err)
	}
	return x
}

// A contact's new device, once the user verified another of theirs, is
// told untrusted exactly once, as soon as xircd meets its identity key
// (its bundle, a key transport or its first message) and before any of
// its messages is shown, whatever the order in which the device list
// push, the bundle fetched for it and its own messages come.
func TestOMEMONewUntrustedDeviceToldOnceInAnyOrder(t *testing.T) {
	for _, order := range []string{
		"push bundle message",
		"push message bundle",
		"message push bundle",
		"push key-transport bundle message",
		"key-transport push bundle message",
		"push bundle key-transport message",
		"push no-bundle message",
	} {
		t.Run(strings.ReplaceAll(order, " ", "-"), func(t *testing.T) {
			h, c := omemoOnline(t, t.TempDir())
			phone := newContactDevice(t, h, "alice@example.org")
			h.event(phone.message(phone.encrypt("from the phone", phone.to)))
			c.command("omemo trust alice " + fingerprintOf(phone))
			c.take()

			laptop := newContactDevice(t, h, "alice@example.org")
			notice := fmt.Sprintf("NOTICE &xmpp :OMEMO: alice's new device %d, with the fingerprint %s, is untrusted", laptop.dev.DeviceID, groupedFingerprint(laptop.dev.Identity.Public))
			h.x.mu.Lock()
			h.x.holdAnswers = true // each answer comes at its step
			h.x.mu.Unlock()
			var seen []string
			told := false
			for _, step := range strings.Fields(order) {
				switch step {
				case "push", "no-bundle":
					if step == "push" {
						serveBundle(h, "alice@example.org", laptop.dev)
					}
					h.event(xmpp.OMEMODeviceList{JID: "alice@example.org", Devices: []uint32{phone.dev.DeviceID, laptop.dev.DeviceID}})
					if step == "no-bundle" {
						deliverAnswers(h)
					}
				case "bundle":
					deliverAnswers(h)
				case "key-transport":
					h.event(laptop.message(laptop.keyTransport()))
				case "message":
					h.event(laptop.message(laptop.encrypt("from the laptop", laptop.to)))
				}
				lines := c.take()
				seen = append(seen, lines...)
				if hasLine(lines, notice) {
					told = true
				}
				if !told && step != "push" {
					t.Fatalf("after %q the user is not told of the untrusted device; lines so far: %q", step, seen)
				}
			}
			var notices, messages []int
			for i, l := range seen {
				if strings.Contains(l, "NOTICE &xmpp :OMEMO:") {
					notices = append(notices, i)
				}
				if strings.Contains(l, "PRIVMSG me :") {
					messages = append(messages, i)
				}
			}
			if len(notices) != 1 || !hasLine(seen[notices[0]:notices[0]+1], notice, "omemo trust alice "+groupedFingerprint(laptop.dev.Identity.Public)) {
				t.Fatalf("want one notice of the untrusted device, got %q", seen)
			}
			if len(messages) != 1 || seen[messages[0]] != ":alice!alice@example.org PRIVMSG me :⚠🔒 from the laptop" || messages[0] < notices[0] {
				t.Fatalf("want the laptop's message marked untrusted after the notice, got %q", seen)
			}
		})
	}
}

// deliverAnswers feeds the fake's held answers to the bridge, in order.
func deliverAnswers(h *harness) {
	for _, ev := range h.x.takeAnswers() {
		h.event(ev)
	}
}
