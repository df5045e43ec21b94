package bridge

import (
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// omemoPeer is an OMEMO device that xircd encrypts for: a contact's or
// one of the account's other devices, its bundle served by the fake.
type omemoPeer struct {
	t       *testing.T
	jid     string
	dev     *omemo.Device
	session *omemo.Session
}

func newOMEMOPeer(t *testing.T, h *harness, jid string) *omemoPeer {
	t.Helper()
	dev, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serveBundle(h, jid, dev)
	return &omemoPeer{t: t, jid: jid, dev: dev}
}

// serveBundle makes the fake serve the bundle of jid's device dev.
func serveBundle(h *harness, jid string, dev *omemo.Device) {
	h.x.mu.Lock()
	defer h.x.mu.Unlock()
	if h.x.omemoBundles == nil {
		h.x.omemoBundles = map[string]omemo.Bundle{}
	}
	h.x.omemoBundles[sessionKey(jid, dev.DeviceID)] = dev.Bundle()
}

// listDevices makes the fake serve jid's device list.
func listDevices(h *harness, jid string, ids ...uint32) {
	h.x.mu.Lock()
	defer h.x.mu.Unlock()
	if h.x.omemoLists == nil {
		h.x.omemoLists = map[string][]uint32{}
	}
	h.x.omemoLists[jid] = ids
}

// read decrypts the key for this device in an encrypted message xircd
// sent; preKey tells whether it was a pre-key message.
func (p *omemoPeer) read(m xmpp.OutMessage) (text string, preKey bool) {
	p.t.Helper()
	e, err := omemo.UnmarshalEncrypted(m.OMEMO)
	if err != nil {
		p.t.Fatal(err)
	}
	k, ok := e.KeyFor(p.dev.DeviceID)
	if !ok {
		p.t.Fatalf("no key for device %d in %+v", p.dev.DeviceID, e.Keys)
	}
	var key []byte
	if k.PreKey {
		p.session, key, err = p.dev.DecryptPreKeyMessage(rand.Reader, p.session, k.Data)
	} else {
		key, err = p.session.Decrypt(rand.Reader, k.Data)
	}
	if err != nil {
		p.t.Fatalf("device %d cannot decrypt: %v", p.dev.DeviceID, err)
	}
	plain, err := omemo.DecryptPayload(key, e.IV, e.Payload)
	if err != nil {
		p.t.Fatal(err)
	}
	return string(plain), k.PreKey
}

// reply is the peer's encrypted answer to xircd's device, over the
// session xircd started.
func (p *omemoPeer) reply(h *harness, text string) xmpp.Message {
	p.t.Helper()
	e, err := omemo.Encrypt(rand.Reader, p.dev.DeviceID, []byte(text), []omemo.Recipient{{DeviceID: h.b.omemo.dev.DeviceID, Session: p.session}})
	if err != nil {
		p.t.Fatal(err)
	}
	x, err := omemo.MarshalEncrypted(e)
	if err != nil {
		p.t.Fatal(err)
	}
	return xmpp.Message{From: p.jid + "/phone", Type: "chat", Body: xmpp.OMEMOFallback, Encryption: "OMEMO", OMEMO: x}
}

// sentOMEMO returns and forgets the encrypted messages sent so far.
func sentOMEMO(h *harness) []xmpp.OutMessage {
	h.barrier()
	h.x.mu.Lock()
	defer h.x.mu.Unlock()
	s := h.x.sentOMEMO
	h.x.sentOMEMO = nil
	return s
}

// omemoOnline is a gateway with a state_dir, connected, with alice in
// the roster and a client attached.
func omemoOnline(t *testing.T, dir string) (*harness, *ircClient) {
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me", "echo-message")
	c.take()
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d]", h.b.omemo.dev.DeviceID), fmt.Sprintf("publish bundle %d", h.b.omemo.dev.DeviceID))
	h.expectCalls()
	return h, c
}

