package omemo

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Bounds that keep a hostile peer from making a session grow without end,
// as libsignal has them.
const (
	// maxSkip is how far ahead of the chain a message counter may be.
	maxSkip = 2000
	// maxSkippedKeys is how many keys of skipped messages a chain keeps.
	maxSkippedKeys = 2000
	// maxReceiverChains is how many of the peer's ratchet keys are kept.
	maxReceiverChains = 5
)

// ErrDuplicateMessage is returned for a message whose key was already used:
// a replay, or a message delivered twice.
var ErrDuplicateMessage = errors.New("omemo: message already received")

// ErrBadMAC is returned for a message whose authentication code does not
// match: forged or damaged.
var ErrBadMAC = errors.New("omemo: message authentication failed")

// Session is a Double Ratchet session with one device of a peer. It is not
// safe for concurrent use. It marshals to JSON for storage.
type Session struct {
	st sessionState
}

// sessionState is everything of a session that is stored.
type sessionState struct {
	LocalIdentity       PublicKey `json:"local_identity"`
	RemoteIdentity      PublicKey `json:"remote_identity"`
	LocalRegistrationID uint32    `json:"local_registration_id"`
	// BaseKey is the initiator's X3DH ephemeral key: it tells the pre-key
	// messages of this session from those of a new one.
	BaseKey         PublicKey       `json:"base_key"`
	RootKey         secret          `json:"root_key"`
	SenderRatchet   KeyPair         `json:"sender_ratchet"`
	SenderChain     chainKey        `json:"sender_chain"`
	PreviousCounter uint32          `json:"previous_counter"`
	ReceiverChains  []receiverChain `json:"receiver_chains"`
	// Pending is set while the peer has not answered: outgoing messages
	// are then pre-key messages carrying what the peer needs.
	Pending *pendingPreKey `json:"pending,omitempty"`
}

type pendingPreKey struct {
	HasPreKeyID    bool      `json:"has_pre_key_id"`
	PreKeyID       uint32    `json:"pre_key_id"`
	SignedPreKeyID uint32    `json:"signed_pre_key_id"`
	BaseKey        PublicKey `json:"base_key"`
}

type chainKey struct {
	Key   secret `json:"key"`
	Index uint32 `json:"index"`
}

type receiverChain struct {
	RatchetKey PublicKey    `json:"ratchet_key"`
	Chain      chainKey     `json:"chain"`
	Skipped    []skippedKey `json:"skipped,omitempty"`
}

// skippedKey keeps the message key seed of a message not yet received.
type skippedKey struct {
	Index uint32 `json:"index"`
	Seed  secret `json:"seed"`
}

