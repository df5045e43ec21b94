package omemo

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
)

// The OMEMO 0.3 payload: the body is encrypted once with AES-128-GCM; the
// 16-byte key followed by the 16-byte tag is what each recipient device
// gets through its session.
const (
	payloadKeySize = 16
	payloadIVSize  = 12
	payloadTagSize = 16
)

// Encrypted is an OMEMO message: one payload and, per recipient device, the
// payload's key encrypted by the session with that device.
type Encrypted struct {
	SenderDeviceID uint32
	IV             []byte
	// Payload is the body's ciphertext without its tag; empty for a key
	// transport message.
	Payload []byte
	Keys    []RecipientKey
}

// RecipientKey is the payload key encrypted for one device.
type RecipientKey struct {
	DeviceID uint32
	// PreKey reports that Data is a PreKeyWhisperMessage, else a
	// WhisperMessage.
	PreKey bool
	Data   []byte
}

// Recipient is a device to encrypt for and the session with it.
type Recipient struct {
	DeviceID uint32
	Session  *Session
}

// Encrypt encrypts body for the recipients' devices. Each session advances.
func Encrypt(random io.Reader, senderDeviceID uint32, body []byte, recipients []Recipient) (Encrypted, error) {
	if len(body) == 0 {
		// An empty payload would read as a key transport element.
		return Encrypted{}, errors.New("omemo: empty body")
	}
	keyAndIV := make([]byte, payloadKeySize+payloadIVSize)
	if _, err := io.ReadFull(random, keyAndIV); err != nil {
		return Encrypted{}, fmt.Errorf("omemo: payload key: %w", err)
	}
	key, iv := keyAndIV[:payloadKeySize], keyAndIV[payloadKeySize:]
	gcm, err := newGCM(key, len(iv))
	if err != nil {
		return Encrypted{}, err
	}
	sealed := gcm.Seal(nil, iv, body, nil)
	payload, tag := sealed[:len(body)], sealed[len(body):]
	keyMaterial := append(append([]byte(nil), key...), tag...)
	e := Encrypted{SenderDeviceID: senderDeviceID, IV: iv, Payload: payload}
	for _, r := range recipients {
		data, preKey, err := r.Session.Encrypt(keyMaterial)
		if err != nil {
			return Encrypted{}, fmt.Errorf("omemo: encrypting for device %d: %w", r.DeviceID, err)
		}
		e.Keys = append(e.Keys, RecipientKey{DeviceID: r.DeviceID, PreKey: preKey, Data: data})
	}
	return e, nil
}

// KeyFor returns the key addressed to device id.
func (e Encrypted) KeyFor(id uint32) (RecipientKey, bool) {
	for _, k := range e.Keys {
		if k.DeviceID == id {
			return k, true
		}
	}
	return RecipientKey{}, false
}

// ErrNoPayload is returned by DecryptPayload for a message without a
// payload (a key transport message, which only sets up or advances a
// session).
var ErrNoPayload = errors.New("omemo: message has no payload")

// DecryptPayload decrypts the payload with the key material a session
// decrypted from the message's key: the 16-byte key and the tag, or, as
// older clients sent it, the key alone with the tag at the end of the
// payload. A 16-byte IV of older clients is accepted too.
func DecryptPayload(keyMaterial, iv, payload []byte) ([]byte, error) {
	if len(payload) == 0 {
		return nil, ErrNoPayload
	}
	var key, sealed []byte
	switch len(keyMaterial) {
	case payloadKeySize + payloadTagSize:
		key = keyMaterial[:payloadKeySize]
		sealed = append(append([]byte(nil), payload...), keyMaterial[payloadKeySize:]...)
	case payloadKeySize:
		key, sealed = keyMaterial, payload
	default:
		return nil, fmt.Errorf("omemo: payload key of %d bytes", len(keyMaterial))
	}
	if len(iv) != 12 && len(iv) != 16 {
		return nil, fmt.Errorf("omemo: IV of %d bytes", len(iv))
	}
	gcm, err := newGCM(key, len(iv))
	if err != nil {
		return nil, err
	}
	body, err := gcm.Open(nil, iv, sealed, nil)
	if err != nil {
		return nil, fmt.Errorf("omemo: payload: %w", err)
	}
	return body, nil
}

func newGCM(key []byte, ivSize int) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	if ivSize == payloadIVSize {
		return cipher.NewGCM(block)
	}
	return cipher.NewGCMWithNonceSize(block, ivSize)
}
