package bridge

import (
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
	"time"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// rotationTimer replaces the rotation's real timer: it records the waits
// it is armed with and lets the test fire it.
type rotationTimer struct {
	waits []time.Duration
	fire  func()
}

func (r *rotationTimer) afterFunc(d time.Duration, f func()) stopper {
	r.waits = append(r.waits, d)
	r.fire = f
	return r
}

func (r *rotationTimer) Stop() bool { return true }

// expectArmed checks the wait the timer was last armed with.
func (r *rotationTimer) expectArmed(t *testing.T, want time.Duration) {
	t.Helper()
	if len(r.waits) == 0 || r.waits[len(r.waits)-1] != want {
		t.Fatalf("rotation timer armed with %v, want last %v", r.waits, want)
	}
}

// startedFrom is a contact's device with a session started from bundle b
// of xircd's, fetched at some time.
func startedFrom(t *testing.T, jid string, b omemo.Bundle) *contactDevice {
	t.Helper()
	dev, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := omemo.InitiateSession(rand.Reader, dev, b)
	if err != nil {
		t.Fatal(err)
	}
	return &contactDevice{t: t, jid: jid, dev: dev, session: s, to: b.DeviceID}
}

// xircd rotates its signed pre-key on schedule, counted from its first
// login, and republishes its bundle; a contact who fetched the bundle
// before still starts a session, until the replaced key is deleted after
// the grace period; then the message's notice says why. The schedule
// survives a restart, and a rotation while disconnected is published at
// the next login.
func TestOMEMOSignedPreKeyRotation(t *testing.T) {
	dir := t.TempDir()
	clock := fixedNow
	timer := &rotationTimer{}
	withClock := func(b *Bridge) {
		b.now = func() time.Time { return clock }
		b.omemo.rotation.afterFunc = timer.afterFunc
	}
	h := newHarness(t, Config{StateDir: dir}, withClock)
	id := h.b.omemo.dev.DeviceID
	publish := fmt.Sprintf("publish bundle %d", id)
	first := ownKeys(t, h).Bundle()
	h.connect(item("alice@example.org", "alice"))
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d]", id), publish)
	timer.expectArmed(t, omemo.SignedPreKeyRotation)
	if stored := storedDevice(t, h, dir); !stored.SignedPreKeyMade.Equal(fixedNow) {
		t.Fatalf("stored device: signed pre-key made %v, want %v", stored.SignedPreKeyMade, fixedNow)
	}
	c := h.attach("me")
	c.take()

	// A timer firing early (the clock was set back) waits for the rest.
	clock = fixedNow.Add(omemo.SignedPreKeyRotation - time.Minute)
	timer.fire()
	h.expectOMEMOCalls()
	timer.expectArmed(t, time.Minute)

	clock = fixedNow.Add(omemo.SignedPreKeyRotation)
	timer.fire()
	h.expectOMEMOCalls(publish)
	timer.expectArmed(t, omemo.SignedPreKeyRotation)
	if got := h.x.omemoBundle.SignedPreKeyID; got != first.SignedPreKeyID+1 {
		t.Fatalf("bundle republished with signed pre-key %d, want %d", got, first.SignedPreKeyID+1)
	}
	if stored := storedDevice(t, h, dir); stored.SignedPreKey.ID != first.SignedPreKeyID+1 || len(stored.PreviousSignedPreKeys) != 1 {
		t.Fatalf("stored device after the rotation: %+v", stored)
	}

	alice := startedFrom(t, "alice@example.org", first)
	h.event(alice.message(alice.encrypt("from the bundle before", alice.to)))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 from the bundle before")
	h.expectOMEMOCalls(publish) // its one-time pre-key was used

	clock = fixedNow.Add(omemo.SignedPreKeyRotation + omemo.SignedPreKeyGrace + time.Hour)
	timer.fire()
	h.expectOMEMOCalls(publish)
	late := startedFrom(t, "alice@example.org", first)
	h.event(late.message(late.encrypt("too late", late.to)))
	c.expect(fmt.Sprintf(":alice!alice@example.org PRIVMSG me :\x01ACTION sent an OMEMO-encrypted message, which xircd cannot read "+
		"(omemo: pre-key message for unknown signed pre-key %d (not made by this device, or deleted after a rotation: the sender must fetch the current bundle)); "+
		"read it on another client\x01", first.SignedPreKeyID))
	h.stop()

	rotated := clock
	clock = rotated.Add(2 * 24 * time.Hour)
	h = newHarness(t, Config{StateDir: dir}, withClock)
	spk := h.b.omemo.dev.SignedPreKey.ID
	h.x.omemoDevices = []uint32{id}
	h.connect()
	h.expectOMEMOCalls("devices ") // the server has the unchanged bundle
	timer.expectArmed(t, omemo.SignedPreKeyRotation-2*24*time.Hour)

	h.event(xmpp.Disconnected{})
	clock = rotated.Add(omemo.SignedPreKeyRotation)
	timer.fire()
	h.expectOMEMOCalls()
	h.connect()
	h.expectOMEMOCalls("devices ", publish)
	if got := h.x.omemoBundle.SignedPreKeyID; got != spk+1 {
		t.Fatalf("bundle published at login after a rotation while disconnected names signed pre-key %d, want %d", got, spk+1)
	}
}

// Rotated keys that cannot be saved are not used: a bundle published with
// them would name a signed pre-key lost at the next restart. xircd keeps
// the old ones and tries again later.
func TestOMEMOSignedPreKeyRotationNotSaved(t *testing.T) {
	dir := t.TempDir()
	clock := fixedNow
	timer := &rotationTimer{}
	h := newHarness(t, Config{StateDir: dir}, func(b *Bridge) {
		b.now = func() time.Time { return clock }
		b.omemo.rotation.afterFunc = timer.afterFunc
	})
	id := h.b.omemo.dev.DeviceID
	spk := h.b.omemo.dev.SignedPreKey.ID
	h.connect()
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d]", id), fmt.Sprintf("publish bundle %d", id))

	h.b.files.flush()
	h.b.files.writeFile = func(path string, data []byte) error { return errors.New("disk full") }
	clock = fixedNow.Add(omemo.SignedPreKeyRotation)
	timer.fire()
	h.expectOMEMOCalls()
	timer.expectArmed(t, rotationRetry)
	if got := h.b.omemo.dev.SignedPreKey.ID; got != spk {
		t.Fatalf("signed pre-key %d in use after a failed save, want %d", got, spk)
	}

	if stored := storedDevice(t, h, dir); stored.SignedPreKey.ID != spk {
		t.Fatalf("signed pre-key %d stored after a failed save, want %d", stored.SignedPreKey.ID, spk)
	}
	h.b.files.writeFile = writeFileAtomic
	clock = clock.Add(rotationRetry)
	timer.fire()
	h.expectOMEMOCalls(fmt.Sprintf("publish bundle %d", id))
	if got := h.x.omemoBundle.SignedPreKeyID; got != spk+1 {
		t.Fatalf("bundle names signed pre-key %d after the retry, want %d", got, spk+1)
	}
}
