package omemo

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// Bundle is the public key material a device publishes so that others can
// start sessions with it without it being online.
type Bundle struct {
	DeviceID              uint32
	IdentityKey           PublicKey
	SignedPreKeyID        uint32
	SignedPreKey          PublicKey
	SignedPreKeySignature []byte
	PreKeys               []BundlePreKey
}

// BundlePreKey is the public half of a one-time pre-key.
type BundlePreKey struct {
	ID  uint32
	Key PublicKey
}

// ErrUnknownSignedPreKey is returned for a pre-key message naming a signed
// pre-key this device never made or deleted (SignedPreKeyGrace after a
// rotation replaced it).
var ErrUnknownSignedPreKey = errors.New("omemo: pre-key message for unknown signed pre-key")

// ErrInvalidBundle is returned for a bundle whose signed pre-key is not
// signed by its identity key.
var ErrInvalidBundle = errors.New("omemo: bundle's signed pre-key signature is invalid")

// kdfInfo are the HKDF info strings of the Signal protocol, version 3.
const (
	infoText        = "WhisperText"
	infoRatchet     = "WhisperRatchet"
	infoMessageKeys = "WhisperMessageKeys"
)

// x3dhInitiator is the initiator's side of X3DH: the agreements of our
// identity and base keys with the peer's identity, signed pre-key and
// one-time pre-key (if any), giving the first root and chain keys.
func x3dhInitiator(identity, base KeyPair, theirIdentity, theirSignedPreKey PublicKey, theirPreKey *PublicKey) (root, chain secret, err error) {
	pairs := []agreement{{identity, theirSignedPreKey}, {base, theirIdentity}, {base, theirSignedPreKey}}
	if theirPreKey != nil {
		pairs = append(pairs, agreement{base, *theirPreKey})
	}
	return x3dhSecret(pairs)
}

// x3dhResponder is the responder's side: the same agreements, seen from the
// keys of the bundle.
func x3dhResponder(identity, signedPreKey KeyPair, preKey *KeyPair, theirIdentity, theirBase PublicKey) (root, chain secret, err error) {
	pairs := []agreement{{signedPreKey, theirIdentity}, {identity, theirBase}, {signedPreKey, theirBase}}
	if preKey != nil {
		pairs = append(pairs, agreement{*preKey, theirBase})
	}
	return x3dhSecret(pairs)
}

type agreement struct {
	ours   KeyPair
	theirs PublicKey
}

// x3dhSecret joins the agreements after the 32 0xFF bytes libsignal puts
// first (so the input never starts like a valid curve point) and derives
// the first root and chain keys.
func x3dhSecret(pairs []agreement) (root, chain secret, err error) {
	material := make([]byte, 32, 32*5)
	for i := range material {
		material[i] = 0xff
	}
	for _, p := range pairs {
		dh, err := p.ours.agree(p.theirs)
		if err != nil {
			return root, chain, err
		}
		material = append(material, dh...)
	}
	return derivePair(material, nil, infoText)
}

// hkdfKey is HKDF-SHA256 with an all-zero salt, as libsignal derives
// from the X3DH secret and from message key seeds.
func hkdfKey(ikm []byte, info string, length int) ([]byte, error) {
	return hkdf.Key(sha256.New, ikm, make([]byte, sha256.Size), info, length)
}

// derivePair is HKDF-SHA256 to 64 bytes, split into two 32-byte keys.
func derivePair(ikm, salt []byte, info string) (a, b secret, err error) {
	if salt == nil {
		salt = make([]byte, sha256.Size)
	}
	out, err := hkdf.Key(sha256.New, ikm, salt, info, 64)
	if err != nil {
		return a, b, err
	}
	copy(a[:], out[:32])
	copy(b[:], out[32:])
	return a, b, nil
}