type messageKeys struct {
	cipherKey []byte
	macKey    []byte
	iv        []byte
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// seed is the input of the message keys at this chain position.
func (c chainKey) seed() secret { return secret(hmacSHA256(c.Key[:], []byte{0x01})) }

func (c chainKey) next() chainKey {
	return chainKey{Key: secret(hmacSHA256(c.Key[:], []byte{0x02})), Index: c.Index + 1}
}

func deriveMessageKeys(seed secret) (messageKeys, error) {
	out, err := hkdfKey(seed[:], infoMessageKeys, 80)
	if err != nil {
		return messageKeys{}, err
	}
	return messageKeys{cipherKey: out[:32], macKey: out[32:64], iv: out[64:80]}, nil
}

// stepSender moves the root key forward with a new sending ratchet key
// against the peer's current ratchet key.
func (st *sessionState) stepSender(root secret, their PublicKey, ours KeyPair) error {
	newRoot, chain, err := createChain(root, their, ours)
	if err != nil {
		return err
	}
	st.RootKey, st.SenderRatchet, st.SenderChain = newRoot, ours, chainKey{Key: chain}
	return nil
}

// createChain is the root key's KDF step: HKDF over the ratchet agreement
// with the root key as salt gives the next root key and a chain key.
func createChain(root secret, their PublicKey, ours KeyPair) (newRoot, chain secret, err error) {
	dh, err := ours.agree(their)
	if err != nil {
		return newRoot, chain, err
	}
	return derivePair(dh, root[:], infoRatchet)
}

// Encrypt encrypts plaintext for the peer. While the peer has not answered
// the result is a pre-key message (preKey true), which the receiver
// decrypts with Device.DecryptPreKeyMessage; else a WhisperMessage for
// Session.Decrypt.
func (s *Session) Encrypt(plaintext []byte) (msg []byte, preKey bool, err error) {
	st := &s.st
	keys, err := deriveMessageKeys(st.SenderChain.seed())
	if err != nil {
		return nil, false, err
	}
	ciphertext, err := encryptCBC(keys, plaintext)
	if err != nil {
		return nil, false, err
	}
	body := whisperMessage{
		ratchetKey:      st.SenderRatchet.Public,
		counter:         st.SenderChain.Index,
		previousCounter: st.PreviousCounter,
		ciphertext:      ciphertext,
	}.encode()
	msg = append(body, messageMAC(keys.macKey, st.LocalIdentity, st.RemoteIdentity, body)...)
	st.SenderChain = st.SenderChain.next()
	if st.Pending == nil {
		return msg, false, nil
	}
	return preKeyWhisperMessage{
		registrationID: st.LocalRegistrationID,
		hasPreKeyID:    st.Pending.HasPreKeyID,
		preKeyID:       st.Pending.PreKeyID,
		signedPreKeyID: st.Pending.SignedPreKeyID,
		baseKey:        st.Pending.BaseKey,
		identityKey:    st.LocalIdentity,
		message:        msg,
	}.encode(), true, nil
}

// messageMAC authenticates a serialized message together with both
// identities, sender first; the first 8 bytes of HMAC-SHA256 are sent.
func messageMAC(key []byte, sender, receiver PublicKey, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(sender.Serialize())
	m.Write(receiver.Serialize())
	m.Write(body)
	return m.Sum(nil)[:macLength]
}

// Decrypt decrypts a WhisperMessage of the peer. The session changes only
// if the message is authentic and new: a failed decryption leaves it as it
// was. random provides the new ratchet key when the peer's ratchet turned.
func (s *Session) Decrypt(random io.Reader, msg []byte) ([]byte, error) {
	m, macced, mac, err := decodeWhisperMessage(msg)
	if err != nil {
		return nil, err
	}
	st := s.st.clone()
	chain, err := st.receiverChain(random, m.ratchetKey)
	if err != nil {
		return nil, err
	}
	keys, err := chain.messageKeys(m.counter)
	if err != nil {
		return nil, err
	}
	want := messageMAC(keys.macKey, st.RemoteIdentity, st.LocalIdentity, macced)
	if subtle.ConstantTimeCompare(want, mac) != 1 {
		return nil, ErrBadMAC
	}
	plain, err := decryptCBC(keys, m.ciphertext)
	if err != nil {
		return nil, err
	}
	st.Pending = nil
	s.st = st
	return plain, nil
}

// receiverChain returns the chain of the peer's ratchet key, turning the
// ratchet when the key is new.
func (st *sessionState) receiverChain(random io.Reader, their PublicKey) (*receiverChain, error) {
	for i := range st.ReceiverChains {
		if st.ReceiverChains[i].RatchetKey == their {
			return &st.ReceiverChains[i], nil
		}
	}
	if st.SenderChain.Key == (secret{}) {
		return nil, errors.New("omemo: session not initialized")
	}
	receiveRoot, chain, err := createChain(st.RootKey, their, st.SenderRatchet)
	if err != nil {
		return nil, err
	}
	ours, err := GenerateKeyPair(random)
	if err != nil {
		return nil, err
	}
	st.PreviousCounter = 0
	if st.SenderChain.Index > 0 {
		st.PreviousCounter = st.SenderChain.Index - 1
	}
	if err := st.stepSender(receiveRoot, their, ours); err != nil {
		return nil, err
	}
	st.ReceiverChains = append(st.ReceiverChains, receiverChain{RatchetKey: their, Chain: chainKey{Key: chain}})
	if len(st.ReceiverChains) > maxReceiverChains {
		st.ReceiverChains = st.ReceiverChains[1:]
	}
	return &st.ReceiverChains[len(st.ReceiverChains)-1], nil
}

// messageKeys returns the keys of message number counter, keeping the keys
// of messages it skips and using up a kept key for a late message.
func (rc *receiverChain) messageKeys(counter uint32) (messageKeys, error) {
	if counter < rc.Chain.Index {
		for i, sk := range rc.Skipped {
			if sk.Index == counter {
				rc.Skipped = append(rc.Skipped[:i], rc.Skipped[i+1:]...)
				return deriveMessageKeys(sk.Seed)
			}
		}
		return messageKeys{}, ErrDuplicateMessage
	}
	if counter-rc.Chain.Index > maxSkip {
		return messageKeys{}, fmt.Errorf("omemo: message %d is more than %d ahead of the chain", counter, maxSkip)
	}
	for rc.Chain.Index < counter {
		rc.Skipped = append(rc.Skipped, skippedKey{Index: rc.Chain.Index, Seed: rc.Chain.seed()})
		rc.Chain = rc.Chain.next()
	}
	if over := len(rc.Skipped) - maxSkippedKeys; over > 0 {
		rc.Skipped = rc.Skipped[over:]
	}
	seed := rc.Chain.seed()
	rc.Chain = rc.Chain.next()
	return deriveMessageKeys(seed)
}

// clone copies the state deeply, so that a failed decryption can be
// dropped without touching the session.
func (st sessionState) clone() sessionState {
	c := st
	if st.Pending != nil {
		p := *st.Pending
		c.Pending = &p
	}
	c.ReceiverChains = make([]receiverChain, len(st.ReceiverChains))
	for i, rc := range st.ReceiverChains {
		rc.Skipped = append([]skippedKey(nil), rc.Skipped...)
		c.ReceiverChains[i] = rc
	}
	return c
}

// RemoteIdentity is the peer's identity key, for the caller's trust
// decision.
func (s *Session) RemoteIdentity() PublicKey { return s.st.RemoteIdentity }

// MarshalJSON stores the session.
func (s *Session) MarshalJSON() ([]byte, error) { return json.Marshal(s.st) }

// UnmarshalJSON loads a stored session.
func (s *Session) UnmarshalJSON(b []byte) error {
	var st sessionState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("omemo: session: %w", err)
	}
	if st.SenderChain.Key == (secret{}) || !st.SenderRatchet.valid() {
		return errors.New("omemo: session: no valid sending chain")
	}
	s.st = st
	return nil
}

func encryptCBC(keys messageKeys, plaintext []byte) ([]byte, error) {
	block, err := aes.NewCipher(keys.cipherKey)
	if err != nil {
		return nil, err
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	buf := append(append([]byte(nil), plaintext...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	cipher.NewCBCEncrypter(block, keys.iv).CryptBlocks(buf, buf)
	return buf, nil
}

var errPadding = errors.New("omemo: bad ciphertext padding")

func decryptCBC(keys messageKeys, ciphertext []byte) ([]byte, error) {
	if len(ciphertext) == 0 || len(ciphertext)%aes.BlockSize != 0 {
		return nil, errPadding
	}
	block, err := aes.NewCipher(keys.cipherKey)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, keys.iv).CryptBlocks(buf, ciphertext)
	pad := int(buf[len(buf)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, errPadding
	}
	for _, b := range buf[len(buf)-pad:] {
		if int(b) != pad {
			return nil, errPadding
		}
	}
	return buf[:len(buf)-pad], nil
}
