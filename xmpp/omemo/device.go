package omemo

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"
)

// PreKeyCount is how many one-time pre-keys a device keeps published.
const PreKeyCount = 100

// PreKey is a one-time pre-key.
type PreKey struct {
	ID  uint32  `json:"id"`
	Key KeyPair `json:"key"`
}

// Signed pre-key rotation, as libsignal-based clients do it: a new signed
// pre-key every SignedPreKeyRotation; the ones it replaced stay usable for
// SignedPreKeyGrace after that (a contact may have fetched the old bundle
// and start a session later), at most maxPreviousSignedPreKeys of them.
const (
	SignedPreKeyRotation     = 7 * 24 * time.Hour
	SignedPreKeyGrace        = 30 * 24 * time.Hour
	maxPreviousSignedPreKeys = 6
)

// maxSignedPreKeyID: libsignal keeps signed pre-key ids in 24 bits.
const maxSignedPreKeyID = 1<<24 - 1

// SignedPreKey is the medium-term pre-key, signed by the identity key.
type SignedPreKey struct {
	ID        uint32  `json:"id"`
	Key       KeyPair `json:"key"`
	Signature []byte  `json:"signature"`
	// Replaced is when a newer signed pre-key replaced this one; zero for
	// the current one.
	Replaced time.Time `json:"replaced,omitzero"`
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
	// SignedPreKeyMade is when SignedPreKey was made; zero when that is
	// not known (a new device, or a store written before rotation), see
	// RotationDue.
	SignedPreKeyMade time.Time `json:"signed_pre_key_made,omitzero"`
	// PreviousSignedPreKeys are the signed pre-keys SignedPreKey replaced,
	// newest first, still accepted in pre-key messages.
	PreviousSignedPreKeys []SignedPreKey `json:"previous_signed_pre_keys,omitempty"`
	PreKeys               []PreKey       `json:"pre_keys"`
	NextPreKeyID          uint32         `json:"next_pre_key_id"`
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
	if err := d.RotateSignedPreKey(rand, time.Time{}); err != nil {
		return nil, err
	}
	if err := d.RefillPreKeys(rand); err != nil {
		return nil, err
	}
	return d, nil
}

// RotateSignedPreKey replaces the signed pre-key by a new one made at now
// (zero: at a time not known). Its signature is XEdDSA by the identity
// key over the serialized public key. The one it replaces is kept among
// the previous ones; those replaced more than SignedPreKeyGrace before now
// are deleted, and the oldest beyond maxPreviousSignedPreKeys. The device
// must be saved and its bundle republished afterwards.
func (d *Device) RotateSignedPreKey(rand io.Reader, now time.Time) error {
	kp, err := GenerateKeyPair(rand)
	if err != nil {
		return err
	}
	sig, err := d.Identity.Sign(rand, kp.Public.Serialize())
	if err != nil {
		return err
	}
	if d.SignedPreKey.Signature != nil {
		replaced := d.SignedPreKey
		replaced.Replaced = now
		kept := []SignedPreKey{replaced}
		for _, old := range d.PreviousSignedPreKeys {
			if len(kept) < maxPreviousSignedPreKeys && !now.After(old.Replaced.Add(SignedPreKeyGrace)) {
				kept = append(kept, old)
			}
		}
		d.PreviousSignedPreKeys = kept
	}
	d.SignedPreKey = SignedPreKey{ID: d.SignedPreKey.ID%maxSignedPreKeyID + 1, Key: kp, Signature: sig}
	d.SignedPreKeyMade = now
	return nil
}

// RotationDue is when the signed pre-key is to be replaced:
// SignedPreKeyRotation after it was made. It is zero when the time it was
// made is not known: the caller then sets SignedPreKeyMade to now, so
// that the device rotates on schedule from then on.
func (d *Device) RotationDue() time.Time {
	if d.SignedPreKeyMade.IsZero() {
		return time.Time{}
	}
	return d.SignedPreKeyMade.Add(SignedPreKeyRotation)
}

// signedPreKey returns the current or a kept previous signed pre-key with
// that id.
func (d *Device) signedPreKey(id uint32) (SignedPreKey, bool) {
	if d.SignedPreKey.ID == id {
		return d.SignedPreKey, true
	}
	for _, spk := range d.PreviousSignedPreKeys {
		if spk.ID == id {
			return spk, true
		}
	}
	return SignedPreKey{}, false
}

// RefillPreKeys generates one-time pre-keys until there are PreKeyCount,
// with ids never used before. The bundle must be republished afterwards.
func (d *Device) RefillPreKeys(rand io.Reader) error {
	d.PreKeys = slices.Grow(d.PreKeys, PreKeyCount-len(d.PreKeys))
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
		PreKeys:               make([]BundlePreKey, 0, len(d.PreKeys)),
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

// MarshalDevice encodes the device for its store file, which holds private
// keys: the caller writes it with mode 0600. It is compact, not indented:
// it is encoded at every save (each one-time pre-key used), and indenting
// doubled the work and a third of the size. Indented files written before
// read the same.
func MarshalDevice(d *Device) ([]byte, error) {
	return json.Marshal(d)
}

// UnmarshalDevice decodes a store file written from MarshalDevice. A
// damaged one (not JSON, keys that do not fit together) is an error.
func UnmarshalDevice(data []byte) (*Device, error) {
	d := Device{PreKeys: make([]PreKey, 0, PreKeyCount)} // decoded without growing
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return &d, nil
}

// UnmarshalDeviceOf decodes the store file of known, a device read with
// UnmarshalDevice before (or its part kept in memory), written since from
// MarshalDevice by the same program: its keys are not checked again one by
// one, a hundred scalar multiplications, only that it is known's (device
// id and identity key). A damaged or another device's file is an error.
func UnmarshalDeviceOf(data []byte, known *Device) (*Device, error) {
	d := Device{PreKeys: make([]PreKey, 0, PreKeyCount)}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	if d.DeviceID != known.DeviceID || d.Identity != known.Identity {
		return nil, fmt.Errorf("the store holds device %d, not %d", d.DeviceID, known.DeviceID)
	}
	return &d, nil
}

// check rejects a decoded device whose keys do not fit together.
func (d *Device) check() error {
	if d.DeviceID == 0 {
		return fmt.Errorf("no device id")
	}
	signed := append([]SignedPreKey{d.SignedPreKey}, d.PreviousSignedPreKeys...)
	pairs := []KeyPair{d.Identity}
	for _, spk := range signed {
		pairs = append(pairs, spk.Key)
	}
	for _, pk := range d.PreKeys {
		pairs = append(pairs, pk.Key)
	}
	for _, kp := range pairs {
		if !kp.valid() {
			return fmt.Errorf("a public key does not match its private key")
		}
	}
	for _, spk := range signed {
		if !VerifySignature(d.Identity.Public, spk.Key.Public.Serialize(), spk.Signature) {
			return fmt.Errorf("the signature of signed pre-key %d is invalid", spk.ID)
		}
	}
	return nil
}