// With "omemo on", messages wait for the contact's device list and
// bundle, go in order, encrypted, pre-key messages until the device
// answers, then plain WhisperMessages; the echo is marked.
func TestOMEMOSendOn(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	alice := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", alice.dev.DeviceID)
	h.x.holdAnswers = true
	c.send("PRIVMSG &xmpp :omemo on alice")
	c.expect(":me!user@localhost PRIVMSG &xmpp :omemo on alice", ":xircd!xircd@irc.test PRIVMSG &xmpp :OMEMO for alice: on; messages go encrypted; devices not known yet")
	c.send("PRIVMSG alice :first")
	c.send("PRIVMSG alice :\x01ACTION second\x01")
	c.expect(":me!user@localhost PRIVMSG alice :🔒 first", ":me!user@localhost PRIVMSG alice :\x01ACTION 🔒 second\x01")
	h.expectCalls() // nothing goes before the keys are there
	h.x.holdAnswers = false
	h.expectOMEMOCalls("devices alice@example.org", fmt.Sprintf("bundle alice@example.org %d", alice.dev.DeviceID))
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="first" omemo`,
		`message id=id2 to=alice@example.org type=chat state=active body="/me second" omemo`)
	for i, m := range sentOMEMO(h) {
		want := []string{"first", "/me second"}[i]
		if text, preKey := alice.read(m); text != want || !preKey {
			t.Fatalf("message %d: %q (pre-key %v), want %q as a pre-key message", i, text, preKey, want)
		}
	}
	h.event(alice.reply(h, "got it"))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 got it")
	c.send("PRIVMSG alice :third")
	c.take()
	h.expectCalls(`message id=id3 to=alice@example.org/phone type=chat state= body="third" omemo`)
	if text, preKey := alice.read(sentOMEMO(h)[0]); text != "third" || preKey {
		t.Fatalf("after the answer: %q (pre-key %v), want a WhisperMessage", text, preKey)
	}
}

// A message that must go encrypted and has no device to go to is not
// sent, and the user is told why in the query: never in clear.
func TestOMEMOSendNoUsableDevice(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	c.send("PRIVMSG &xmpp :omemo on alice")
	c.take()
	h.expectOMEMOCalls("devices alice@example.org")
	c.send("PRIVMSG alice :secret one")
	c.expect(":me!user@localhost PRIVMSG alice :🔒 secret one",
		`:alice!alice@example.org NOTICE me :[xircd] message NOT sent: it must go encrypted (OMEMO) and they publish no OMEMO device; "omemo off alice" sends unencrypted: "secret one"`)

	listDevices(h, "alice@example.org", 5)
	h.event(xmpp.OMEMODeviceList{JID: "alice@example.org", Devices: []uint32{5}})
	h.expectOMEMOCalls("bundle alice@example.org 5")
	c.send("PRIVMSG alice :secret two")
	c.expect(":me!user@localhost PRIVMSG alice :🔒 secret two",
		`:alice!alice@example.org NOTICE me :[xircd] message NOT sent: it must go encrypted (OMEMO) and none of their OMEMO devices can be used (device 5: it published no bundle); "omemo off alice" sends unencrypted: "secret two"`)
	h.expectCalls()
	if len(sentOMEMO(h)) != 0 {
		t.Fatal("an encrypted message was sent")
	}

	c.send("PRIVMSG &xmpp :omemo off alice")
	c.take()
	c.send("PRIVMSG alice :in clear")
	c.expect(":me!user@localhost PRIVMSG alice :in clear")
	h.expectCalls(`message id=id3 to=alice@example.org type=chat state=active body="in clear"`)
}

// A device whose bundle's signature fails is left out, the user told
// once; the message goes to the contact's other device.
func TestOMEMOSendInvalidBundle(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	good := newOMEMOPeer(t, h, "alice@example.org")
	bad := newOMEMOPeer(t, h, "alice@example.org")
	forged := bad.dev.Bundle()
	forged.SignedPreKeySignature[0] ^= 1
	h.x.omemoBundles[sessionKey("alice@example.org", bad.dev.DeviceID)] = forged
	listDevices(h, "alice@example.org", bad.dev.DeviceID, good.dev.DeviceID)
	c.send("PRIVMSG &xmpp :omemo on alice")
	c.send("PRIVMSG alice :one")
	c.send("PRIVMSG alice :two")
	h.barrier()
	lines := c.take()
	told := 0
	for _, l := range lines {
		if strings.Contains(l, fmt.Sprintf("OMEMO device %d of alice is left out of encryption: its bundle is invalid", bad.dev.DeviceID)) {
			told++
		}
	}
	if told != 1 {
		t.Fatalf("told %d times of the invalid bundle in %q", told, lines)
	}
	sent := sentOMEMO(h)
	if len(sent) != 2 {
		t.Fatalf("%d encrypted messages sent, want 2", len(sent))
	}
	for i, m := range sent {
		if text, _ := good.read(m); text != []string{"one", "two"}[i] {
			t.Errorf("message %d reads %q", i, text)
		}
		if e, _ := omemo.UnmarshalEncrypted(m.OMEMO); len(e.Keys) != 1 {
			t.Errorf("message %d has keys %+v, want only the good device's", i, e.Keys)
		}
	}
}

// "auto" sends in clear while nothing says the contact uses OMEMO, and
// fetches its device list meanwhile; once every device has a session, or
// when the contact's last message was encrypted, it encrypts.
func TestOMEMOSendAuto(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	alice := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", alice.dev.DeviceID)
	c.send("PRIVMSG alice :hello")
	c.expect(":me!user@localhost PRIVMSG alice hello")
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="hello"`)
	h.expectOMEMOCalls("devices alice@example.org", fmt.Sprintf("bundle alice@example.org %d", alice.dev.DeviceID))
	c.send("PRIVMSG alice :now in secret")
	c.expect(":me!user@localhost PRIVMSG alice :🔒 now in secret")
	if text, _ := alice.read(sentOMEMO(h)[0]); text != "now in secret" {
		t.Fatalf("read %q", text)
	}

	// bob's second device is not ready (its bundle is awaited), but his
	// last message was encrypted.
	h.event(xmpp.RosterPush{Item: item("bob@example.org", "bob")})
	bob1, bob2 := newOMEMOPeer(t, h, "bob@example.org"), newOMEMOPeer(t, h, "bob@example.org")
	s, err := omemo.InitiateSession(rand.Reader, bob1.dev, ownKeys(t, h).Bundle())
	if err != nil {
		t.Fatal(err)
	}
	bob1.session = s
	h.x.holdAnswers = true
	h.event(xmpp.OMEMODeviceList{JID: "bob@example.org", Devices: []uint32{bob1.dev.DeviceID, bob2.dev.DeviceID}})
	c.take()
	h.event(bob1.reply(h, "psst"))
	c.expect(":bob!bob@example.org PRIVMSG me :🔒 psst")
	c.send("PRIVMSG bob :psst yourself")
	c.expect(":me!user@localhost PRIVMSG bob :🔒 psst yourself")
	h.x.holdAnswers = false
	sent := sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("%d messages sent to bob", len(sent))
	}
	for _, p := range []*omemoPeer{bob1, bob2} {
		if text, _ := p.read(sent[0]); text != "psst yourself" {
			t.Errorf("device %d reads %q", p.dev.DeviceID, text)
		}
	}
}

