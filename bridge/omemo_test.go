package bridge

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// xircd's OMEMO device is made once and kept in state_dir (mode 0600);
// after login it joins the account's device list, keeping the devices
// already there, and publishes its bundle. Once listed, it is not
// published again.
func TestOMEMODevicePublished(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	path := filepath.Join(dir, omemoFileName)
	dev := storedDevice(t, h, dir)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key store %v, %v; want mode 0600", fi, err)
	}
	h.x.omemoDevices = []uint32{4242}
	h.connect()
	h.expectOMEMOCalls("devices ",
		fmt.Sprintf("publish devices [4242 %d]", dev.DeviceID),
		"bundle me@example.org 4242", // to encrypt for the other device
		fmt.Sprintf("publish bundle %d", dev.DeviceID))
	h.stop()

	h = newHarness(t, Config{StateDir: dir})
	if h.b.omemo.dev.DeviceID != dev.DeviceID {
		t.Fatalf("device %d after a restart, want %d", h.b.omemo.dev.DeviceID, dev.DeviceID)
	}
	h.x.omemoDevices = []uint32{4242, dev.DeviceID}
	h.connect()
	// The server has the device and its bundle: nothing is published again.
	h.expectOMEMOCalls("devices ", "bundle me@example.org 4242")
	h.stop()

	// The bundle changed since (pre-keys used): it is published.
	dev.PreKeys = dev.PreKeys[1:]
	if err := dev.RefillPreKeys(rand.Reader); err != nil {
		t.Fatal(err)
	}
	storeDevice(t, path, dev)
	h = newHarness(t, Config{StateDir: dir})
	h.x.omemoDevices = []uint32{4242, dev.DeviceID}
	h.connect()
	h.expectOMEMOCalls("devices ", "bundle me@example.org 4242", fmt.Sprintf("publish bundle %d", dev.DeviceID))
	h.stop()

	// The device list lost xircd's device: both are published.
	h = newHarness(t, Config{StateDir: dir})
	h.x.omemoDevices = []uint32{4242}
	h.connect()
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [4242 %d]", dev.DeviceID), "bundle me@example.org 4242", fmt.Sprintf("publish bundle %d", dev.DeviceID))
}

// A damaged key store is replaced by a new device, and the user is told
// why once connected; the gateway runs on.
func TestOMEMOCorruptStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, omemoFileName)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{StateDir: dir})
	c := h.attach("me")
	c.take()
	h.connect()
	lines := c.take()
	if !hasLine(lines, "The OMEMO key store could not be read", "xircd made a new OMEMO device") {
		t.Fatalf("no notice of the damaged key store in %q", lines)
	}
	if dev := storedDevice(t, h, dir); dev.DeviceID != h.b.omemo.dev.DeviceID {
		t.Fatalf("new device %d not saved: %d on disk", h.b.omemo.dev.DeviceID, dev.DeviceID)
	}
}

// Without a state_dir, xircd has no OMEMO device: a new one at every
// start would fill the account's device list.
func TestOMEMONoStateDir(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect()
	h.expectOMEMOCalls()
}

// A refused publication is told: contacts cannot encrypt to xircd.
func TestOMEMOPublicationRefused(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.x.omemoRefusal = &xmpp.StanzaError{Type: "cancel", Condition: "forbidden"}
	c := h.attach("me")
	c.take()
	h.connect()
	lines := c.take()
	if !hasLine(lines, "OMEMO: the XMPP server refused publish-omemo-bundle (forbidden); contacts cannot encrypt to xircd.") {
		t.Fatalf("no notice of the refusal in %q", lines)
	}
}

