package bridge

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"xircd/xmpp/omemo"
)

// expectKeysOutOfMemory checks that the device in memory holds none of
// the keys its store keeps for when they are needed.
func expectKeysOutOfMemory(t *testing.T, h *harness, when string) {
	t.Helper()
	if dev := h.b.omemo.dev; len(dev.PreKeys) != 0 || len(dev.PreviousSignedPreKeys) != 0 {
		t.Fatalf("%s: %d one-time and %d replaced signed pre-keys in memory, want none", when, len(dev.PreKeys), len(dev.PreviousSignedPreKeys))
	}
}

// withPreKey is b with only its i-th one-time pre-key, so that a session
// started from it uses that one.
func withPreKey(b omemo.Bundle, i int) omemo.Bundle {
	b.PreKeys = b.PreKeys[i : i+1]
	return b
}

// The one-time pre-keys stay in the store, not in memory: a pre-key
// message finds its key there, and the key is gone afterwards, for a
// pre-key message that comes while the store's write is still queued as
// after a restart.
func TestOMEMOPreKeysReadFromStore(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d]", h.b.omemo.dev.DeviceID), fmt.Sprintf("publish bundle %d", h.b.omemo.dev.DeviceID))
	expectKeysOutOfMemory(t, h, "after login")
	published := h.x.omemoBundle
	if len(published.PreKeys) != omemo.PreKeyCount {
		t.Fatalf("bundle published with %d one-time pre-keys, want %d", len(published.PreKeys), omemo.PreKeyCount)
	}
	c := h.attach("me")
	c.take()

	release := make(chan struct{})
	var releaseOnce sync.Once
	released := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(released)
	h.b.files.flush() // the login's state is written: the writer is idle
	h.b.files.writeFile = func(path string, data []byte) error {
		<-release // the store's write stays queued meanwhile
		return writeFileAtomic(path, data)
	}
	first := startedFrom(t, "alice@example.org", withPreKey(published, 0))
	h.event(first.message(first.encrypt("first", first.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 first")
	expectKeysOutOfMemory(t, h, "after a pre-key message")
	usedAgain := fmt.Sprintf("which xircd cannot read (omemo: pre-key message for unknown or used pre-key %d)", published.PreKeys[0].ID)
	again := startedFrom(t, "alice@example.org", withPreKey(published, 0))
	h.event(again.message(again.encrypt("the same pre-key", again.to)))
	if lines := c.take(); !hasLine(lines, usedAgain) {
		t.Fatalf("a used pre-key while its removal is queued: %q", lines)
	}
	second := startedFrom(t, "alice@example.org", withPreKey(published, 1))
	h.event(second.message(second.encrypt("second", second.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 second")
	released()
	h.stop()

	stored := storedDevice(t, h, dir)
	for _, used := range published.PreKeys[:2] {
		if slices.ContainsFunc(stored.PreKeys, func(pk omemo.PreKey) bool { return pk.ID == used.ID }) {
			t.Errorf("used pre-key %d still in the store", used.ID)
		}
	}
	if len(stored.PreKeys) != omemo.PreKeyCount {
		t.Errorf("%d one-time pre-keys in the store, want %d", len(stored.PreKeys), omemo.PreKeyCount)
	}

	h = newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	expectKeysOutOfMemory(t, h, "after a restart")
	c = h.attach("me")
	c.take()
	late := startedFrom(t, "alice@example.org", withPreKey(published, 0))
	h.event(late.message(late.encrypt("after a restart", late.to)))
	if lines := c.take(); !hasLine(lines, usedAgain) {
		t.Fatalf("a used pre-key after a restart: %q", lines)
	}
	third := startedFrom(t, "alice@example.org", withPreKey(published, 2))
	h.event(third.message(third.encrypt("third", third.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 third")
}

// A contact's client sends pre-key messages until it hears back: those
// after the first continue its session and need no key of the store.
func TestOMEMOPreKeyMessageOfASessionReadsNoStore(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me")
	c.take()
	alice := newContactDevice(t, h, "alice@example.org")
	h.event(alice.message(alice.encrypt("first", alice.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 first")
	h.b.files.flush()
	if err := os.Rename(filepath.Join(dir, omemoFileName), filepath.Join(dir, "elsewhere")); err != nil {
		t.Fatal(err)
	}
	h.event(alice.message(alice.encrypt("still a pre-key message", alice.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 still a pre-key message")
}