// A message waiting for keys is not overtaken: a later one that goes in
// clear (OMEMO turned off meanwhile) waits behind it.
func TestOMEMOSendOrder(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	alice := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", alice.dev.DeviceID)
	h.x.holdAnswers = true
	c.send("PRIVMSG &xmpp :omemo on alice")
	c.send("PRIVMSG alice :secret")
	c.send("PRIVMSG &xmpp :omemo off alice")
	c.send("PRIVMSG alice :clear")
	c.take()
	h.expectCalls()
	h.x.holdAnswers = false
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="secret" omemo`,
		`message id=id2 to=alice@example.org type=chat state=active body="clear"`)
}

// The account's other devices get every message too, xircd's own device
// not; the contact's device and the other device both read it.
func TestOMEMOSendOwnDevices(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	phone := newOMEMOPeer(t, h, "me@example.org")
	h.x.omemoDevices = []uint32{phone.dev.DeviceID}
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d %d]", phone.dev.DeviceID, h.b.omemo.dev.DeviceID),
		fmt.Sprintf("bundle me@example.org %d", phone.dev.DeviceID), fmt.Sprintf("publish bundle %d", h.b.omemo.dev.DeviceID))
	alice := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", alice.dev.DeviceID)
	c.send("PRIVMSG &xmpp :omemo on alice")
	c.send("PRIVMSG alice :to all")
	sent := sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("%d messages sent", len(sent))
	}
	e, _ := omemo.UnmarshalEncrypted(sent[0].OMEMO)
	if _, ok := e.KeyFor(h.b.omemo.dev.DeviceID); ok || len(e.Keys) != 2 || e.SenderDeviceID != h.b.omemo.dev.DeviceID {
		t.Fatalf("keys %+v from %d", e.Keys, e.SenderDeviceID)
	}
	for _, p := range []*omemoPeer{alice, phone} {
		if text, _ := p.read(sent[0]); text != "to all" {
			t.Errorf("device %d reads %q", p.dev.DeviceID, text)
		}
	}
}

// Modes, device lists and sessions survive a restart: the next message
// goes at once, in the same session, without asking for anything.
func TestOMEMOSendRestart(t *testing.T) {
	dir := t.TempDir()
	h, c := omemoOnline(t, dir)
	alice := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", alice.dev.DeviceID)
	c.send("PRIVMSG &xmpp :omemo on alice")
	c.send("PRIVMSG alice :before")
	alice.read(sentOMEMO(h)[0])
	h.expectOMEMOCalls("devices alice@example.org", fmt.Sprintf("bundle alice@example.org %d", alice.dev.DeviceID))
	h.stop()
	for _, name := range []string{omemoDevicesFileName, omemoSessionsFileName} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v; want mode 0600", name, fi, err)
		}
	}

	h = newHarness(t, Config{StateDir: dir})
	h.x.omemoDevices = []uint32{h.b.omemo.dev.DeviceID}
	h.connect(item("alice@example.org", "alice"))
	c = h.attach("me")
	c.take()
	c.send("PRIVMSG &xmpp :omemo")
	c.expectContains(fmt.Sprintf(":xircd!xircd@irc.test PRIVMSG &xmpp :alice: on; messages go encrypted; devices: %d (session)", alice.dev.DeviceID))
	c.send("PRIVMSG alice :after")
	h.expectOMEMOCalls("devices ") // the server has the unchanged bundle
	sent := sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("%d messages sent after the restart", len(sent))
	}
	if text, preKey := alice.read(sent[0]); text != "after" || !preKey {
		t.Errorf("after the restart: %q (pre-key %v), want the same session's pre-key message", text, preKey)
	}
}

// A device list of the account pushed without xircd's device (another
// client republished it) gets xircd's device back; the other devices
// stay.
func TestOMEMOOwnListRepublished(t *testing.T) {
	h, _ := omemoOnline(t, t.TempDir())
	own := h.b.omemo.dev.DeviceID
	h.event(xmpp.OMEMODeviceList{JID: "me@example.org", Devices: []uint32{77}})
	h.expectOMEMOCalls(fmt.Sprintf("publish devices [77 %d]", own), "bundle me@example.org 77")
	h.event(xmpp.OMEMODeviceList{JID: "me@example.org", Devices: []uint32{77, own}})
	h.expectOMEMOCalls()
}

// "omemo" shows the device and the contacts' modes; a wrong subcommand
// or a missing nick gets the usage, an unknown nick says so.
func TestOMEMOCommand(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	c.send("PRIVMSG &xmpp :omemo")
	c.expect(":me!user@localhost PRIVMSG &xmpp omemo",
		fmt.Sprintf(":xircd!xircd@irc.test PRIVMSG &xmpp :xircd's OMEMO device %d has the fingerprint %s", h.b.omemo.dev.DeviceID, groupedFingerprint(h.b.omemo.dev.Identity.Public)),
		":xircd!xircd@irc.test PRIVMSG &xmpp :Your other OMEMO devices: none known.",
		`:xircd!xircd@irc.test PRIVMSG &xmpp :No contact has OMEMO devices known or a mode set; each is "auto".`)
	c.send("PRIVMSG &xmpp :omemo off")
	c.expectContains(":xircd!xircd@irc.test PRIVMSG &xmpp :Usage: omemo off NICK")
	c.send("PRIVMSG &xmpp :omemo sideways alice")
	c.expectContains(`:xircd!xircd@irc.test PRIVMSG &xmpp :Unknown subcommand "sideways". Subcommands of omemo: auto, fingerprints, off, on, trust, untrust. Type "help omemo" for details.`)
	c.send("PRIVMSG &xmpp :omemo on nobody")
	c.expectContains(":xircd!xircd@irc.test PRIVMSG &xmpp :No contact nobody.")
	c.send("PRIVMSG &xmpp :omemo off alice")
	c.take()
	c.send("PRIVMSG &xmpp :omemo")
	c.expectContains(":xircd!xircd@irc.test PRIVMSG &xmpp :alice: off; messages go unencrypted; devices not known yet")
	h.stop()
	st, err := loadState(h.b.cfg.StateDir)
	if err != nil || st.OMEMO["alice@example.org"] != omemoOff {
		t.Fatalf("modes kept: %v, %v", st.OMEMO, err)
	}
}

// A message to encrypt while XMPP is down waits, the user told, and goes
// encrypted once connected and the keys are there.
func TestOMEMOSendWhileDisconnected(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	alice := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", alice.dev.DeviceID)
	h.x.holdAnswers = true
	c.send("PRIVMSG &xmpp :omemo on alice")
	h.x.takeAnswers() // lost with the stream
	h.x.setConnected(false)
	h.event(xmpp.Disconnected{})
	c.take()
	c.send("PRIVMSG alice :while away")
	c.expect(":me!user@localhost PRIVMSG alice :🔒 while away",
		`:alice!alice@example.org NOTICE me :[xircd] XMPP is not connected; message waiting (1 for alice), it will be encrypted and sent on reconnect: "while away"`)
	h.x.holdAnswers = false
	h.x.setConnected(true)
	h.connect(item("alice@example.org", "alice"))
	h.barrier()
	sent := sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("%d messages sent after the reconnect", len(sent))
	}
	if text, _ := alice.read(sent[0]); text != "while away" {
		t.Fatalf("read %q", text)
	}
}

// A device that starts a session with xircd (its pre-key message) while
// xircd is fetching its bundle keeps that session: the bundle, come
// later, does not replace it, or the device's next messages, still
// pre-key messages of its own session, could not be read.
func TestOMEMOBundleAfterTheDeviceStartedASession(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	laptop := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", laptop.dev.DeviceID)
	h.x.mu.Lock()
	h.x.holdAnswers = true
	h.x.mu.Unlock()
	h.event(xmpp.OMEMODeviceList{JID: "alice@example.org", Devices: []uint32{laptop.dev.DeviceID}})
	h.expectOMEMOCalls(fmt.Sprintf("bundle alice@example.org %d", laptop.dev.DeviceID))
	s, err := omemo.InitiateSession(rand.Reader, laptop.dev, ownKeys(t, h).Bundle())
	if err != nil {
		t.Fatal(err)
	}
	laptop.session = s
	h.event(laptop.reply(h, "first"))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 first")
	h.x.mu.Lock()
	h.x.holdAnswers = false
	h.x.mu.Unlock()
	for _, ev := range h.x.takeAnswers() {
		h.event(ev)
	}
	h.event(laptop.reply(h, "second"))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 second")
}

// A contact's new device list is saved by the file writer: a slow disk
// holds up no message meanwhile, and the list is on disk once the
// session ends.
func TestOMEMODeviceListSavedBesideTheOwner(t *testing.T) {
	dir := t.TempDir()
	h, c := omemoOnline(t, dir)
	h.b.files.flush() // no worker reads writeFile while it is replaced
	release := make(chan struct{})
	var releaseOnce sync.Once
	released := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(released) // before the harness stops, should the test fail
	writing := make(chan string, 1)
	h.b.files.writeFile = func(path string, data []byte) error {
		if filepath.Base(path) == omemoDevicesFileName {
			writing <- path
			<-release // a disk that takes its time
		}
		return writeFileAtomic(path, data)
	}
	h.event(xmpp.OMEMODeviceList{JID: "alice@example.org", Devices: []uint32{5}})
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "hi"})
	c.expectContains(":alice!alice@example.org PRIVMSG me hi")
	select {
	case <-writing:
	case <-time.After(waitTimeout):
		t.Error("the device lists were not given to the file writer")
	}
	released()
	h.stop()
	o := loadOMEMOOut(dir, t.Logf)
	if l := o.lists["alice@example.org"]; l == nil || !slices.Equal(l.ids, []uint32{5}) {
		t.Fatalf("saved device list of alice: %+v, want [5]", l)
	}
}
