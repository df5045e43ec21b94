package bridge

import (
	"testing"

	"xircd/xmpp"
)

// omemoRoom returns a harness with an OMEMO device whose user "me" is in
// #room with alice (a contact, whose real JID the room reveals), bob (a
// stranger the room keeps anonymous), and its client.
func omemoRoom(t *testing.T) (*harness, *ircClient) {
	t.Helper()
	h := newHarness(t, Config{StateDir: t.TempDir(), MUCService: "conference.example.org"})
	c := h.attach("me")
	h.connect(item("alice@example.org", "Alice"))
	c.send("JOIN #room")
	h.event(occ("alice", "owner", "moderator", "alice@example.org/phone"))
	h.event(occ("bob", "none", "participant", ""))
	h.event(occ("me", "none", "participant", "me@example.org/xircd", 110))
	h.event(xmpp.Message{From: roomJID, Type: "groupchat", Subject: "", HasSubject: true})
	c.take()
	return h, c
}

// roomMessage is element sent to the room by the occupant nick.
func roomMessage(nick string, element []byte) xmpp.Message {
	return xmpp.Message{From: roomJID + "/" + nick, Type: "groupchat", Body: "I sent you an OMEMO encrypted message", Encryption: "OMEMO", OMEMO: element}
}

// In a room that reveals real JIDs, an occupant's OMEMO message is
// decrypted with the session of their real JID, the same one as in
// one-to-one chats; where the real JID is not known, the notice says why.
func TestOMEMORoomDecrypt(t *testing.T) {
	h, c := omemoRoom(t)
	alice := newContactDevice(t, h, "alice@example.org")
	h.event(roomMessage("alice", alice.encrypt("hello room", alice.to)))
	c.expect(":Alice!alice@example.org PRIVMSG #room :🔒 hello room")
	// The same session serves the one-to-one chat.
	h.event(alice.message(alice.encrypt("and you alone", alice.to)))
	c.expect(":Alice!alice@example.org PRIVMSG me :🔒 and you alone")
	h.event(roomMessage("alice", alice.encrypt("/me nods", alice.to)))
	c.expect(":Alice!alice@example.org PRIVMSG #room :\x01ACTION 🔒 nods\x01")

	bob := newContactDevice(t, h, "bob@example.org")
	h.event(roomMessage("bob", bob.encrypt("you cannot know me", bob.to)))
	c.expect(":bob!room@conference.example.org PRIVMSG #room :\x01ACTION sent an OMEMO-encrypted message, which xircd cannot read (the room does not reveal its occupants' real JIDs to xircd, which OMEMO needs); read it on another client\x01")

	h.event(roomMessage("carol", bob.encrypt("gone already", bob.to)))
	c.expect(":carol!room@conference.example.org PRIVMSG #room :\x01ACTION sent an OMEMO-encrypted message, which xircd cannot read (its sender is no longer in the room, so xircd does not know their real JID, which OMEMO needs); read it on another client\x01")
}

// The user's message to the room from another OMEMO device of the
// account comes back reflected: decrypted with the account's own session
// with that device.
func TestOMEMORoomReflection(t *testing.T) {
	h, c := omemoRoom(t)
	laptop := newContactDevice(t, h, "me@example.org")
	h.event(roomMessage("me", laptop.encrypt("from my laptop", laptop.to)))
	c.expect(":me!user@localhost PRIVMSG #room :🔒 from my laptop")
	if _, ok := h.b.omemo.sessions[sessionKey("me@example.org", laptop.dev.DeviceID)]; !ok {
		t.Errorf("no session with the own device in %v", h.b.omemo.sessions)
	}
}

// When the room later reveals an occupant's real JID (the user became a
// moderator of a semi-anonymous room), their messages are decrypted.
func TestOMEMORoomJIDRevealedLater(t *testing.T) {
	h, c := omemoRoom(t)
	bob := newContactDevice(t, h, "bob@example.org")
	h.event(occ("bob", "none", "participant", "bob@example.org/pc"))
	c.take()
	h.event(roomMessage("bob", bob.encrypt("now you see me", bob.to)))
	c.expect(":bob!room@conference.example.org PRIVMSG #room :🔒 now you see me")
}
