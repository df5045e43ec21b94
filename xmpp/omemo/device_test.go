package omemo

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"testing"
)

func TestNewDevice(t *testing.T) {
	d := newDevice(t)
	if d.DeviceID == 0 || d.DeviceID >= 1<<31 || d.RegistrationID == 0 || d.RegistrationID > 16380 {
		t.Fatalf("ids out of range: device %d, registration %d", d.DeviceID, d.RegistrationID)
	}
	if len(d.PreKeys) != PreKeyCount {
		t.Fatalf("%d pre-keys, want %d", len(d.PreKeys), PreKeyCount)
	}
	b := d.Bundle()
	if !VerifySignature(b.IdentityKey, b.SignedPreKey.Serialize(), b.SignedPreKeySignature) {
		t.Fatal("the bundle's signed pre-key signature does not verify")
	}
	d.removePreKey(d.PreKeys[0].ID)
	d.removePreKey(d.PreKeys[5].ID)
	if err := d.RefillPreKeys(rand.Reader); err != nil {
		t.Fatal(err)
	}
	ids := map[uint32]bool{}
	for _, pk := range d.PreKeys {
		ids[pk.ID] = true
	}
	if len(ids) != PreKeyCount || ids[1] {
		t.Fatalf("refilled pre-keys: %d distinct ids, id 1 reused: %v", len(ids), ids[1])
	}
}

func TestDeviceStoreFile(t *testing.T) {
	d := newDevice(t)
	data, err := MarshalDevice(d)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := UnmarshalDevice(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, d) {
		t.Fatal("loaded device differs from the saved one")
	}
	if bytes.Contains(data, []byte("\n")) {
		t.Errorf("store file is indented: %.80q", data)
	}
	var indented bytes.Buffer // as written before
	if err := json.Indent(&indented, data, "", "  "); err != nil {
		t.Fatal(err)
	}
	if loaded, err := UnmarshalDevice(indented.Bytes()); err != nil || !reflect.DeepEqual(loaded, d) {
		t.Fatalf("indented store file: %v", err)
	}

	other := newDevice(t)
	forged := *d
	forged.SignedPreKey.Signature = other.SignedPreKey.Signature
	mismatched := *d
	mismatched.Identity.Public = other.Identity.Public
	badPreKey := *d
	badPreKey.PreKeys = append([]PreKey(nil), d.PreKeys...)
	badPreKey.PreKeys[3].Key.Public = other.PreKeys[3].Key.Public
	for name, content := range map[string][]byte{
		"truncated":        data[:len(data)/2],
		"empty":            nil,
		"not JSON":         []byte("\x00\x01garbage"),
		"bad key":          []byte(`{"device_id":1,"identity":{"private":"AAAA"}}`),
		"no device id":     []byte(`{"identity":{}}`),
		"forged signature": mustJSON(t, &forged),
		"key mismatch":     mustJSON(t, &mismatched),
		"pre-key mismatch": mustJSON(t, &badPreKey),
	} {
		if _, err := UnmarshalDevice(content); err == nil {
			t.Errorf("%s store file accepted", name)
		}
	}
}

// A store read again is checked to be the same device's, not key by key.
func TestUnmarshalDeviceOf(t *testing.T) {
	d, other := newDevice(t), newDevice(t)
	if err := d.RotateSignedPreKey(rand.Reader, rotationStart); err != nil {
		t.Fatal(err)
	}
	data := mustJSON(t, d)
	known := *d
	known.PreKeys, known.PreviousSignedPreKeys = nil, nil
	loaded, err := UnmarshalDeviceOf(data, &known)
	if err != nil || !reflect.DeepEqual(loaded, d) {
		t.Fatalf("the device's own store: %v", err)
	}
	sameID := *other
	sameID.DeviceID = d.DeviceID
	for name, content := range map[string][]byte{
		"another device":                   mustJSON(t, other),
		"another identity, same device id": mustJSON(t, &sameID),
		"truncated":                        data[:len(data)/2],
	} {
		if _, err := UnmarshalDeviceOf(content, &known); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// Only a pre-key message that starts a session needs the device's
// pre-keys: one continuing a session is told apart without them.
func TestContinuesSession(t *testing.T) {
	alice, bob := newDevice(t), newDevice(t)
	s, err := InitiateSession(rand.Reader, alice, bob.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	first, _, err := s.Encrypt([]byte("first"))
	if err != nil {
		t.Fatal(err)
	}
	second, _, err := s.Encrypt([]byte("second"))
	if err != nil {
		t.Fatal(err)
	}
	if continues, err := ContinuesSession(nil, first); err != nil || continues {
		t.Fatalf("first message without a session: continues %v, %v", continues, err)
	}
	started, _, err := bob.DecryptPreKeyMessage(rand.Reader, nil, first)
	if err != nil {
		t.Fatal(err)
	}
	if continues, err := ContinuesSession(started, second); err != nil || !continues {
		t.Fatalf("second message: continues %v, %v", continues, err)
	}
	other, err := InitiateSession(rand.Reader, alice, bob.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	another, _, err := other.Encrypt([]byte("another session"))
	if err != nil {
		t.Fatal(err)
	}
	if continues, err := ContinuesSession(started, another); err != nil || continues {
		t.Fatalf("a new session's message: continues %v, %v", continues, err)
	}
	if _, err := ContinuesSession(started, second[:5]); err == nil {
		t.Fatal("a truncated message is not an error")
	}
}

func TestFingerprint(t *testing.T) {
	k := publicFromHex(t, "05ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64")
	if got, want := Fingerprint(k), "ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64"; got != want {
		t.Fatalf("fingerprint %s, want %s", got, want)
	}
}

// A stored key is 32 bytes of base64, nothing shorter, longer or else.
func TestKeyText(t *testing.T) {
	want := PublicKey{1, 2, 3, 31: 32}
	var k PublicKey
	if err := k.UnmarshalText([]byte(base64.StdEncoding.EncodeToString(want[:]))); err != nil || k != want {
		t.Fatalf("32 bytes: %v, %x", err, k)
	}
	text, _ := want.MarshalText()
	if string(text) != base64.StdEncoding.EncodeToString(want[:]) {
		t.Fatalf("MarshalText: %s", text)
	}
	for name, bad := range map[string]string{
		"31 bytes":   base64.StdEncoding.EncodeToString(make([]byte, 31)),
		"33 bytes":   base64.StdEncoding.EncodeToString(make([]byte, 33)),
		"48 bytes":   base64.StdEncoding.EncodeToString(make([]byte, 48)),
		"not base64": "!" + base64.StdEncoding.EncodeToString(make([]byte, 32))[1:],
		"empty":      "",
	} {
		if err := k.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}
