package omemo

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

// rotationStart is when the tests' devices first rotate.
var rotationStart = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func rotate(t *testing.T, d *Device, now time.Time) {
	t.Helper()
	if err := d.RotateSignedPreKey(rand.Reader, now); err != nil {
		t.Fatal(err)
	}
}

// startFrom is Alice starting a session from bundle b of Bob's and Bob
// reading her first pre-key message.
func startFrom(t *testing.T, bob *Device, b Bundle) error {
	t.Helper()
	alice := newDevice(t)
	s, err := InitiateSession(rand.Reader, alice, b)
	if err != nil {
		t.Fatal(err)
	}
	_, plain, err := bob.DecryptPreKeyMessage(rand.Reader, nil, encrypt(t, s, "hello", true))
	if err == nil && string(plain) != "hello" {
		t.Fatalf("Bob read %q", plain)
	}
	return err
}

func TestSessionFromBundleBeforeRotation(t *testing.T) {
	bob := newDevice(t)
	old := bob.Bundle()
	rotate(t, bob, rotationStart)
	rotate(t, bob, rotationStart.Add(SignedPreKeyRotation))
	if got := bob.Bundle().SignedPreKeyID; got != old.SignedPreKeyID+2 {
		t.Fatalf("bundle after two rotations names signed pre-key %d, want %d", got, old.SignedPreKeyID+2)
	}
	if err := startFrom(t, bob, old); err != nil {
		t.Fatalf("session from the bundle before the rotations: %v", err)
	}
	if err := startFrom(t, bob, bob.Bundle()); err != nil {
		t.Fatalf("session from the current bundle: %v", err)
	}
}

func TestSignedPreKeyDeletedAfterGrace(t *testing.T) {
	bob := newDevice(t)
	first := bob.Bundle()
	rotate(t, bob, rotationStart)
	second := bob.Bundle()
	rotate(t, bob, rotationStart.Add(SignedPreKeyGrace))
	if err := startFrom(t, bob, first); err != nil {
		t.Fatalf("signed pre-key replaced just SignedPreKeyGrace ago: %v", err)
	}
	rotate(t, bob, rotationStart.Add(SignedPreKeyGrace+time.Hour))
	err := startFrom(t, bob, first)
	if !errors.Is(err, ErrUnknownSignedPreKey) {
		t.Fatalf("session from a deleted signed pre-key: %v, want ErrUnknownSignedPreKey", err)
	}
	if err := startFrom(t, bob, second); err != nil {
		t.Fatalf("signed pre-key replaced less than SignedPreKeyGrace ago: %v", err)
	}

	// However often it rotates, a device keeps a bounded number.
	for i := range 3 * maxPreviousSignedPreKeys {
		rotate(t, bob, rotationStart.Add(SignedPreKeyGrace+time.Duration(i+2)*time.Hour))
	}
	if n := len(bob.PreviousSignedPreKeys); n != maxPreviousSignedPreKeys {
		t.Fatalf("%d previous signed pre-keys kept, want %d", n, maxPreviousSignedPreKeys)
	}
	if err := startFrom(t, bob, second); !errors.Is(err, ErrUnknownSignedPreKey) {
		t.Fatalf("session from a signed pre-key beyond the kept ones: %v, want ErrUnknownSignedPreKey", err)
	}
}

func TestRotationDue(t *testing.T) {
	d := newDevice(t)
	if !d.RotationDue().IsZero() {
		t.Fatalf("a new device's rotation is due at %v, want unknown", d.RotationDue())
	}
	rotate(t, d, rotationStart)
	if got, want := d.RotationDue(), rotationStart.Add(SignedPreKeyRotation); !got.Equal(want) {
		t.Fatalf("rotation due at %v, want %v", got, want)
	}
}