// ownKeys is xircd's whole device, as the bridge reads it when it needs
// its one-time pre-keys.
func ownKeys(t *testing.T, h *harness) *omemo.Device {
	t.Helper()
	dev, err := h.b.omemo.keys()
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// storedDevice is xircd's device as its store file in dir holds it once
// what the bridge queued is written.
func storedDevice(t *testing.T, h *harness, dir string) *omemo.Device {
	t.Helper()
	h.b.files.flush()
	data, err := os.ReadFile(filepath.Join(dir, omemoFileName))
	if err != nil {
		t.Fatal(err)
	}
	dev, err := omemo.UnmarshalDevice(data)
	if err != nil {
		t.Fatal(err)
	}
	return dev
}

// storeDevice writes dev as xircd's store file at path.
func storeDevice(t *testing.T, path string, dev *omemo.Device) {
	t.Helper()
	data, err := omemo.MarshalDevice(dev)
	if err == nil {
		err = writeFileAtomic(path, data)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// contactDevice is a contact's OMEMO device with a session started from
// xircd's bundle, as a contact's client starts one.
type contactDevice struct {
	t       *testing.T
	jid     string
	dev     *omemo.Device
	session *omemo.Session
	to      uint32 // xircd's device
}

func newContactDevice(t *testing.T, h *harness, jid string) *contactDevice {
	t.Helper()
	dev, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := omemo.InitiateSession(rand.Reader, dev, ownKeys(t, h).Bundle())
	if err != nil {
		t.Fatal(err)
	}
	return &contactDevice{t: t, jid: jid, dev: dev, session: s, to: h.b.omemo.dev.DeviceID}
}

// encrypt returns the <encrypted/> element of body for the devices to.
func (c *contactDevice) encrypt(body string, to ...uint32) []byte {
	c.t.Helper()
	var rs []omemo.Recipient
	for _, id := range to {
		rs = append(rs, omemo.Recipient{DeviceID: id, Session: c.session})
	}
	e, err := omemo.Encrypt(rand.Reader, c.dev.DeviceID, []byte(body), rs)
	if err != nil {
		c.t.Fatal(err)
	}
	x, err := omemo.MarshalEncrypted(e)
	if err != nil {
		c.t.Fatal(err)
	}
	return x
}

func (c *contactDevice) message(element []byte) xmpp.Message {
	return xmpp.Message{From: c.jid + "/phone", Type: "chat", Body: "I sent you an OMEMO encrypted message", Encryption: "OMEMO", OMEMO: element}
}

// A contact's OMEMO messages for xircd's device are decrypted and shown
// marked; the session is kept (mode 0600) and used after a restart; the
// one-time pre-key used is replaced and the bundle republished.
func TestOMEMODecrypt(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d]", h.b.omemo.dev.DeviceID), fmt.Sprintf("publish bundle %d", h.b.omemo.dev.DeviceID))
	c := h.attach("me")
	c.take()
	alice := newContactDevice(t, h, "alice@example.org")
	h.event(alice.message(alice.encrypt("hello in secret", alice.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 hello in secret")
	h.expectOMEMOCalls(fmt.Sprintf("publish bundle %d", alice.to))
	if n := len(ownKeys(t, h).PreKeys); n != omemo.PreKeyCount {
		t.Errorf("%d one-time pre-keys after one was used, want %d", n, omemo.PreKeyCount)
	}
	h.event(alice.message(alice.encrypt("/me waves", alice.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :\x01ACTION 🔒 waves\x01")
	if fi, err := os.Stat(filepath.Join(dir, omemoSessionsFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("sessions file %v, %v; want mode 0600", fi, err)
	}
	h.stop()

	h = newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	c = h.attach("me")
	c.take()
	h.event(alice.message(alice.encrypt("after a restart", alice.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 after a restart")
}

// What xircd cannot decrypt is told, with why, and never shown as text:
// a message for other devices only, a damaged one, a replayed one, one of
// a session xircd does not have.
func TestOMEMOUnreadable(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	alice := newContactDevice(t, h, "alice@example.org")
	notice := func(why string) string {
		return ":alice!alice@example.org PRIVMSG me :\x01ACTION sent an OMEMO-encrypted message, which xircd cannot read (" + why + "); read it on another client\x01"
	}

	h.event(alice.message(alice.encrypt("for the phone", 4242)))
	c.expect(notice("not encrypted for this device"))

	first := alice.encrypt("first", alice.to)
	h.event(alice.message(first))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 first")
	h.event(alice.message(first))
	c.expect(":alice!alice@example.org PRIVMSG me :\x01ACTION sent an OMEMO-encrypted message xircd had already received: a replay, not shown again\x01")

	forged := alice.encrypt("forged", alice.to)
	forged = []byte(strings.Replace(string(forged), "<payload>", "<payload>AAAA", 1))
	h.event(alice.message(forged))
	lines := c.take()
	if len(lines) != 1 || !strings.Contains(lines[0], "which xircd cannot read (") || strings.Contains(lines[0], "forged") {
		t.Errorf("a forged payload shows %q", lines)
	}

	h.event(alice.message([]byte("<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'>")))
	lines = c.take()
	if len(lines) != 1 || !strings.Contains(lines[0], "which xircd cannot read (omemo: ") {
		t.Errorf("a truncated element shows %q", lines)
	}

	// bob's device never sent a pre-key message: its WhisperMessage has no
	// session.
	bob := newContactDevice(t, h, "bob@example.org")
	e, _ := omemo.UnmarshalEncrypted(bob.encrypt("hi", bob.to))
	e.Keys[0].PreKey = false
	x, _ := omemo.MarshalEncrypted(e)
	h.event(xmpp.Message{From: "bob@example.org/desk", Type: "chat", Encryption: "OMEMO", OMEMO: x})
	lines = c.take()
	if !hasLine(lines, fmt.Sprintf("which xircd cannot read (no session with device %d (it must start one with a pre-key message))", bob.dev.DeviceID)) || slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "hi\x01") || strings.HasSuffix(l, " hi") }) {
		t.Errorf("a message without a session shows %q", lines)
	}
}

// The user's own other OMEMO device encrypts what it sends for xircd
// too: its carbon is decrypted and shown as the user's message.
func TestOMEMOOwnDeviceCarbon(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	laptop := newContactDevice(t, h, "me@example.org")
	h.event(xmpp.Message{From: "me@example.org/laptop", To: "alice@example.org", Type: "chat", Carbon: xmpp.CarbonSent,
		Encryption: "OMEMO", OMEMO: laptop.encrypt("sent from my laptop", laptop.to)})
	c.expect(":me!user@localhost PRIVMSG alice :🔒 sent from my laptop")
}

// "fingerprint" shows xircd's device and its fingerprint for contacts to
// compare; without a state_dir it says why there is none.
func TestOMEMOFingerprintCommand(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect()
	c := h.attach("me")
	c.take()
	c.send("PRIVMSG &xmpp :fingerprint")
	fp := omemo.Fingerprint(h.b.omemo.dev.Identity.Public)
	c.expect(fmt.Sprintf(":xircd!xircd@irc.test PRIVMSG &xmpp :xircd's OMEMO device %d has the fingerprint %s %s %s %s %s %s %s %s",
		h.b.omemo.dev.DeviceID, fp[0:8], fp[8:16], fp[16:24], fp[24:32], fp[32:40], fp[40:48], fp[48:56], fp[56:64]))

	h = newHarness(t, Config{})
	c = h.attach("me")
	c.take()
	c.send("PRIVMSG &xmpp :fingerprint")
	c.expect(":xircd!xircd@irc.test PRIVMSG &xmpp :xircd has no OMEMO device: it needs a state directory (bridge.state_dir) to keep its keys.")
}

// A burst of pre-key messages republishes the bundle twice, not once per
// message: once at the first, once with what changed meanwhile.
func TestOMEMOBundleRepublishBounded(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "alice"))
	own := h.b.omemo.dev.DeviceID
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d]", own), fmt.Sprintf("publish bundle %d", own))
	c := h.attach("me")
	c.take()
	h.x.mu.Lock()
	h.x.holdAnswers = true
	h.x.mu.Unlock()
	for i := range 3 {
		alice := newContactDevice(t, h, "alice@example.org")
		h.event(alice.message(alice.encrypt(fmt.Sprintf("burst %d", i), alice.to)))
	}
	h.expectOMEMOCalls(fmt.Sprintf("publish bundle %d", own))
	h.x.mu.Lock()
	h.x.holdAnswers = false
	h.x.mu.Unlock()
	for _, ev := range h.x.takeAnswers() {
		h.event(ev)
	}
	h.expectOMEMOCalls(fmt.Sprintf("publish bundle %d", own))
	for _, ev := range h.x.takeAnswers() {
		h.event(ev)
	}
	h.expectOMEMOCalls()
	if n := len(c.take()); n != 3 {
		t.Errorf("%d lines shown, want the 3 messages", n)
	}
}
