package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// omemoContact is an OMEMO device of a contact, independent of xircd's
// code but package omemo: it reads xircd's device and bundle from the
// user's PEP nodes as a client does, starts a session, and sends over a
// raw go-xmpp connection.
type omemoContact struct {
	t       *testing.T
	dev     *omemo.Device
	session *omemo.Session
	xircd   uint32 // xircd's device
	raw     *rawPeer
}

// newOMEMOContact waits until xircd's device is in the user's device list
// and starts a session from its bundle, for user's device on resource.
func newOMEMOContact(e *env, user, resource string) *omemoContact {
	t := e.t
	t.Helper()
	reader := e.peer(user, resource+"-reader")
	var devices []uint32
	var err error
	waitFor(t, func() bool {
		devices, err = omemo.UnmarshalDeviceList(omemoItem(t, reader, e.userJID, omemo.DeviceListNode, deviceListElement))
		return err == nil && len(devices) > 0
	})
	xircd := devices[len(devices)-1]
	var bundle omemo.Bundle
	waitFor(t, func() bool {
		bundle, err = omemo.UnmarshalBundle(xircd, omemoItem(t, reader, e.userJID, omemo.BundleNode(xircd), bundleElement))
		return err == nil
	})
	dev, err := omemo.NewDevice(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := omemo.InitiateSession(rand.Reader, dev, bundle)
	if err != nil {
		t.Fatal(err)
	}
	return &omemoContact{t: t, dev: dev, session: s, xircd: xircd, raw: e.rawPeer(user, resource)}
}

// send sends text encrypted for xircd's device to to, as a message of
// type typ, with the fallback body OMEMO clients send.
func (oc *omemoContact) send(to, typ, text string) {
	oc.t.Helper()
	enc, err := omemo.Encrypt(rand.Reader, oc.dev.DeviceID, []byte(text), []omemo.Recipient{{DeviceID: oc.xircd, Session: oc.session}})
	if err != nil {
		oc.t.Fatal(err)
	}
	el, err := omemo.MarshalEncrypted(enc)
	if err != nil {
		oc.t.Fatal(err)
	}
	oc.raw.send(`<message to='%s' type='%s'>%s<encryption xmlns='urn:xmpp:eme:0' namespace='eu.siacs.conversations.axolotl' name='OMEMO'/>`+
		`<body>I sent you an OMEMO encrypted message but your client doesn't seem to support that.</body><store xmlns='urn:xmpp:hints'/></message>`, to, typ, el)
}

// texts are the texts of msgs.
func texts(msgs []shownMsg) string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.text)
	}
	return strings.Join(out, "\n")
}

