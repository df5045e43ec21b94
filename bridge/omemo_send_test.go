package bridge

import (
	"crypto/rand"
	"fmt"
	"testing"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// omemoPeer is an OMEMO device that xircd encrypts for: a contact's or
// one of the account's other devices, its bundle served by the fake.
type omemoPeer struct {
	t       *testing.T
	jid     string
	dev     *omemo.Device
	session *omemo.Session
}

func newOMEMOPeer(t *testing.T, h *harness, jid string) *omemoPeer {
	t.Helper()
	dev, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h.x.mu.Lock()
	if h.x.omemoBundles == nil {
		h.x.omemoBundles = map[string]omemo.Bundle{}
	}
	h.x.omemoBundles[sessionKey(jid, dev.DeviceID)] = dev.Bundle()
	h.x.mu.Unlock()
	return &omemoPeer{t: t, jid: jid, dev: dev}
}

// listDevices makes the fake serve jid's device list.
func listDevices(h *harness, jid string, ids ...uint32) {
	h.x.mu.Lock()
	defer h.x.mu.Unlock()
	if h.x.omemoLists == nil {
		h.x.omemoLists = map[string][]uint32{}
	}
	h.x.omemoLists[jid] = ids
}

// read decrypts the key for this device in an encrypted message xircd
// sent; preKey tells whether it was a pre-key message.
func (p *omemoPeer) read(m xmpp.OutMessage) (text string, preKey bool) {
	p.t.Helper()
	e, err := omemo.UnmarshalEncrypted(m.OMEMO)
	if err != nil {
		p.t.Fatal(err)
	}
	k, ok := e.KeyFor(p.dev.DeviceID)
	if !ok {
		p.t.Fatalf("no key for device %d in %+v", p.dev.DeviceID, e.Keys)
	}
	var key []byte
	if k.PreKey {
		p.session, key, err = p.dev.DecryptPreKeyMessage(rand.Reader, p.session, k.Data)
	} else {
		key, err = p.session.Decrypt(rand.Reader, k.Data)
	}
	if err != nil {
		p.t.Fatalf("device %d cannot decrypt: %v", p.dev.DeviceID, err)
	}
	plain, err := omemo.DecryptPayload(key, e.IV, e.Payload)
	if err != nil {
		p.t.Fatal(err)
	}
	return string(plain), k.PreKey
}

// reply is the peer's encrypted answer to xircd's device, over the
// session xircd started.
func (p *omemoPeer) reply(h *harness, text string) xmpp.Message {
	p.t.Helper()
	e, err := omemo.Encrypt(rand.Reader, p.dev.DeviceID, []byte(text), []omemo.Recipient{{DeviceID: h.b.omemo.dev.DeviceID, Session: p.session}})
	if err != nil {
		p.t.Fatal(err)
	}
	x, err := omemo.MarshalEncrypted(e)
	if err != nil {
		p.t.Fatal(err)
	}
	return xmpp.Message{From: p.jid + "/phone", Type: "chat", Body: xmpp.OMEMOFallback, Encryption: "OMEMO", OMEMO: x}
}

// sentOMEMO returns and forgets the encrypted messages sent so far.
func sentOMEMO(h *harness) []xmpp.OutMessage {
	h.barrier()
	h.x.mu.Lock()
	defer h.x.mu.Unlock()
	s := h.x.sentOMEMO
	h.x.sentOMEMO = nil
	return s
}

// omemoOnline is a gateway with a state_dir, connected, with alice in
// the roster and a client attached.
func omemoOnline(t *testing.T, dir string) (*harness, *ircClient) {
	h := newHarness(t, Config{StateDir: dir})
	h.connect(item("alice@example.org", "alice"))
	c := h.attach("me", "echo-message")
	c.take()
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d]", h.b.omemo.dev.DeviceID), fmt.Sprintf("publish bundle %d", h.b.omemo.dev.DeviceID))
	h.expectCalls()
	return h, c
}

// With "omemo on", messages wait for the contact's device list and
// bundle, go in order, encrypted, pre-key messages until the device
// answers, then plain WhisperMessages; the echo is marked.
func TestOMEMOSendOn(t *testing.T) {
	h, c := omemoOnline(t, t.TempDir())
	alice := newOMEMOPeer(t, h, "alice@example.org")
	listDevices(h, "alice@example.org", alice.dev.DeviceID)
	h.x.holdAnswers = true
	c.send("PRIVMSG &xmpp :omemo on alice")
	c.expect(":me!user@localhost PRIVMSG &xmpp :omemo on alice", ":xircd!xircd@irc.test PRIVMSG &xmpp :OMEMO for alice: on; messages go encrypted; devices not known yet")
	c.send("PRIVMSG alice :first")
	c.send("PRIVMSG alice :\x01ACTION second\x01")
	c.expect(":me!user@localhost PRIVMSG alice :🔒 first", ":me!user@localhost PRIVMSG alice :\x01ACTION 🔒 second\x01")
	h.expectCalls() // nothing goes before the keys are there
	h.x.holdAnswers = false
	h.expectOMEMOCalls("devices alice@example.org", fmt.Sprintf("bundle alice@example.org %d", alice.dev.DeviceID))
	h.expectCalls(`message id=id1 to=alice@example.org type=chat state=active body="first" omemo`,
		`message id=id2 to=alice@example.org type=chat state=active body="/me second" omemo`)
	for i, m := range sentOMEMO(h) {
		want := []string{"first", "/me second"}[i]
		if text, preKey := alice.read(m); text != want || !preKey {
			t.Fatalf("message %d: %q (pre-key %v), want %q as a pre-key message", i, text, preKey, want)
		}
	}
	h.event(alice.reply(h, "got it"))
	c.expect(":alice!alice@example.org PRIVMSG me :🔒 got it")
	c.send("PRIVMSG alice :third")
	c.take()
	h.expectCalls(`message id=id3 to=alice@example.org/phone type=chat state= body="third" omemo`)
	if text, preKey := alice.read(sentOMEMO(h)[0]); text != "third" || preKey {
		t.Fatalf("after the answer: %q (pre-key %v), want a WhisperMessage", text, preKey)
	}
}