// InitiateSession starts a session with the device whose bundle this is (the
// X3DH initiator): it checks the bundle's signature, picks one of its
// one-time pre-keys at random, and returns a session whose messages are
// pre-key messages until the peer answers. Trusting the bundle's identity
// key is the caller's decision.
func InitiateSession(random io.Reader, d *Device, b Bundle) (*Session, error) {
	if !VerifySignature(b.IdentityKey, b.SignedPreKey.Serialize(), b.SignedPreKeySignature) {
		return nil, ErrInvalidBundle
	}
	base, err := GenerateKeyPair(random)
	if err != nil {
		return nil, err
	}
	pending := pendingPreKey{SignedPreKeyID: b.SignedPreKeyID, BaseKey: base.Public}
	var opk *PublicKey
	if len(b.PreKeys) > 0 {
		i, err := rand.Int(random, big.NewInt(int64(len(b.PreKeys))))
		if err != nil {
			return nil, err
		}
		chosen := b.PreKeys[i.Int64()]
		opk = &chosen.Key
		pending.HasPreKeyID, pending.PreKeyID = true, chosen.ID
	}
	root, chain, err := x3dhInitiator(d.Identity, base, b.IdentityKey, b.SignedPreKey, opk)
	if err != nil {
		return nil, err
	}
	ratchet, err := GenerateKeyPair(random)
	if err != nil {
		return nil, err
	}
	st := sessionState{
		LocalIdentity:       d.Identity.Public,
		RemoteIdentity:      b.IdentityKey,
		LocalRegistrationID: d.RegistrationID,
		BaseKey:             base.Public,
		Pending:             &pending,
		ReceiverChains:      []receiverChain{{RatchetKey: b.SignedPreKey, Chain: chainKey{Key: chain}}},
	}
	if err := st.stepSender(root, b.SignedPreKey, ratchet); err != nil {
		return nil, err
	}
	return &Session{st: st}, nil
}

// ContinuesSession reports whether the pre-key message msg belongs to
// existing (nil: no session): its sender sent several before hearing
// back. DecryptPreKeyMessage then uses none of the device's pre-keys, so
// a caller keeping them out of memory reads them only when this is false.
// A malformed message is an error, the one DecryptPreKeyMessage returns.
func ContinuesSession(existing *Session, msg []byte) (bool, error) {
	m, err := decodePreKeyWhisperMessage(msg)
	if err != nil {
		return false, err
	}
	return existing.continuedBy(m), nil
}

// continuedBy reports whether m belongs to s (nil: no session).
func (s *Session) continuedBy(m preKeyWhisperMessage) bool {
	return s != nil && s.st.BaseKey == m.baseKey && s.st.RemoteIdentity == m.identityKey
}

// DecryptPreKeyMessage decrypts a pre-key message (the first messages of a
// session someone started from this device's bundle). If existing is the
// session that message belongs to (the peer sent several before hearing
// back), it is used; otherwise a new session is built (the X3DH responder)
// and the one-time pre-key it used is removed from d, so d must be saved and
// its bundle republished. Trusting Session.RemoteIdentity is the caller's
// decision. The signed pre-key it names may be the current one or one a
// rotation replaced and d still keeps. A replayed pre-key message fails because its pre-key is gone or,
// given the session, because its message key is used; one naming no
// one-time pre-key (which OMEMO clients do not send) is recognised only
// through existing.
func (d *Device) DecryptPreKeyMessage(random io.Reader, existing *Session, msg []byte) (*Session, []byte, error) {
	m, err := decodePreKeyWhisperMessage(msg)
	if err != nil {
		return nil, nil, err
	}
	if existing.continuedBy(m) {
		plain, err := existing.Decrypt(random, m.message)
		if err != nil {
			return nil, nil, err
		}
		return existing, plain, nil
	}
	signed, ok := d.signedPreKey(m.signedPreKeyID)
	if !ok {
		return nil, nil, fmt.Errorf("%w %d (not made by this device, or deleted after a rotation: the sender must fetch the current bundle)", ErrUnknownSignedPreKey, m.signedPreKeyID)
	}
	spk := signed.Key
	var opk *KeyPair
	if m.hasPreKeyID {
		pk, ok := d.preKey(m.preKeyID)
		if !ok {
			return nil, nil, fmt.Errorf("omemo: pre-key message for unknown or used pre-key %d", m.preKeyID)
		}
		opk = &pk.Key
	}
	root, chain, err := x3dhResponder(d.Identity, spk, opk, m.identityKey, m.baseKey)
	if err != nil {
		return nil, nil, err
	}
	s := &Session{st: sessionState{
		LocalIdentity:       d.Identity.Public,
		RemoteIdentity:      m.identityKey,
		LocalRegistrationID: d.RegistrationID,
		BaseKey:             m.baseKey,
		RootKey:             root,
		SenderRatchet:       spk,
		SenderChain:         chainKey{Key: chain},
	}}
	plain, err := s.Decrypt(random, m.message)
	if err != nil {
		return nil, nil, err
	}
	if m.hasPreKeyID {
		d.removePreKey(m.preKeyID)
	}
	return s, plain, nil
}
