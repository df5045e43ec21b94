package omemo

import (
	"crypto/rand"
	"encoding/json"
	"testing"
)

// mustJSON marshals v or fails the test.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzDecrypt feeds arbitrary bytes to both decryption entry points: they
// must return an error or a plaintext, never panic, and a session must stay
// usable.
func FuzzDecrypt(f *testing.F) {
	alice, bob := newDevice(f), newDevice(f)
	s, err := InitiateSession(rand.Reader, alice, bob.Bundle())
	if err != nil {
		f.Fatal(err)
	}
	first, _, _ := s.Encrypt([]byte("seed"))
	bobSess, _, err := bob.DecryptPreKeyMessage(rand.Reader, nil, first)
	if err != nil {
		f.Fatal(err)
	}
	reply, _, _ := bobSess.Encrypt([]byte("reply"))
	f.Add(first)
	f.Add(reply)
	f.Add([]byte{versionByte})
	f.Add([]byte{versionByte, 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	stored := mustJSON(f, s)
	f.Fuzz(func(t *testing.T, msg []byte) {
		var sess Session
		if err := json.Unmarshal(stored, &sess); err != nil {
			t.Fatal(err)
		}
		sess.Decrypt(rand.Reader, msg)
		decodePreKeyWhisperMessage(msg)
		d := *bob
		d.PreKeys = append([]PreKey(nil), bob.PreKeys...)
		d.DecryptPreKeyMessage(rand.Reader, nil, msg)
	})
}

// FuzzUnmarshalXML feeds arbitrary elements to the XML readers, whose input
// comes from other accounts' PEP nodes and messages.
func FuzzUnmarshalXML(f *testing.F) {
	d := newDevice(f)
	bundle, _ := MarshalBundle(d.Bundle())
	list, _ := MarshalDeviceList([]uint32{1, 2})
	f.Add(bundle)
	f.Add(list)
	f.Add([]byte(`<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'><key rid='2' prekey='true'>AAAA</key><iv>AAAA</iv></header><payload>AA==</payload></encrypted>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		UnmarshalDeviceList(data)
		UnmarshalBundle(1, data)
		UnmarshalEncrypted(data)
	})
}