// In a room that reveals real JIDs, a contact's OMEMO message is
// decrypted with the session of their one-to-one chat; in a room that
// hides them from xircd, the notice says why. CHATHISTORY shows the
// decrypted messages again while xircd runs, and after a restart says
// they were read live and not kept; what arrives while xircd is not
// running is decrypted when it comes back.
func TestOMEMORoomsAndHistory(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	e.srvAccount(t, "zed")
	zed := e.peer("zed", "pc")
	open := "team@" + e.srv.MUCDomain
	hidden := "hidden@" + e.srv.MUCDomain
	zed.joinRoom(open, "zed", "", openRoom)
	zed.joinRoom(hidden, "zed", "", map[string]string{"muc#roomconfig_whois": "moderators", "muc#roomconfig_persistentroom": "1"})

	e.start()
	c := historyClient(e, "me")
	waitContact(t, c, "Alice")
	alice := newOMEMOContact(e, "alice", "laptop")
	for _, room := range []string{open, hidden} {
		alice.raw.send(`<presence to='%s/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, room)
		zed.expect(func(ev xmpp.Event) bool {
			p, ok := ev.(xmpp.Presence)
			return ok && p.From == room+"/alice" && p.Type == ""
		})
	}
	c.send("JOIN #team,#hidden")
	c.expectLine("366", "#team")
	c.expectLine("366", "#hidden")

	alice.send(e.userJID, "chat", "a first secret")
	c.expectLine(":Alice!", "PRIVMSG me :🔒 a first secret")
	alice.send(open, "groupchat", "secret for the team")
	c.expectLine(":Alice!", "PRIVMSG #team :🔒 secret for the team")
	// The user's other OMEMO client in the room, under the same nick: its
	// message comes back to xircd from the room.
	laptop := newOMEMOContact(e, "me", "laptop")
	laptop.raw.send(`<presence to='%s/me'><x xmlns='http://jabber.org/protocol/muc'/></presence>`, open)
	laptop.send(open, "groupchat", "from my laptop")
	c.expectLine(":me!", "PRIVMSG #team :🔒 from my laptop")
	// The same session as the laptop's chats (here a carbon of one).
	laptop.send("alice@"+e.srv.Domain, "chat", "to alice from my laptop")
	c.expectLine(":me!", "PRIVMSG Alice :🔒 to alice from my laptop")
	alice.send(hidden, "groupchat", "hidden from you")
	c.expectLine("PRIVMSG #hidden :\x01ACTION sent an OMEMO-encrypted message, which xircd cannot read (the room does not reveal its occupants' real JIDs to xircd, which OMEMO needs)")
	alice.send(e.userJID, "chat", "a second secret")
	c.expectLine(":Alice!", "PRIVMSG me :🔒 a second secret")

	got := texts(history(c, "Alice", "LATEST Alice * 10"))
	if !strings.Contains(got, "Alice: 🔒 a first secret") || !strings.Contains(got, "Alice: 🔒 a second secret") {
		t.Errorf("CHATHISTORY of Alice:\n%s", got)
	}
	got = texts(history(c, "#team", "LATEST #team * 10"))
	if !strings.Contains(got, "Alice: 🔒 secret for the team") {
		t.Errorf("CHATHISTORY of #team:\n%s", got)
	}

	e.stop()
	alice.send(e.userJID, "chat", "while you were away")
	e.start()
	c = historyClient(e, "me")
	// The laptop was online: the message went to it, and xircd's start-up
	// catch-up fetches it from the archive.
	c.expectLine(":Alice!", "PRIVMSG me :🔒 while you were away")
	c.expectLine("from the server's archive that arrived while xircd was not running")
	msgs := history(c, "Alice", "LATEST Alice * 10")
	notKept := slices.IndexFunc(msgs, func(m shownMsg) bool {
		return m.text == "Alice: \x01ACTION sent an OMEMO-encrypted message (read live on this device, not kept: xircd does not store decrypted text)\x01"
	})
	if notKept < 0 || strings.Contains(texts(msgs), "cannot read") || !strings.Contains(texts(msgs), "Alice: 🔒 while you were away") {
		t.Errorf("CHATHISTORY of Alice after a restart:\n%s", texts(msgs))
	}

	// No decrypted text on disk: neither in state_dir nor in the log.
	e.stop()
	files, _ := filepath.Glob(filepath.Join(e.dir, "state", "*"))
	for _, f := range append(files, e.logFile) {
		data, _ := os.ReadFile(f)
		for _, text := range []string{"a first secret", "secret for the team", "while you were away"} {
			if strings.Contains(string(data), text) {
				t.Errorf("%s holds the plaintext %q", f, text)
			}
		}
	}
}

// CHATHISTORY of a conversation encrypted both ways: the user's messages
// (which xircd cannot decrypt again: OMEMO gives the sender no key) and
// the contact's answers show with their text while xircd runs, and after
// a restart as encrypted and not kept, never as unreadable.
func TestOMEMOConversationHistory(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	laptop := newOMEMODevice(t)
	publishOMEMO(t, e.peer("alice", "keys"), laptop)
	alice := e.rawPeer("alice", "laptop")
	e.start()
	c := historyClient(e, "me")
	waitContact(t, c, "Alice")
	c.send("PRIVMSG &xmpp :omemo on Alice")
	c.expectLine("OMEMO for Alice: on")
	c.send("PRIVMSG Alice :my question")
	c.expectLine("PRIVMSG Alice :🔒 my question")
	enc := encryptedOf(t, alice.expect(func(m goxmpp.Chat) bool { return element(m, omemo.Namespace, "encrypted") != nil }))
	if text, _ := laptop.read(enc); text != "my question" {
		t.Fatalf("alice reads %q", text)
	}
	laptop.answer(alice, e.userJID, "her answer")
	c.expectLine("PRIVMSG me :🔒 her answer")

	got := texts(history(c, "Alice", "LATEST Alice * 10"))
	if got != "me: 🔒 my question\nAlice: 🔒 her answer" {
		t.Errorf("CHATHISTORY:\n%s", got)
	}

	e.stop()
	e.start()
	c = historyClient(e, "me")
	got = texts(history(c, "Alice", "LATEST Alice * 10"))
	want := "me: \x01ACTION sent an OMEMO-encrypted message from this device (not kept: xircd does not store decrypted text, and OMEMO gives the sender no key to read it again)\x01\n" +
		"Alice: \x01ACTION sent an OMEMO-encrypted message (read live on this device, not kept: xircd does not store decrypted text)\x01"
	if got != want {
		t.Errorf("CHATHISTORY after a restart:\n%s\nwant:\n%s", got, want)
	}
}

// A real OMEMO client in a room: profanity, as alice, writes encrypted in
// a non-anonymous members-only room where the IRC user is a member; xircd
// reads it with the session of alice's one-to-one chat.
func TestProfanityOMEMORoom(t *testing.T) {
	needTool(t, "tmux", "profanity")
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	e.srvAccount(t, "zed")
	zed := e.peer("zed", "pc")
	room := "secret@" + e.srv.MUCDomain
	zed.joinRoom(room, "zed", "", map[string]string{"muc#roomconfig_whois": "anyone", "muc#roomconfig_membersonly": "1", "muc#roomconfig_persistentroom": "1"})
	for _, user := range []string{"alice", "me"} {
		zed.iq(room, "set", "<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member' jid='"+user+"@"+e.srv.Domain+"'/></query>")
	}
	e.start()
	c := e.client("me")
	waitContact(t, c, "Alice")
	prof := startProfanityOMEMO(t, e, c)
	c.send("JOIN #secret")
	c.expectLine("366", "#secret")

	prof.keys("/join " + room + " nick alice")
	c.expectLine(":Alice!", "JOIN #secret")
	// profanity asks the room's features at the first "/omemo start" and
	// refuses until it has them.
	prof.keys("/omemo start")
	waitFor(t, func() bool {
		return strings.Contains(string(prof.log()), "Received disco#info response for room: "+room)
	})
	prof.keys("/omemo start")
	prof.waitScreen("[OMEMO]")
	prof.keys("secret in the room")
	c.expectLine(":Alice!", "PRIVMSG #secret :🔒 secret in the room")
	// The same session as alice's chat: her next chat message, still a
	// pre-key message of that session, reads too.
	prof.keys("/win 2") // the chat "/omemo start" opened
	prof.waitScreen(e.userJID)
	prof.keys("and now just to you")
	c.expectLine(":Alice!", "PRIVMSG me :🔒 and now just to you")
}
