package e2e

import (
	"context"
	"crypto/rand"
	"strings"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// omemoDevice is one OMEMO device of a contact, independent of xircd's
// code but for package omemo's crypto: it publishes its bundle, reads the
// messages xircd encrypts for it and answers over the same session.
type omemoDevice struct {
	t       *testing.T
	dev     *omemo.Device
	session *omemo.Session // with xircd's device
	xircd   uint32         // xircd's device, the sender it has a session with
}

func newOMEMODevice(t *testing.T) *omemoDevice {
	t.Helper()
	dev, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &omemoDevice{t: t, dev: dev}
}

// publishOMEMO publishes p's device list and the bundles of devs, open
// to anyone, as OMEMO clients publish them.
func publishOMEMO(t *testing.T, p *peer, devs ...*omemoDevice) {
	t.Helper()
	var ids []uint32
	for _, d := range devs {
		ids = append(ids, d.dev.DeviceID)
		bundle, err := omemo.MarshalBundle(d.dev.Bundle())
		if err != nil {
			t.Fatal(err)
		}
		publishOpen(t, p, omemo.BundleNode(d.dev.DeviceID), bundle)
	}
	list, err := omemo.MarshalDeviceList(ids)
	if err != nil {
		t.Fatal(err)
	}
	publishOpen(t, p, omemo.DeviceListNode, list)
}

func publishOpen(t *testing.T, p *peer, node string, payload []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	res, err := p.SendIQ(ctx, "", "set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='"+node+"'><item id='current'>"+string(payload)+"</item></publish>"+
		"<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"+
		"<field var='pubsub#access_model'><value>open</value></field></x></publish-options></pubsub>")
	if err != nil || res.Type != "result" {
		t.Fatalf("publishing %s: %+v %v", node, res, err)
	}
}

// encryptedOf is the OMEMO element of a received message, which must
// carry no text in clear but the fallback.
func encryptedOf(t *testing.T, m goxmpp.Chat) omemo.Encrypted {
	t.Helper()
	el := element(m, omemo.Namespace, "encrypted")
	if el == nil {
		t.Fatalf("message %+v is not OMEMO-encrypted", m)
	}
	if m.Text != xmpp.OMEMOFallback {
		t.Fatalf("body %q, want the fallback", m.Text)
	}
	e, err := omemo.UnmarshalEncrypted([]byte("<encrypted xmlns='" + omemo.Namespace + "'>" + el.InnerXML + "</encrypted>"))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// read decrypts what xircd sent this device; preKey tells whether the
// key came as a pre-key message.
func (d *omemoDevice) read(e omemo.Encrypted) (text string, preKey bool) {
	d.t.Helper()
	k, ok := e.KeyFor(d.dev.DeviceID)
	if !ok {
		d.t.Fatalf("no key for device %d in %+v", d.dev.DeviceID, e.Keys)
	}
	var key []byte
	var err error
	if k.PreKey {
		d.session, key, err = d.dev.DecryptPreKeyMessage(rand.Reader, d.session, k.Data)
	} else if d.session == nil {
		d.t.Fatalf("device %d: a WhisperMessage before any session", d.dev.DeviceID)
	} else {
		key, err = d.session.Decrypt(rand.Reader, k.Data)
	}
	if err != nil {
		d.t.Fatalf("device %d cannot decrypt: %v", d.dev.DeviceID, err)
	}
	d.xircd = e.SenderDeviceID
	plain, err := omemo.DecryptPayload(key, e.IV, e.Payload)
	if err != nil {
		d.t.Fatal(err)
	}
	return string(plain), k.PreKey
}

// answer sends text to the user, encrypted for xircd's device over the
// session xircd started, as an OMEMO client's message.
func (d *omemoDevice) answer(p *rawPeer, to, text string) {
	d.t.Helper()
	e, err := omemo.Encrypt(rand.Reader, d.dev.DeviceID, []byte(text), []omemo.Recipient{{DeviceID: d.xircd, Session: d.session}})
	if err != nil {
		d.t.Fatal(err)
	}
	el, err := omemo.MarshalEncrypted(e)
	if err != nil {
		d.t.Fatal(err)
	}
	p.send(`<message to='%s' type='chat'>%s<encryption xmlns='urn:xmpp:eme:0' namespace='eu.siacs.conversations.axolotl' name='OMEMO'/>`+
		`<body>%s</body><store xmlns='urn:xmpp:hints'/></message>`, to, el, xmpp.OMEMOFallback)
}

// The IRC user writes encrypted to a contact's OMEMO device: the message
// arrives encrypted, with only the fallback in clear, and decrypts; the
// contact answers over the same session and both go on, the ratchet
// advancing; a second device of the contact, published later, gets the
// next messages too; after xircd restarts, the same sessions go on.
func TestOMEMOSend(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	keys := e.peer("alice", "keys")
	laptop, phone := newOMEMODevice(t), newOMEMODevice(t)
	publishOMEMO(t, keys, laptop)
	alice := e.rawPeer("alice", "laptop")
	e.start()
	c := e.client("me", "echo-message")
	waitContact(t, c, "Alice")
	c.send("PRIVMSG &xmpp :omemo on Alice")
	c.expectLine("OMEMO for Alice: on")

	isOMEMO := func(m goxmpp.Chat) bool { return element(m, omemo.Namespace, "encrypted") != nil }
	exchange := func(c *ircClient, out, back string, devs ...*omemoDevice) {
		t.Helper()
		c.send("PRIVMSG Alice :%s", out)
		c.expectLine("PRIVMSG Alice :🔒 " + out)
		enc := encryptedOf(t, alice.expect(isOMEMO))
		for _, d := range devs {
			if text, _ := d.read(enc); text != out {
				t.Fatalf("device %d reads %q, want %q", d.dev.DeviceID, text, out)
			}
		}
		devs[0].answer(alice, e.userJID, back)
		c.expectLine("PRIVMSG me :🔒 " + back)
	}

	c.send("PRIVMSG Alice :first secret")
	c.expectLine("PRIVMSG Alice :🔒 first secret")
	enc := encryptedOf(t, alice.expect(isOMEMO))
	if text, preKey := laptop.read(enc); text != "first secret" || !preKey {
		t.Fatalf("first message: %q (pre-key %v), want a pre-key message", text, preKey)
	}
	laptop.answer(alice, e.userJID, "first answer")
	c.expectLine("PRIVMSG me :🔒 first answer")
	c.send("PRIVMSG Alice :second secret")
	enc = encryptedOf(t, alice.expect(isOMEMO))
	if text, preKey := laptop.read(enc); text != "second secret" || preKey {
		t.Fatalf("after the answer: %q (pre-key %v), want a WhisperMessage", text, preKey)
	}
	exchange(c, "third secret", "third answer", laptop)

	// The phone joins alice's devices: xircd hears of it and encrypts for
	// both.
	publishOMEMO(t, keys, laptop, phone)
	waitFor(t, func() bool {
		c.send("PRIVMSG &xmpp :omemo")
		return strings.Count(c.expectLine("Alice: on").Trailing(), "(session)") == 2
	})
	exchange(c, "for both devices", "the laptop answers", laptop, phone)

	e.stop()
	e.start()
	c = e.client("me", "echo-message")
	waitContact(t, c, "Alice")
	exchange(c, "after a restart", "still here", laptop, phone)
}
