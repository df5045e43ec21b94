package omemo

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// PreKeyCount is how many one-time pre-keys a device keeps published.
const PreKeyCount = 100

// PreKey is a one-time pre-key.
type PreKey struct {
	ID  uint32  `json:"id"`
	Key KeyPair `json:"key"`
}

// SignedPreKey is the medium-term pre-key, signed by the identity key.
type SignedPreKey struct {
	ID        uint32  `json:"id"`
	Key       KeyPair `json:"key"`
	Signature []byte  `json:"signature"`
}

// Device is this OMEMO device's own key material: what the store file holds
// and what its bundle is made of.
type Device struct {
	// DeviceID is the device's id in the account's device list.
	DeviceID uint32 `json:"device_id"`
	// RegistrationID is libsignal's registration id, sent in pre-key messages.
	RegistrationID uint32       `json:"registration_id"`
	Identity       KeyPair      `json:"identity"`
	SignedPreKey   SignedPreKey `json:"signed_pre_key"`
	PreKeys        []PreKey     `json:"pre_keys"`
	NextPreKeyID   uint32       `json:"next_pre_key_id"`
}

// NewDevice makes a new device: identity key, signed pre-key, PreKeyCount
// one-time pre-keys, random device and registration ids.
func NewDevice(rand io.Reader) (*Device, error) {
	var ids [8]byte
	if _, err := io.ReadFull(rand, ids[:]); err != nil {
		return nil, fmt.Errorf("omemo: device id: %w", err)
	}
	d := &Device{
		// Device ids are positive 31-bit integers; registration ids 14-bit.
		DeviceID:       binary.BigEndian.Uint32(ids[:4])%(1<<31-1) + 1,
		RegistrationID: binary.BigEndian.Uint32(ids[4:])%16380 + 1,
		NextPreKeyID:   1,
	}
	var err error
	if d.Identity, err = GenerateKeyPair(rand); err != nil {
		return nil, err
	}
	if err := d.RotateSignedPreKey(rand); err != nil {
		return nil, err
	}
	if err := d.RefillPreKeys(rand); err != nil {
		return nil, err
	}
	return d, nil
}

// RotateSignedPreKey replaces the signed pre-key by a new one. Its
// signature is XEdDSA by the identity key over the serialized public key.
func (d *Device) RotateSignedPreKey(rand io.Reader) error {
	kp, err := GenerateKeyPair(rand)
	if err != nil {
		return err
	}
	sig, err := d.Identity.Sign(rand, kp.Public.Serialize())
	if err != nil {
		return err
	}
	d.SignedPreKey = SignedPreKey{ID: d.SignedPreKey.ID + 1, Key: kp, Signature: sig}
	return nil
}

// RefillPreKeys generates one-time pre-keys until there are PreKeyCount,
// with ids never used before. The bundle must be republished afterwards.
func (d *Device) RefillPreKeys(rand io.Reader) error {
	for len(d.PreKeys) < PreKeyCount {
		kp, err := GenerateKeyPair(rand)
		if err != nil {
			return err
		}
		d.PreKeys = append(d.PreKeys, PreKey{ID: d.NextPreKeyID, Key: kp})
		d.NextPreKeyID++
	}
	return nil
}

// preKey returns the one-time pre-key with that id.
func (d *Device) preKey(id uint32) (PreKey, bool) {
	for _, pk := range d.PreKeys {
		if pk.ID == id {
			return pk, true
		}
	}
	return PreKey{}, false
}

// removePreKey forgets a one-time pre-key once a session was built with it.
func (d *Device) removePreKey(id uint32) {
	for i, pk := range d.PreKeys {
		if pk.ID == id {
			d.PreKeys = append(d.PreKeys[:i], d.PreKeys[i+1:]...)
			return
		}
	}
}

// Bundle returns the public part of the device that others build sessions
// from.
func (d *Device) Bundle() Bundle {
	b := Bundle{
		DeviceID:              d.DeviceID,
		IdentityKey:           d.Identity.Public,
		SignedPreKeyID:        d.SignedPreKey.ID,
		SignedPreKey:          d.SignedPreKey.Key.Public,
		SignedPreKeySignature: append([]byte(nil), d.SignedPreKey.Signature...),
	}
	for _, pk := range d.PreKeys {
		b.PreKeys = append(b.PreKeys, BundlePreKey{ID: pk.ID, Key: pk.Key.Public})
	}
	return b
}

// Fingerprint is the identity key as OMEMO clients show it: the 32 key
// bytes in lower-case hex.
func Fingerprint(identity PublicKey) string {
	return fmt.Sprintf("%x", identity[:])
}

// SaveDevice writes the device to path (mode 0600) through a temporary file,
// so a crash never leaves a half-written key store.
func SaveDevice(path string, d *Device) error {
	data, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".omemo-*")
	if err != nil {
		return fmt.Errorf("omemo: saving keys: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("omemo: saving keys: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("omemo: saving keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("omemo: saving keys: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("omemo: saving keys: %w", err)
	}
	return nil
}

// LoadDevice reads a device written by SaveDevice. A damaged file is an
// error naming it.
func LoadDevice(path string) (*Device, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("omemo: loading keys: %w", err)
	}
	var d Device
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("omemo: loading keys from %s: %w", path, err)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("omemo: loading keys from %s: %w", path, err)
	}
	return &d, nil
}

// check rejects a decoded device whose keys do not fit together.
func (d *Device) check() error {
	if d.DeviceID == 0 {
		return fmt.Errorf("no device id")
	}
	pairs := []KeyPair{d.Identity, d.SignedPreKey.Key}
	for _, pk := range d.PreKeys {
		pairs = append(pairs, pk.Key)
	}
	for _, kp := range pairs {
		if !kp.valid() {
			return fmt.Errorf("a public key does not match its private key")
		}
	}
	if !VerifySignature(d.Identity.Public, d.SignedPreKey.Key.Public.Serialize(), d.SignedPreKey.Signature) {
		return fmt.Errorf("the signed pre-key's signature is invalid")
	}
	return nil
}
