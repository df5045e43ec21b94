package bridge

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// command sends a control command in &xmpp and returns the lines shown.
func (c *ircClient) command(text string) []string {
	c.t.Helper()
	c.send("PRIVMSG &xmpp :" + text)
	return c.take()
}

// fingerprintOf is the fingerprint of a contact's device as the user
// types it: in groups, in capitals.
func fingerprintOf(d *contactDevice) string {
	return strings.ToUpper(groupedFingerprint(d.dev.Identity.Public))
}

// hasLine reports whether a line of lines contains all of parts.
func hasLine(lines []string, parts ...string) bool {
	return slices.ContainsFunc(lines, func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	})
}

// Blind trust before verification through the commands: alice's first
// device is used blindly; the user lists and trusts its fingerprint;
// her second device then starts untrusted, its messages marked with a
// notice (once) until the user trusts it. Trust survives a restart;
// untrusting marks a device's messages again.
func TestOMEMOTrustCommands(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	const service = ":xircd!xircd@irc.test PRIVMSG &xmpp :"

	lines := c.command("omemo fingerprints alice")
	if !hasLine(lines, "No other OMEMO device of alice@example.org is known yet") {
		t.Fatalf("fingerprints of nobody known: %q", lines)
	}

	phone := newContactDevice(t, h, "alice@example.org")
	h.event(phone.message(phone.encrypt("from the phone", phone.to)))
	if lines := c.take(); len(lines) != 1 || lines[0] != ":alice!alice@example.org PRIVMSG me :🔒 from the phone" {
		t.Fatalf("a blindly trusted device's message shows %q", lines)
	}

	lines = c.command("omemo fingerprints alice")
	want := []string{
		service + "alice@example.org: you have trusted no fingerprint of this account yet, so its devices are trusted blindly.",
		fmt.Sprintf(service+"alice's device %d: %s — trusted blindly (not verified)", phone.dev.DeviceID, groupedFingerprint(phone.dev.Identity.Public)),
		service + "After comparing a fingerprint with its owner's: omemo trust alice FINGERPRINT (or omemo untrust alice FINGERPRINT).",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("fingerprints:\n\t%s\nwant:\n\t%s", strings.Join(lines, "\n\t"), strings.Join(want, "\n\t"))
	}

	c.send("PRIVMSG &xmpp :omemo trust alice " + fingerprintOf(phone))
	c.expect(fmt.Sprintf(service+"alice's device %d is now trusted; new devices of alice@example.org are untrusted until you trust them.", phone.dev.DeviceID))

	laptop := newContactDevice(t, h, "alice@example.org")
	h.event(laptop.message(laptop.encrypt("from the laptop", laptop.to)))
	lines = c.take()
	if len(lines) != 2 || !hasLine(lines, ":alice!alice@example.org PRIVMSG me :⚠🔒 from the laptop") ||
		!hasLine(lines, "NOTICE &xmpp :OMEMO: alice's new device", "is untrusted", "omemo trust alice "+groupedFingerprint(laptop.dev.Identity.Public)) {
		t.Fatalf("an untrusted device's first message shows %q; want it marked, and a notice telling how to trust it", lines)
	}
	h.event(laptop.message(laptop.encrypt("/me again", laptop.to)))
	if lines := c.take(); !slices.Equal(lines, []string{":alice!alice@example.org PRIVMSG me :\x01ACTION ⚠🔒 again\x01"}) {
		t.Fatalf("an untrusted device's second message shows %q; want it marked, without a second notice", lines)
	}
	h.event(phone.message(phone.encrypt("still the phone", phone.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 still the phone")

	lines = c.command("omemo fingerprints alice")
	if !hasLine(lines, "you trusted a fingerprint of this account, so its new devices are untrusted until you trust them") ||
		!hasLine(lines, fmt.Sprintf("device %d: %s — trusted (verified by you)", phone.dev.DeviceID, groupedFingerprint(phone.dev.Identity.Public))) ||
		!hasLine(lines, fmt.Sprintf("device %d: %s — UNTRUSTED", laptop.dev.DeviceID, groupedFingerprint(laptop.dev.Identity.Public))) {
		t.Fatalf("fingerprints after a verification: %q", lines)
	}

	c.send("PRIVMSG &xmpp :omemo trust alice " + strings.ReplaceAll(fingerprintOf(laptop), " ", ""))
	c.expect(fmt.Sprintf(service+"alice's device %d is now trusted; new devices of alice@example.org are untrusted until you trust them.", laptop.dev.DeviceID))
	h.event(laptop.message(laptop.encrypt("trusted now", laptop.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 trusted now")
	if fi, err := os.Stat(filepath.Join(dir, omemoTrustFileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("trust store %v, %v; want mode 0600", fi, err)
	}
	h.stop()

	// After a restart: what was trusted holds, a third device starts
	// untrusted, and untrusting the phone marks its messages again.
	h = newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	c = h.attach("me")
	c.take()
	h.event(laptop.message(laptop.encrypt("after a restart", laptop.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 after a restart")
	tablet := newContactDevice(t, h, "alice@example.org")
	h.event(tablet.message(tablet.encrypt("from the tablet", tablet.to)))
	if lines := c.take(); !hasLine(lines, "PRIVMSG me :⚠🔒 from the tablet") {
		t.Fatalf("a new device after a restart shows %q", lines)
	}
	c.send("PRIVMSG &xmpp :omemo untrust alice " + fingerprintOf(phone))
	c.expect(fmt.Sprintf(service+"alice's device %d is now untrusted: nothing is encrypted to it and its messages are marked ⚠🔒.", phone.dev.DeviceID))
	h.event(phone.message(phone.encrypt("untrusted phone", phone.to)))
	if lines := c.take(); !slices.Equal(lines, []string{":alice!alice@example.org PRIVMSG me :⚠🔒 untrusted phone"}) {
		t.Fatalf("an untrusted device's message after untrust shows %q; want it marked (the user knows why)", lines)
	}
}

// What the trust commands answer to bad input.
func TestOMEMOTrustCommandErrors(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	const service = ":xircd!xircd@irc.test PRIVMSG &xmpp :"
	phone := newContactDevice(t, h, "alice@example.org")
	h.event(phone.message(phone.encrypt("hi", phone.to)))
	c.take()
	other := omemo.Fingerprint(testKey(7))
	for _, tc := range []struct{ command, want string }{
		{"omemo trust alice", service + "Usage: omemo trust NICK FINGERPRINT"},
		{"omemo untrust", service + "Usage: omemo untrust NICK FINGERPRINT"},
		{"omemo fingerprints alice bob", service + "Usage: omemo fingerprints [NICK]"},
		{"omemo trust alice 1234", service + "\"1234\" is not a fingerprint: 64 hexadecimal digits (spaces or dashes between them allowed), as \"omemo fingerprints alice\" shows them."},
		{"omemo trust alice " + other, service + "No device of alice@example.org has the fingerprint " + other + "; \"omemo fingerprints alice\" lists the known ones."},
		{"omemo untrust bob " + other, service + "No contact \"bob\"."},
		{"omemo fingerprints bob", service + "No contact \"bob\"."},
	} {
		if lines := c.command(tc.command); !slices.Equal(lines, []string{tc.want}) {
			t.Errorf("%q answers %q; want %q", tc.command, lines, tc.want)
		}
	}

	h = newHarness(t, Config{})
	c = h.attach("me")
	c.take()
	if lines := c.command("omemo fingerprints alice"); !slices.Equal(lines, []string{service + "xircd has no OMEMO device: it needs a state directory (bridge.state_dir) to keep its keys."}) {
		t.Errorf("without a device: %q", lines)
	}
}

// A device that comes back with another identity key is never accepted
// silently: the user is told in &xmpp, and its messages are marked until
// the user trusts the new key. This holds before any verification too.
func TestOMEMOIdentityKeyChange(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	phone := newContactDevice(t, h, "alice@example.org")
	h.event(phone.message(phone.encrypt("the real alice", phone.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 the real alice")

	impostor := newContactDevice(t, h, "alice@example.org")
	impostor.dev.DeviceID = phone.dev.DeviceID
	h.event(impostor.message(impostor.encrypt("trust me", impostor.to)))
	lines := c.take()
	fp := groupedFingerprint(impostor.dev.Identity.Public)
	if len(lines) != 2 || !hasLine(lines, "PRIVMSG me :⚠🔒 trust me") ||
		!hasLine(lines, fmt.Sprintf("NOTICE &xmpp :OMEMO: alice's device %d has a NEW identity key, with the fingerprint %s, not the one xircd knew. xircd does not trust it", phone.dev.DeviceID, fp), "omemo trust alice "+fp) {
		t.Fatalf("a changed identity key shows %q", lines)
	}
	lines = c.command("omemo fingerprints alice")
	if !hasLine(lines, fmt.Sprintf("device %d: %s — UNTRUSTED (its identity key changed)", phone.dev.DeviceID, fp)) {
		t.Fatalf("fingerprints after a key change: %q", lines)
	}
	c.command("omemo trust alice " + fp)
	h.event(impostor.message(impostor.encrypt("trusted anew", impostor.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 trusted anew")
}

// A damaged trust store is told once connected, with what it costs, and
// replaced; the gateway runs on.
func TestOMEMOTrustStoreDamaged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, omemoTrustFileName)
	if err := os.WriteFile(path, []byte(`{"jids":{"alice@example.org":{"devices":{"1":{"state":"sure"}}}}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{StateDir: dir})
	c := h.attach("me")
	c.take()
	h.connect(item("alice@example.org", "alice"))
	lines := c.take()
	if !hasLine(lines, "NOTICE &xmpp :The OMEMO trust store (omemo-trust.json) could not be read (", "The fingerprints you had verified are forgotten") {
		t.Fatalf("no notice of the damaged trust store in %q", lines)
	}
	phone := newContactDevice(t, h, "alice@example.org")
	h.event(phone.message(phone.encrypt("hi", phone.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 hi")
	if ts, err := loadTrustStore(dir); err != nil || len(ts.JIDs) != 1 {
		t.Fatalf("trust store not rebuilt: %v", err)
	}
}

// The user's own other devices are listed with xircd's own by
// "omemo fingerprints" alone, and trusted by the user's nick or JID.
func TestOMEMOOwnDevicesTrust(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	laptop := newContactDevice(t, h, "me@example.org")
	h.event(xmpp.Message{From: "me@example.org/laptop", To: "alice@example.org", Type: "chat", Carbon: xmpp.CarbonSent,
		Encryption: "OMEMO", OMEMO: laptop.encrypt("sent from my laptop", laptop.to)})
	c.expect(":me!user@localhost PRIVMSG alice :🔒 sent from my laptop")
	own := h.b.omemo.dev
	for _, command := range []string{"omemo fingerprints", "omemo fingerprints me", "omemo fingerprints me@example.org"} {
		lines := c.command(command)
		if len(lines) != 4 || !strings.HasSuffix(lines[0], fmt.Sprintf("xircd's device %d: %s (this device)", own.DeviceID, groupedFingerprint(own.Identity.Public))) ||
			!strings.HasSuffix(lines[2], fmt.Sprintf("your own device %d: %s — trusted blindly (not verified)", laptop.dev.DeviceID, groupedFingerprint(laptop.dev.Identity.Public))) {
			t.Fatalf("%q shows %q", command, lines)
		}
	}
	c.send("PRIVMSG &xmpp :omemo trust me " + fingerprintOf(laptop))
	c.expect(fmt.Sprintf(":xircd!xircd@irc.test PRIVMSG &xmpp :your own device %d is now trusted; new devices of me@example.org are untrusted until you trust them.", laptop.dev.DeviceID))
}

// omemoMayEncryptTo, which outgoing encryption asks about each device,
// follows the policy: blind trust, then only what the user trusted, and
// never a changed key.
func TestOMEMOMayEncryptTo(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	// Between barriers the owner goroutine waits, so the test may act as
	// it: the barriers order its work before and after.
	ask := func(device uint32, key byte) bool {
		h.barrier()
		defer h.barrier()
		return h.b.omemoMayEncryptTo("alice@example.org", device, testKey(key))
	}
	if !ask(1, 1) || !ask(2, 2) {
		t.Fatal("devices refused before any verification")
	}
	c.command("omemo trust alice " + omemo.Fingerprint(testKey(1)))
	if !ask(1, 1) || !ask(2, 2) || ask(3, 3) || ask(1, 9) {
		t.Fatal("after a verification: want 1 and 2 (met before) used, 3 (new) and 1 with a new key refused")
	}
	if lines := c.take(); !hasLine(lines, "OMEMO: alice's new device 3, with the fingerprint", "is untrusted") || !hasLine(lines, "OMEMO: alice's device 1 has a NEW identity key") {
		t.Fatalf("what the user was told: %q", lines)
	}
}

// "omemo" alone sums up the trust store; "help omemo" explains each
// trust subcommand and the policy.
func TestOMEMOCommandStatusAndHelp(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	phone := newContactDevice(t, h, "alice@example.org")
	h.event(phone.message(phone.encrypt("hi", phone.to)))
	c.take()
	const service = ":xircd!xircd@irc.test PRIVMSG &xmpp :"
	if lines := c.command("omemo"); !slices.Contains(lines, service+"OMEMO devices known: 1 (of 1 accounts), untrusted: 0. \"omemo fingerprints NICK\" lists a contact's.") {
		t.Fatalf("omemo shows %q", lines)
	}
	lines := c.command("help omemo")
	for _, want := range []string{
		"omemo fingerprints [NICK] — Lists NICK's OMEMO devices with their fingerprints and trust; without NICK (or with your own nick), your other devices.",
		"omemo trust NICK FINGERPRINT — Trusts NICK's device with that fingerprint (spaces, dashes and case do not matter), after you compared it with NICK's.",
		"omemo untrust NICK FINGERPRINT — Stops trusting NICK's device with that fingerprint: nothing is encrypted to it, its messages are marked ⚠🔒.",
		"New devices of a contact are trusted blindly until you trust one of the contact's fingerprints",
	} {
		if !hasLine(lines, want) {
			t.Errorf("help omemo lacks %q:\n\t%s", want, strings.Join(lines, "\n\t"))
		}
	}
}

// When alice has as many devices as the store keeps, all trusted, a new
// one is not kept: it is untrusted, and told once, not at every message.
func TestOMEMOTrustStoreFullOfTrustedDevices(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	h.barrier() // the owner goroutine waits: the test may fill the store
	store := h.b.omemoTrust.store
	for id := uint32(1); id <= maxTrustDevices; id++ {
		store.observe("alice@example.org", id, testKey(byte(id)))
		store.setTrust("alice@example.org", omemo.Fingerprint(testKey(byte(id))), trustVerified)
	}
	phone := newContactDevice(t, h, "alice@example.org")
	h.event(phone.message(phone.encrypt("one", phone.to)))
	h.event(phone.message(phone.encrypt("two", phone.to)))
	lines := c.take()
	want := []string{
		fmt.Sprintf(":xircd!xircd@irc.test NOTICE &xmpp :OMEMO: alice's device %d (fingerprint %s) is not trusted: xircd keeps 64 devices per account and you trust all of them: nothing is encrypted to it and its messages are marked ⚠🔒.",
			phone.dev.DeviceID, groupedFingerprint(phone.dev.Identity.Public)),
		":alice!alice@example.org PRIVMSG me :⚠🔒 one",
		":alice!alice@example.org PRIVMSG me :⚠🔒 two",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("a device beyond the bound shows:\n\t%s\nwant:\n\t%s", strings.Join(lines, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// A message from an untrusted device keeps its warning when CHATHISTORY
// shows it again.
func TestOMEMOUntrustedInHistory(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.connect(item("alice@example.org", "Alice"))
	c := h.attach("me")
	c.take()
	phone := newContactDevice(t, h, "alice@example.org")
	h.event(phone.message(phone.encrypt("hi", phone.to)))
	c.command("omemo trust Alice " + omemo.Fingerprint(phone.dev.Identity.Public))
	laptop := newContactDevice(t, h, "alice@example.org")
	live := laptop.message(laptop.encrypt("from the laptop", laptop.to))
	live.StanzaID = "s1"
	h.event(live)
	if lines := c.take(); !hasLine(lines, ":Alice!alice@example.org PRIVMSG me :⚠🔒 from the laptop") {
		t.Fatalf("live: %q", lines)
	}
	h.x.mu.Lock()
	h.x.archive = []xmpp.Message{archived(live, "s1", minutes(1))}
	h.x.mu.Unlock()
	c.send("CHATHISTORY LATEST Alice * 10")
	if lines := c.take(); !hasLine(lines, "PRIVMSG me :"+timestampPrefix(minutes(0))+"⚠🔒 from the laptop") || hasLine(lines, "PRIVMSG me :"+timestampPrefix(minutes(0))+"🔒 from the laptop") {
		t.Fatalf("CHATHISTORY shows %q", lines)
	}
}
