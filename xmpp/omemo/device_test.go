package omemo

import (
	"crypto/rand"
	"os"
	"path/filepath"
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
	dir := t.TempDir()
	path := filepath.Join(dir, "omemo.json")
	d := newDevice(t)
	if err := SaveDevice(path, d); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("store file mode %v, want 0600", st.Mode().Perm())
	}
	loaded, err := LoadDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, d) {
		t.Fatal("loaded device differs from the saved one")
	}

	data, _ := os.ReadFile(path)
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
		bad := filepath.Join(dir, "bad.json")
		if err := os.WriteFile(bad, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadDevice(bad); err == nil {
			t.Errorf("%s store file accepted", name)
		}
	}
	if _, err := LoadDevice(filepath.Join(dir, "missing.json")); err == nil {
		t.Error("missing store file accepted")
	}
}

func TestFingerprint(t *testing.T) {
	k := publicFromHex(t, "05ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64")
	if got, want := Fingerprint(k), "ab7e717d4a163b7d9a1d8071dfe9dcf8cdcd1cea3339b6356be84d887e322c64"; got != want {
		t.Fatalf("fingerprint %s, want %s", got, want)
	}
}
