package bridge

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// archived is m as the archive gives it back: with its archive id and
// time.
func archived(m xmpp.Message, id string, at time.Time) xmpp.Message {
	m.StanzaID, m.Delay = id, at
	return m
}

// A message decrypted live shows its text again in CHATHISTORY (its key
// is used up: it could not be decrypted twice); after a restart, which
// keeps no decrypted text, it is said to have been read live. No
// plaintext is ever written to state_dir.
func TestOMEMOHistoryOfDecryptedMessages(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	alice := newContactDevice(t, h, "alice@example.org")
	live := alice.message(alice.encrypt("the secret plan", alice.to))
	live.StanzaID = "s1"
	h.event(live)
	c.expect(":Alice!alice@example.org PRIVMSG me :🔒 the secret plan")

	h.x.mu.Lock()
	h.x.archive = []xmpp.Message{archived(live, "s1", minutes(1))}
	h.x.mu.Unlock()
	c.send("CHATHISTORY LATEST Alice * 10")
	c.expect(":Alice!alice@example.org PRIVMSG me :" + timestampPrefix(minutes(0)) + "🔒 the secret plan") // when it showed live
	h.stop()

	h = newHarness(t, Config{StateDir: dir})
	h.x.archive = []xmpp.Message{archived(live, "s1", minutes(1))}
	h.connect(item("alice@example.org", "Alice"))
	c = h.attach("me")
	c.take()
	c.send("CHATHISTORY LATEST Alice * 10")
	c.expect(":Alice!alice@example.org PRIVMSG me :\x01ACTION " + timestampPrefix(minutes(1)) + "sent an OMEMO-encrypted message (read live on this device, not kept: xircd does not store decrypted text)\x01")
	h.stop()

	files, _ := os.ReadDir(dir)
	for _, f := range files {
		data, _ := os.ReadFile(filepath.Join(dir, f.Name()))
		if bytes.Contains(data, []byte("secret plan")) {
			t.Errorf("plaintext in %s", f.Name())
		}
	}
}

