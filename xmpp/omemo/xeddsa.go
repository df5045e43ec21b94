package omemo

import (
	"crypto/ed25519"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"

	"filippo.io/edwards25519"
	"filippo.io/edwards25519/field"
)

// VerifySignature checks an XEdDSA signature of msg by the Curve25519 key
// pub. As libsignal does, the top bit of the last byte carries the sign of
// the Edwards key (always 0 for XEdDSA signers, set by older Curve25519
// signers), and the rest is checked as an Ed25519 signature.
func VerifySignature(pub PublicKey, msg, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	edKey, err := edwardsKey(pub, sig[63]&0x80)
	if err != nil {
		return false
	}
	s := append([]byte(nil), sig...)
	s[63] &= 0x7f
	return ed25519.Verify(edKey, msg, s)
}

// Sign makes an XEdDSA signature of msg with the key pair's private key,
// verifiable with the Curve25519 public key alone (VerifySignature).
func (kp KeyPair) Sign(rand io.Reader, msg []byte) ([]byte, error) {
	var z [64]byte
	if _, err := io.ReadFull(rand, z[:]); err != nil {
		return nil, fmt.Errorf("omemo: signing: %w", err)
	}
	k, err := edwards25519.NewScalar().SetBytesWithClamping(kp.Private[:])
	if err != nil {
		return nil, err
	}
	// The Edwards public key A must have sign bit 0 so that a verifier can
	// derive it from the Montgomery key; if kB has sign bit 1, -k gives -kB.
	a := new(edwards25519.Point).ScalarBaseMult(k)
	pubA := a.Bytes()
	if pubA[31]&0x80 != 0 {
		k.Negate(k)
		pubA[31] &= 0x7f
	}
	// r = hash1(a || M || Z): SHA-512 prefixed with 2^256-2 little-endian.
	h := sha512.New()
	prefix := [32]byte{0: 0xfe}
	for i := 1; i < 32; i++ {
		prefix[i] = 0xff
	}
	h.Write(prefix[:])
	h.Write(k.Bytes())
	h.Write(msg)
	h.Write(z[:])
	r, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		return nil, err
	}
	R := new(edwards25519.Point).ScalarBaseMult(r).Bytes()
	h.Reset()
	h.Write(R)
	h.Write(pubA)
	h.Write(msg)
	hs, err := edwards25519.NewScalar().SetUniformBytes(h.Sum(nil))
	if err != nil {
		return nil, err
	}
	s := edwards25519.NewScalar().MultiplyAdd(hs, k, r)
	return append(R, s.Bytes()...), nil
}

// errBadSignature is returned for a signature that does not verify.
var errBadSignature = errors.New("omemo: invalid signature")

// edwardsKey converts a Montgomery public key to the Ed25519 public key an
// XEdDSA signature is checked against, with the given sign bit. It fails
// for u = -1, which has no Edwards counterpart.
func edwardsKey(u PublicKey, signBit byte) ([]byte, error) {
	uCopy := u
	uCopy[31] &= 0x7f // the field element is 255 bits, as X25519 reads it
	var x field.Element
	if _, err := x.SetBytes(uCopy[:]); err != nil {
		return nil, err
	}
	one := new(field.Element).One()
	den := new(field.Element).Add(&x, one)
	if den.Equal(new(field.Element).Zero()) == 1 {
		return nil, errBadSignature
	}
	y := new(field.Element).Subtract(&x, one)
	y.Multiply(y, new(field.Element).Invert(den))
	out := y.Bytes()
	out[31] |= signBit
	return out, nil
}