func TestDeviceStoreWithPreviousSignedPreKeys(t *testing.T) {
	d := newDevice(t)
	old := d.Bundle()
	rotate(t, d, rotationStart)
	rotate(t, d, rotationStart.Add(SignedPreKeyRotation))
	loaded, err := UnmarshalDevice(mustJSON(t, d))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, d) {
		t.Fatal("loaded device differs from the saved one")
	}
	if len(loaded.PreviousSignedPreKeys) != 2 || !loaded.RotationDue().Equal(rotationStart.Add(2*SignedPreKeyRotation)) {
		t.Fatalf("loaded %d previous signed pre-keys, rotation due %v", len(loaded.PreviousSignedPreKeys), loaded.RotationDue())
	}
	if err := startFrom(t, loaded, old); err != nil {
		t.Fatalf("session from the bundle before the rotations, after loading: %v", err)
	}

	forged := *d
	forged.PreviousSignedPreKeys = append([]SignedPreKey(nil), d.PreviousSignedPreKeys...)
	forged.PreviousSignedPreKeys[1].Signature = d.SignedPreKey.Signature
	if _, err := UnmarshalDevice(mustJSON(t, &forged)); err == nil {
		t.Fatal("store with a forged previous signed pre-key accepted")
	}
}

// A store written before rotation existed has no rotation time and no
// previous signed pre-keys: it loads, its bundle still works, and its
// rotation time is unknown until the caller stamps it.
func TestDeviceStoreWithoutRotation(t *testing.T) {
	d := newDevice(t)
	var fields map[string]any
	if err := json.Unmarshal(mustJSON(t, d), &fields); err != nil {
		t.Fatal(err)
	}
	delete(fields, "signed_pre_key_made")
	delete(fields, "previous_signed_pre_keys")
	delete(fields["signed_pre_key"].(map[string]any), "replaced")
	oldFile := map[string]bool{"device_id": true, "registration_id": true, "identity": true, "signed_pre_key": true, "pre_keys": true, "next_pre_key_id": true}
	for name := range fields {
		if !oldFile[name] {
			t.Fatalf("field %q is not in stores written before rotation", name)
		}
	}
	loaded, err := UnmarshalDevice(mustJSON(t, fields))
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.RotationDue().IsZero() || len(loaded.PreviousSignedPreKeys) != 0 {
		t.Fatalf("old store: rotation due %v, %d previous signed pre-keys", loaded.RotationDue(), len(loaded.PreviousSignedPreKeys))
	}
	old := loaded.Bundle()
	rotate(t, loaded, rotationStart)
	if err := startFrom(t, loaded, old); err != nil {
		t.Fatalf("session from the old store's bundle after a rotation: %v", err)
	}
}

// libsignal-protocol-c (what profanity uses) starts a session from a
// bundle fetched before two rotations, and this device reads it.
func TestInteropLibsignalOldBundle(t *testing.T) {
	peer := startLibsignalPeer(t)
	us := newDevice(t)
	b := us.Bundle()
	rotate(t, us, rotationStart)
	rotate(t, us, rotationStart.Add(SignedPreKeyRotation))
	peer.ask("process %d %d %d %x %d %x %x %x", us.RegistrationID, us.DeviceID, b.PreKeys[0].ID,
		b.PreKeys[0].Key.Serialize(), b.SignedPreKeyID, b.SignedPreKey.Serialize(),
		b.SignedPreKeySignature, b.IdentityKey.Serialize())
	preKey, msg := peer.encrypt("from the old bundle")
	if !preKey {
		t.Fatal("libsignal's first message is not a pre-key message")
	}
	s, plain, err := us.DecryptPreKeyMessage(rand.Reader, nil, msg)
	if err != nil || string(plain) != "from the old bundle" {
		t.Fatalf("%q, %v", plain, err)
	}
	answer, preKey, err := s.Encrypt([]byte("answer"))
	if err != nil || preKey {
		t.Fatalf("pre-key %v, %v", preKey, err)
	}
	if got := peer.decrypt(false, answer); got != "answer" {
		t.Fatalf("libsignal read %q", got)
	}
}