// What arrived while xircd was not running is decrypted by the start-up
// catch-up, in archive order, advancing the sessions as live messages
// would: the next live message is read too.
func TestOMEMOCatchUpDecrypts(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"))
	alice := newContactDevice(t, h, "alice@example.org")
	first := alice.message(alice.encrypt("before the restart", alice.to))
	first.StanzaID = "s1"
	h.event(first)
	h.stop()

	h = newHarness(t, Config{StateDir: dir})
	h.x.archive = []xmpp.Message{
		archived(first, "s1", minutes(1)),
		archived(alice.message(alice.encrypt("while you were away", alice.to)), "s2", minutes(2)),
		archived(alice.message(alice.encrypt("and again", alice.to)), "s3", minutes(3)),
	}
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	got := strings.Join(c.take(), "\n")
	for _, want := range []string{"🔒 while you were away", "🔒 and again"} {
		if !strings.Contains(got, want) {
			t.Errorf("catch-up without %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "cannot read") || strings.Contains(got, "before the restart") {
		t.Errorf("catch-up shows:\n%s", got)
	}
	h.event(alice.message(alice.encrypt("live again", alice.to)))
	c.expect(":Alice!alice@example.org PRIVMSG me :🔒 live again")
}

// A room's history after a rejoin repeats the messages already shown:
// decrypted from what xircd kept, it is recognised and not shown again
// (nor as a message xircd cannot read). The room's archive shows it with
// its text even once its sender left, when xircd no longer knows their
// real JID.
func TestOMEMORoomHistoryRepeat(t *testing.T) {
	h, c := omemoRoom(t)
	alice := newContactDevice(t, h, "alice@example.org")
	m := roomMessage("alice", alice.encrypt("said once", alice.to))
	m.StanzaID = "r1"
	h.event(m)
	c.expect(":Alice!alice@example.org PRIVMSG #room :🔒 said once")
	m.Delay = h.b.now().Add(-time.Second)
	h.event(m)
	c.expect()

	h.event(xmpp.Presence{From: roomJID + "/alice", Type: "unavailable", MUC: &xmpp.MUCPresence{Affiliation: "owner", Role: "none"}})
	c.take()
	h.x.mu.Lock()
	h.x.archive = []xmpp.Message{archived(m, "r1", minutes(1))}
	h.x.mu.Unlock()
	c.send("CHATHISTORY LATEST #room * 10")
	c.expect(":alice_2!room@conference.example.org PRIVMSG #room :" + timestampPrefix(minutes(0)) + "🔒 said once")
}

// A key transport element (no payload) sets up or advances a session and
// shows nothing; the same again shows nothing either.
func TestOMEMOKeyTransport(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	alice := newContactDevice(t, h, "alice@example.org")
	data, preKey, err := alice.session.Encrypt(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	x, err := omemo.MarshalEncrypted(omemo.Encrypted{SenderDeviceID: alice.dev.DeviceID, IV: make([]byte, 12),
		Keys: []omemo.RecipientKey{{DeviceID: alice.to, PreKey: preKey, Data: data}}})
	if err != nil {
		t.Fatal(err)
	}
	h.event(alice.message(x))
	h.event(alice.message(x))
	c.expect()
	if _, ok := h.b.omemo.sessions[sessionKey("alice@example.org", alice.dev.DeviceID)]; !ok {
		t.Error("no session from the key transport")
	}
	h.event(alice.message(alice.encrypt("after the key transport", alice.to)))
	c.expect(":Alice!alice@example.org PRIVMSG me :🔒 after the key transport")
}

// withKey returns element with the key for device to changed by change.
func withKey(t *testing.T, element []byte, to uint32, change func([]byte) []byte) []byte {
	t.Helper()
	e, err := omemo.UnmarshalEncrypted(element)
	if err != nil {
		t.Fatal(err)
	}
	for i := range e.Keys {
		if e.Keys[i].DeviceID == to {
			e.Keys[i].Data = change(slices.Clone(e.Keys[i].Data))
		}
	}
	x, err := omemo.MarshalEncrypted(e)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// A forged or truncated key is a notice, never text; the session is left
// as it was, and the genuine message still reads.
func TestOMEMOForgedKeys(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	alice := newContactDevice(t, h, "alice@example.org")
	h.event(alice.message(alice.encrypt("session started", alice.to)))
	c.take()
	genuine := alice.encrypt("genuine", alice.to)
	for name, change := range map[string]func([]byte) []byte{
		"flipped": func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		"mac":     func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"halved":  func(b []byte) []byte { return b[:len(b)/2] },
		"empty":   func(b []byte) []byte { return b[:1] },
	} {
		h.event(alice.message(withKey(t, genuine, alice.to, change)))
		lines := c.take()
		if len(lines) != 1 || !strings.Contains(lines[0], "which xircd cannot read (") || strings.Contains(lines[0], "genuine") {
			t.Errorf("a %s key shows %q", name, lines)
		}
	}
	h.event(alice.message(genuine))
	c.expect(":Alice!alice@example.org PRIVMSG me :🔒 genuine")
}

// A pre-key message for a signed pre-key or a one-time pre-key xircd
// does not have is a notice; it starts no session and uses no pre-key.
func TestOMEMOBadPreKeyMessages(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	for _, tc := range []struct {
		name   string
		change func(*omemo.Bundle)
		why    string
	}{
		{"signed pre-key", func(b *omemo.Bundle) { b.SignedPreKeyID++ }, "omemo: pre-key message for unknown signed pre-key"},
		{"one-time pre-key", func(b *omemo.Bundle) { b.PreKeys = []omemo.BundlePreKey{{ID: 1 << 30, Key: b.PreKeys[0].Key}} }, "omemo: pre-key message for unknown or used pre-key"},
	} {
		dev, err := omemo.NewDevice(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		bundle := ownKeys(t, h).Bundle()
		tc.change(&bundle)
		s, err := omemo.InitiateSession(rand.Reader, dev, bundle)
		if err != nil {
			t.Fatal(err)
		}
		alice := &contactDevice{t: t, jid: "alice@example.org", dev: dev, session: s, to: h.b.omemo.dev.DeviceID}
		preKeys := len(ownKeys(t, h).PreKeys)
		h.event(alice.message(alice.encrypt("through a bad door", alice.to)))
		lines := c.take()
		if len(lines) != 1 || !strings.Contains(lines[0], "which xircd cannot read ("+tc.why) {
			t.Errorf("an unknown %s: %q", tc.name, lines)
		}
		if _, ok := h.b.omemo.sessions[sessionKey(alice.jid, dev.DeviceID)]; ok || len(ownKeys(t, h).PreKeys) != preKeys {
			t.Errorf("an unknown %s started a session or used a pre-key", tc.name)
		}
	}
}

// A flood of pre-key messages from invented devices starts at most
// maxOMEMOSessionsPerContact sessions per contact and maxOMEMOSessions in
// all; past them, messages from new devices are notices, xircd's
// pre-keys are untouched, and known devices still read.
func TestOMEMOSessionBounds(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	var first *contactDevice
	for i := range maxOMEMOSessionsPerContact {
		d := newContactDevice(t, h, "mallory@example.net")
		h.event(xmpp.Message{From: "mallory@example.net/x", Type: "chat", Encryption: "OMEMO", OMEMO: d.encrypt(fmt.Sprint("device ", i), d.to)})
		if first == nil {
			first = d
		}
	}
	c.take()
	one := newContactDevice(t, h, "mallory@example.net")
	preKeys := slices.Clone(ownKeys(t, h).PreKeys)
	h.event(xmpp.Message{From: "mallory@example.net/x", Type: "chat", Encryption: "OMEMO", OMEMO: one.encrypt("one too many", one.to)})
	lines := c.take()
	if len(lines) != 1 || !strings.Contains(lines[0], fmt.Sprintf("which xircd cannot read (xircd keeps at most %d OMEMO sessions per contact and has them with mallory@example.net", maxOMEMOSessionsPerContact)) {
		t.Errorf("one device too many: %q", lines)
	}
	if !slices.Equal(preKeys, ownKeys(t, h).PreKeys) {
		t.Error("a refused pre-key message used a pre-key")
	}
	h.event(xmpp.Message{From: "mallory@example.net/x", Type: "chat", Encryption: "OMEMO", OMEMO: first.encrypt("known device", first.to)})
	lines = c.take()
	if len(lines) != 1 || !strings.HasSuffix(lines[0], "🔒 known device") {
		t.Errorf("a known device past the bound: %q", lines)
	}

	// Strangers share maxOMEMOStrangerSessions: past it, a stranger's new
	// device is refused and a contact's is not.
	for i := len(h.b.omemo.sessions); i < maxOMEMOStrangerSessions; i++ {
		h.b.omemo.sessions[sessionKey(fmt.Sprintf("c%d@example.net", i), 1)] = first.session
	}
	eve := newContactDevice(t, h, "eve@example.net")
	h.event(xmpp.Message{From: "eve@example.net/x", Type: "chat", Encryption: "OMEMO", OMEMO: eve.encrypt("a stranger too many", eve.to)})
	lines = c.take()
	if len(lines) != 1 || !strings.Contains(lines[0], fmt.Sprintf("which xircd cannot read (xircd keeps at most %d OMEMO sessions with people outside your contacts and has them", maxOMEMOStrangerSessions)) {
		t.Errorf("a stranger past the strangers' bound: %q", lines)
	}
	alice := newContactDevice(t, h, "alice@example.org")
	h.event(alice.message(alice.encrypt("a contact still fits", alice.to)))
	c.expect(":Alice!alice@example.org PRIVMSG me :🔒 a contact still fits")

	// The bound for all: the sessions are filled up with others.
	for i := len(h.b.omemo.sessions); i < maxOMEMOSessions; i++ {
		h.b.omemo.sessions[sessionKey(fmt.Sprintf("c%d@example.org", i), 1)] = first.session
	}
	phone := newContactDevice(t, h, "alice@example.org")
	h.event(phone.message(phone.encrypt("no room left", phone.to)))
	c.expect(fmt.Sprintf(":Alice!alice@example.org PRIVMSG me :\x01ACTION sent an OMEMO-encrypted message, which xircd cannot read (xircd keeps at most %d OMEMO sessions and has them: it starts no new one); read it on another client\x01", maxOMEMOSessions))
}

// A stranger's message that the strangers setting does not show is not
// decrypted: it starts no session and uses no pre-key.
func TestOMEMOStrangerNotShownNotDecrypted(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir(), Strangers: strangersIgnore})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	mallory := newContactDevice(t, h, "mallory@example.net")
	preKeys := slices.Clone(ownKeys(t, h).PreKeys)
	h.event(xmpp.Message{From: "mallory@example.net/x", Type: "chat", Encryption: "OMEMO", OMEMO: mallory.encrypt("let me in", mallory.to)})
	c.expect()
	if len(h.b.omemo.sessions) != 0 || !slices.Equal(preKeys, ownKeys(t, h).PreKeys) {
		t.Errorf("an ignored stranger's message started a session or used a pre-key")
	}
}

// A named client that was away catches up from the archive: the OMEMO
// messages xircd decrypted meanwhile show with their text, not as
// messages it cannot read.
func TestOMEMONamedClientCatchUp(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "Alice"))
	laptop := h.attachUser("me", "me@laptop")
	phone := h.attachUser("me", "me@phone")
	alice := newContactDevice(t, h, "alice@example.org")
	seen := alice.message(alice.encrypt("seen by both", alice.to))
	seen.StanzaID = "s1"
	h.event(seen)
	laptop.detach()
	missed := alice.message(alice.encrypt("missed by the laptop", alice.to))
	missed.StanzaID = "s2"
	h.event(missed)
	phone.take()

	h.x.archive = []xmpp.Message{archived(seen, "s1", fixedNow), archived(missed, "s2", fixedNow)}
	laptop = h.attachUser("me", "me@laptop")
	got := strings.Join(laptop.take(), "\n")
	if !strings.Contains(got, "PRIVMSG me :"+timestampPrefix(fixedNow)+"🔒 missed by the laptop") || strings.Contains(got, "OMEMO") {
		t.Errorf("the laptop's catch-up:\n%s", got)
	}
}

// A session's first message with a forged payload is a notice, but its
// session and the pre-key it used up are saved all the same.
func TestOMEMOForgedPayloadStillSaved(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	ids := func(d *omemo.Device) (out []uint32) {
		for _, pk := range d.PreKeys {
			out = append(out, pk.ID)
		}
		return out
	}
	before := ids(ownKeys(t, h))
	alice := newContactDevice(t, h, "alice@example.org")
	forged := []byte(strings.Replace(string(alice.encrypt("forged", alice.to)), "<payload>", "<payload>AAAA", 1))
	h.event(alice.message(forged))
	lines := c.take()
	if len(lines) != 1 || !strings.Contains(lines[0], "which xircd cannot read (omemo: payload") {
		t.Errorf("a forged payload shows %q", lines)
	}
	h.stop()
	saved := ids(storedDevice(t, h, dir))
	used := slices.DeleteFunc(slices.Clone(before), func(id uint32) bool { return slices.Contains(saved, id) })
	if len(saved) != omemo.PreKeyCount || len(used) != 1 {
		t.Errorf("pre-keys on disk %v, used of those before: %v", saved, used)
	}
	data, _ := os.ReadFile(filepath.Join(dir, omemoSessionsFileName))
	if !strings.Contains(string(data), sessionKey(alice.jid, alice.dev.DeviceID)) {
		t.Error("the session is not saved")
	}
}

// What the user wrote encrypted through xircd comes back from the archive
// encrypted for the contact's devices only (OMEMO gives the sender no key
// of its own): CHATHISTORY shows its text while xircd keeps it, and after
// a restart says it is not kept.
func TestOMEMOSentInHistory(t *testing.T) {
	dir := t.TempDir()
	h, c := omemoOnline(t, dir)
	alice := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", alice.dev.DeviceID)
	c.send("PRIVMSG &xmpp :omemo on alice")
	c.send("PRIVMSG alice :my own secret")
	h.barrier()
	c.take()
	sent := sentOMEMO(h)
	if len(sent) != 1 {
		t.Fatalf("sent %+v", sent)
	}
	archive := []xmpp.Message{{StanzaID: "s1", ID: sent[0].ID, OriginID: sent[0].ID, From: "me@example.org/xircd", To: "alice@example.org",
		Type: "chat", Body: xmpp.OMEMOFallback, Encryption: "OMEMO", OMEMO: sent[0].OMEMO, Delay: minutes(1)}}
	h.x.mu.Lock()
	h.x.archive = archive
	h.x.mu.Unlock()
	c.send("CHATHISTORY LATEST alice * 10")
	c.expect(":me!user@localhost PRIVMSG alice :" + timestampPrefix(minutes(0)) + "🔒 my own secret")
	// The same from someone else is not xircd's own.
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Encryption: "OMEMO", OMEMO: sent[0].OMEMO})
	c.expect(":alice!alice@example.org PRIVMSG me :\x01ACTION sent an OMEMO-encrypted message, which xircd cannot read (not encrypted for this device); read it on another client\x01")
	h.stop()

	h = newHarness(t, Config{StateDir: dir})
	h.x.archive = archive
	h.connect(item("alice@example.org", "alice"))
	c = h.attach("me")
	c.take()
	c.send("CHATHISTORY LATEST alice * 10")
	c.expect(":me!user@localhost PRIVMSG alice :\x01ACTION " + timestampPrefix(minutes(1)) + "sent an OMEMO-encrypted message from this device (not kept: xircd does not store decrypted text, and OMEMO gives the sender no key to read it again)\x01")
}

