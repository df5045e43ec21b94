package omemo

import (
	"crypto/ecdh"
	"encoding/base64"
	"fmt"
	"io"
)

// keyTypeDJB is the type byte libsignal puts before a serialized Curve25519
// public key.
const keyTypeDJB = 0x05

// PublicKey is a Curve25519 (Montgomery u-coordinate) public key.
type PublicKey [32]byte

// Serialize returns the key as libsignal and OMEMO 0.3 bundles carry it: the
// type byte 0x05 followed by the 32 key bytes.
func (k PublicKey) Serialize() []byte {
	return append([]byte{keyTypeDJB}, k[:]...)
}

// ParsePublicKey reads a serialized public key (0x05 and 32 bytes).
func ParsePublicKey(b []byte) (PublicKey, error) {
	var k PublicKey
	if len(b) != 33 || b[0] != keyTypeDJB {
		return k, fmt.Errorf("omemo: public key: want 0x05 and 32 bytes, got %d bytes", len(b))
	}
	copy(k[:], b[1:])
	return k, nil
}

// MarshalText encodes the key in base64 for the store file.
func (k PublicKey) MarshalText() ([]byte, error) { return marshalKey32(k) }

// UnmarshalText decodes a base64 key of the store file.
func (k *PublicKey) UnmarshalText(b []byte) error { return unmarshalKey32((*[32]byte)(k), b) }

// secret is 32 bytes of key material (a private key, a root or chain key)
// that the store file holds in base64.
type secret [32]byte

func (s secret) MarshalText() ([]byte, error)  { return marshalKey32(s) }
func (s *secret) UnmarshalText(b []byte) error { return unmarshalKey32((*[32]byte)(s), b) }

func marshalKey32(k [32]byte) ([]byte, error) {
	return base64.StdEncoding.AppendEncode(nil, k[:]), nil
}

// unmarshalKey32 decodes into an array on the stack: a device's store
// holds some 200 keys, read at each pre-key message and publication.
func unmarshalKey32(k *[32]byte, b []byte) error {
	var raw [33]byte // what a key's 44 characters of base64 can hold
	if n := base64.StdEncoding.DecodedLen(len(b)); n > len(raw) {
		return fmt.Errorf("omemo: key: want 32 bytes, got about %d", n)
	}
	n, err := base64.StdEncoding.Decode(raw[:], b)
	if err != nil {
		return fmt.Errorf("omemo: key: %w", err)
	}
	if n != 32 {
		return fmt.Errorf("omemo: key: want 32 bytes, got %d", n)
	}
	copy(k[:], raw[:n])
	return nil
}

// KeyPair is a Curve25519 key pair. The private key is stored clamped, as
// libsignal stores it, so the same scalar serves X25519 and XEdDSA.
type KeyPair struct {
	Private secret    `json:"private"`
	Public  PublicKey `json:"public"`
}

// GenerateKeyPair makes a new key pair from rand.
func GenerateKeyPair(rand io.Reader) (KeyPair, error) {
	var kp KeyPair
	if _, err := io.ReadFull(rand, kp.Private[:]); err != nil {
		return kp, fmt.Errorf("omemo: generating key: %w", err)
	}
	kp.Private[0] &= 248
	kp.Private[31] &= 127
	kp.Private[31] |= 64
	priv, err := ecdh.X25519().NewPrivateKey(kp.Private[:])
	if err != nil {
		return kp, err
	}
	copy(kp.Public[:], priv.PublicKey().Bytes())
	return kp, nil
}

// agree is X25519 between our private key and their public key. A
// low-order public key (all-zero result) is an error.
func (kp KeyPair) agree(their PublicKey) ([]byte, error) {
	priv, err := ecdh.X25519().NewPrivateKey(kp.Private[:])
	if err != nil {
		return nil, err
	}
	pub, err := ecdh.X25519().NewPublicKey(their[:])
	if err != nil {
		return nil, err
	}
	shared, err := priv.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("omemo: key agreement: %w", err)
	}
	return shared, nil
}

// valid reports whether the public key is the private key's.
func (kp KeyPair) valid() bool {
	priv, err := ecdh.X25519().NewPrivateKey(kp.Private[:])
	if err != nil {
		return false
	}
	return PublicKey(priv.PublicKey().Bytes()) == kp.Public
}
