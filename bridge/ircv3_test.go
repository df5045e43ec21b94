package bridge

import (
	"testing"
)

func TestNoImplicitNames(t *testing.T) {
	h, c := joinedRoom(t, "no-implicit-names")
	// The room's JOIN comes without 353/366, as does a later attach.
	c.expect(":me!user@localhost JOIN #room")
	c2 := h.attach("me", "no-implicit-names")
	c2.expect(
		":me!user@localhost JOIN &xmpp",
		":irc.test 332 me &xmpp :XMPP contacts of me@example.org — type \"help\" here for commands",
		":irc.test 333 me &xmpp xircd!xircd@irc.test 1772600767",
		":me!user@localhost JOIN #room",
	)
	// An explicit NAMES is answered as usual.
	c2.send("NAMES &xmpp")
	c2.expect(
		":irc.test 353 me = &xmpp :@me @xircd",
		":irc.test 366 me &xmpp :End of /NAMES list",
	)
	// So is JOIN of the control channel from a client that left it.
	c2.send("PART &xmpp")
	c2.take()
	c2.send("JOIN &xmpp")
	c2.expect(
		":me!user@localhost JOIN &xmpp",
		":irc.test 332 me &xmpp :XMPP contacts of me@example.org — type \"help\" here for commands",
		":irc.test 333 me &xmpp xircd!xircd@irc.test 1772600767",
	)
}