// An archived pre-key message of an older session of a device, never
// received before, is read but does not replace the session the device
// uses now: its next messages still read.
func TestOMEMOArchivedOldSession(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	bundle := ownKeys(t, h).Bundle()
	withPreKey := func(i int) omemo.Bundle {
		b := bundle
		b.PreKeys = bundle.PreKeys[i : i+1]
		return b
	}
	alice := newContactDevice(t, h, "alice@example.org")
	var err error
	if alice.session, err = omemo.InitiateSession(rand.Reader, alice.dev, withPreKey(0)); err != nil {
		t.Fatal(err)
	}
	old := alice.message(alice.encrypt("from a session never received", alice.to))
	if alice.session, err = omemo.InitiateSession(rand.Reader, alice.dev, withPreKey(1)); err != nil {
		t.Fatal(err)
	}
	h.event(alice.message(alice.encrypt("the session in use", alice.to)))
	c.expect(":Alice!alice@example.org PRIVMSG me :🔒 the session in use")

	h.x.mu.Lock()
	h.x.archive = []xmpp.Message{archived(old, "s1", minutes(-10))}
	h.x.mu.Unlock()
	c.send("CHATHISTORY LATEST Alice * 10")
	c.expect(":Alice!alice@example.org PRIVMSG me :" + timestampPrefix(minutes(-10)) + "🔒 from a session never received")
	h.event(alice.message(alice.encrypt("still in use", alice.to)))
	c.expect(":Alice!alice@example.org PRIVMSG me :🔒 still in use")
}
