package bridge

import (
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	"xircd/xmpp/omemo"
)

// The receive path takes any <encrypted/> element, from a contact with a
// session or not, without a crash; what it cannot authenticate is never
// text.
func FuzzOMEMOReceive(f *testing.F) {
	files := newFileWriter(slog.New(slog.DiscardHandler))
	st := loadOMEMO(f.TempDir(), files, time.Time{})
	f.Cleanup(files.flush) // the device's writes end before its directory goes
	contact, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	keys, err := st.keys()
	if err != nil {
		f.Fatal(err)
	}
	session, err := omemo.InitiateSession(rand.Reader, contact, keys.Bundle())
	if err != nil {
		f.Fatal(err)
	}
	encrypt := func(text string) []byte {
		e, err := omemo.Encrypt(rand.Reader, contact.DeviceID, []byte(text), []omemo.Recipient{{DeviceID: st.dev.DeviceID, Session: session}})
		if err != nil {
			f.Fatal(err)
		}
		x, err := omemo.MarshalEncrypted(e)
		if err != nil {
			f.Fatal(err)
		}
		return x
	}
	from := omemoFrom{speaker: "alice@example.org", jid: "alice@example.org"}
	admit := func(string) error { return nil }
	if d, err := st.decrypt(from, encrypt("start"), false, admit); err != nil || d.text != "start" {
		f.Fatalf("the session does not start: %q, %v", d.text, err)
	}
	next := encrypt("next")
	f.Add(next)
	f.Add(next[:len(next)/2])
	f.Add([]byte("<encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='1'><key rid='1'>AAAA</key><iv>AAAA</iv></header></encrypted>"))
	f.Fuzz(func(t *testing.T, element []byte) {
		d, err := st.decrypt(from, element, false, admit)
		if err == nil && d.text != "" && d.text != "next" && !d.known {
			t.Errorf("decrypted %q from a message nobody encrypted", d.text)
		}
	})
}
