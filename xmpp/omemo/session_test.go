package omemo

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
)

func newDevice(t testing.TB) *Device {
	t.Helper()
	d, err := NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pair is Alice with a session started from Bob's bundle, and Bob with the
// session his first pre-key message built.
type pair struct {
	alice, bob         *Device
	aliceSess, bobSess *Session
}

func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{alice: newDevice(t), bob: newDevice(t)}
	var err error
	p.aliceSess, err = InitiateSession(rand.Reader, p.alice, p.bob.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	msg := encrypt(t, p.aliceSess, "first", true)
	var plain []byte
	p.bobSess, plain, err = p.bob.DecryptPreKeyMessage(rand.Reader, nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != "first" {
		t.Fatalf("Bob read %q", plain)
	}
	return p
}

func encrypt(t *testing.T, s *Session, text string, wantPreKey bool) []byte {
	t.Helper()
	msg, preKey, err := s.Encrypt([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if preKey != wantPreKey {
		t.Fatalf("pre-key message %v, want %v", preKey, wantPreKey)
	}
	return msg
}

func decrypt(t *testing.T, s *Session, msg []byte, want string) {
	t.Helper()
	plain, err := s.Decrypt(rand.Reader, msg)
	if err != nil {
		t.Fatal(err)
	}
	if string(plain) != want {
		t.Fatalf("read %q, want %q", plain, want)
	}
}

func TestSessionConversation(t *testing.T) {
	p := newPair(t)
	if p.bobSess.RemoteIdentity() != p.alice.Identity.Public || p.aliceSess.RemoteIdentity() != p.bob.Identity.Public {
		t.Fatal("sessions do not name the peers' identity keys")
	}
	if len(p.bob.PreKeys) != PreKeyCount-1 {
		t.Fatalf("Bob has %d pre-keys after a session was built, want %d", len(p.bob.PreKeys), PreKeyCount-1)
	}
	// Alice has not heard back: her next message is a pre-key message too,
	// which Bob decrypts with the session he has.
	again := encrypt(t, p.aliceSess, "second", true)
	same, plain, err := p.bob.DecryptPreKeyMessage(rand.Reader, p.bobSess, again)
	if err != nil || same != p.bobSess || string(plain) != "second" {
		t.Fatalf("second pre-key message: %v %q (same session %v)", err, plain, same == p.bobSess)
	}

	ratchetKeys := map[PublicKey]bool{}
	for turn := 0; turn < 4; turn++ {
		for i := 0; i < 3; i++ {
			text := fmt.Sprintf("bob %d.%d", turn, i)
			decrypt(t, p.aliceSess, encrypt(t, p.bobSess, text, false), text)
		}
		ratchetKeys[p.bobSess.st.SenderRatchet.Public] = true
		for i := 0; i < 3; i++ {
			text := fmt.Sprintf("alice %d.%d", turn, i)
			decrypt(t, p.bobSess, encrypt(t, p.aliceSess, text, false), text)
		}
		ratchetKeys[p.aliceSess.st.SenderRatchet.Public] = true
	}
	if len(ratchetKeys) != 8 {
		t.Fatalf("%d distinct ratchet keys over 8 turns, want 8: the ratchet does not turn", len(ratchetKeys))
	}
}

func TestSessionOutOfOrderAndReplay(t *testing.T) {
	p := newPair(t)
	decrypt(t, p.aliceSess, encrypt(t, p.bobSess, "answer", false), "answer")
	var msgs [][]byte
	for i := 0; i < 4; i++ {
		msgs = append(msgs, encrypt(t, p.aliceSess, fmt.Sprint(i), false))
	}
	for _, i := range []int{3, 0, 2, 1} {
		decrypt(t, p.bobSess, msgs[i], fmt.Sprint(i))
	}
	for i := range msgs {
		if _, err := p.bobSess.Decrypt(rand.Reader, msgs[i]); !errors.Is(err, ErrDuplicateMessage) {
			t.Fatalf("replay of message %d: %v, want ErrDuplicateMessage", i, err)
		}
	}
	// A message of an earlier chain, kept back while the ratchet turned.
	late := encrypt(t, p.aliceSess, "late", false)
	decrypt(t, p.aliceSess, encrypt(t, p.bobSess, "turn", false), "turn")
	decrypt(t, p.bobSess, encrypt(t, p.aliceSess, "new chain", false), "new chain")
	decrypt(t, p.bobSess, late, "late")
}

func TestPreKeyMessageReplay(t *testing.T) {
	alice, bob := newDevice(t), newDevice(t)
	s, err := InitiateSession(rand.Reader, alice, bob.Bundle())
	if err != nil {
		t.Fatal(err)
	}
	msg := encrypt(t, s, "once", true)
	bobSess, _, err := bob.DecryptPreKeyMessage(rand.Reader, nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bob.DecryptPreKeyMessage(rand.Reader, bobSess, msg); !errors.Is(err, ErrDuplicateMessage) {
		t.Fatalf("replay to the session: %v, want ErrDuplicateMessage", err)
	}
	if _, _, err := bob.DecryptPreKeyMessage(rand.Reader, nil, msg); err == nil {
		t.Fatal("replay with the used pre-key accepted")
	}
}

func TestSessionRejectsForgedAndTruncated(t *testing.T) {
	p := newPair(t)
	decrypt(t, p.aliceSess, encrypt(t, p.bobSess, "answer", false), "answer")
	// The forgeries are on a chain Bob already has, so they reach its
	// message keys.
	decrypt(t, p.bobSess, encrypt(t, p.aliceSess, "opens the chain", false), "opens the chain")
	msg := encrypt(t, p.aliceSess, "genuine", false)
	for name, bad := range map[string][]byte{
		"MAC":        flip(msg, len(msg)-1),
		"ciphertext": flip(msg, len(msg)-macLength-3),
		"counter":    flip(msg, 37),
		"version":    flip(msg, 0),
	} {
		if _, err := p.bobSess.Decrypt(rand.Reader, bad); err == nil {
			t.Errorf("forged %s accepted", name)
		}
	}
	if _, err := p.bobSess.Decrypt(rand.Reader, flip(msg, len(msg)-1)); !errors.Is(err, ErrBadMAC) {
		t.Errorf("forged MAC: %v, want ErrBadMAC", err)
	}
	for n := 0; n < len(msg); n++ {
		if _, err := p.bobSess.Decrypt(rand.Reader, msg[:n]); err == nil {
			t.Fatalf("message truncated to %d bytes accepted", n)
		}
	}
	// A failed decryption leaves the session as it was.
	decrypt(t, p.bobSess, msg, "genuine")
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

func TestSessionTooFarAhead(t *testing.T) {
	p := newPair(t)
	var msg []byte
	for i := 0; i <= maxSkip+1; i++ {
		msg = encrypt(t, p.bobSess, "x", false)
	}
	if _, err := p.aliceSess.Decrypt(rand.Reader, msg); err == nil {
		t.Fatal("message more than maxSkip ahead accepted")
	}
}

func TestInvalidBundleRejected(t *testing.T) {
	alice, bob := newDevice(t), newDevice(t)
	b := bob.Bundle()
	b.SignedPreKeySignature = flip(b.SignedPreKeySignature, 10)
	if _, err := InitiateSession(rand.Reader, alice, b); !errors.Is(err, ErrInvalidBundle) {
		t.Fatalf("bad signature: %v, want ErrInvalidBundle", err)
	}
	b = bob.Bundle()
	b.SignedPreKey = b.PreKeys[0].Key
	if _, err := InitiateSession(rand.Reader, alice, b); !errors.Is(err, ErrInvalidBundle) {
		t.Fatalf("substituted signed pre-key: %v, want ErrInvalidBundle", err)
	}
}

func TestSessionSurvivesStorage(t *testing.T) {
	p := newPair(t)
	reload := func(s *Session) *Session {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var loaded Session
		if err := json.Unmarshal(data, &loaded); err != nil {
			t.Fatal(err)
		}
		return &loaded
	}
	pending := encrypt(t, p.bobSess, "skipped", false)
	decrypt(t, p.aliceSess, encrypt(t, p.bobSess, "answer", false), "answer")
	p.aliceSess, p.bobSess = reload(p.aliceSess), reload(p.bobSess)
	decrypt(t, p.bobSess, encrypt(t, p.aliceSess, "after reload", false), "after reload")
	decrypt(t, p.aliceSess, pending, "skipped")

	var s Session
	for _, bad := range []string{`{`, `[]`, `{"root_key":"!!"}`, `{}`} {
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("session %s accepted", bad)
		}
	}
}

func TestPayloadForSeveralDevices(t *testing.T) {
	alice := newDevice(t)
	bobs := []*Device{newDevice(t), newDevice(t)}
	var recipients []Recipient
	for _, b := range bobs {
		s, err := InitiateSession(rand.Reader, alice, b.Bundle())
		if err != nil {
			t.Fatal(err)
		}
		recipients = append(recipients, Recipient{DeviceID: b.DeviceID, Session: s})
	}
	body := []byte("a body for every device")
	e, err := Encrypt(rand.Reader, alice.DeviceID, body, recipients)
	if err != nil {
		t.Fatal(err)
	}
	if len(e.IV) != 12 || len(e.Payload) != len(body) || bytes.Contains(e.Payload, body[:8]) {
		t.Fatalf("unexpected payload shape: IV %d bytes, payload %d bytes", len(e.IV), len(e.Payload))
	}
	for _, b := range bobs {
		k, ok := e.KeyFor(b.DeviceID)
		if !ok || !k.PreKey {
			t.Fatalf("no pre-key key for device %d", b.DeviceID)
		}
		_, keyMaterial, err := b.DecryptPreKeyMessage(rand.Reader, nil, k.Data)
		if err != nil {
			t.Fatal(err)
		}
		if len(keyMaterial) != payloadKeySize+payloadTagSize {
			t.Fatalf("key material of %d bytes", len(keyMaterial))
		}
		got, err := DecryptPayload(keyMaterial, e.IV, e.Payload)
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("DecryptPayload: %q, %v", got, err)
		}
		if _, err := DecryptPayload(keyMaterial, e.IV, flip(e.Payload, 0)); err == nil {
			t.Fatal("damaged payload accepted")
		}
		if _, err := DecryptPayload(flip(keyMaterial, 20), e.IV, e.Payload); err == nil {
			t.Fatal("damaged tag accepted")
		}
		if _, err := DecryptPayload(keyMaterial[:7], e.IV, e.Payload); err == nil {
			t.Fatal("short key accepted")
		}
	}
	if _, err := DecryptPayload(make([]byte, 32), e.IV, nil); !errors.Is(err, ErrNoPayload) {
		t.Fatalf("key transport message: %v, want ErrNoPayload", err)
	}
}

// Older clients sent a 16-byte key with the tag left on the payload, and a
// 16-byte IV.
func TestPayloadOlderLayout(t *testing.T) {
	key, iv := make([]byte, 16), make([]byte, 16)
	rand.Read(key)
	rand.Read(iv)
	gcm, err := newGCM(key, len(iv))
	if err != nil {
		t.Fatal(err)
	}
	sealed := gcm.Seal(nil, iv, []byte("old style"), nil)
	got, err := DecryptPayload(key, iv, sealed)
	if err != nil || string(got) != "old style" {
		t.Fatalf("%q, %v", got, err)
	}
}

func TestEncryptRefusesEmptyBody(t *testing.T) {
	p := newPair(t)
	if _, err := Encrypt(rand.Reader, p.alice.DeviceID, nil, []Recipient{{DeviceID: p.bob.DeviceID, Session: p.aliceSess}}); err == nil {
		t.Fatal("empty body encrypted")
	}
}
