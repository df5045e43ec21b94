package e2e

import "testing"

// A real weechat watches a contact with /notify, which it does with
// MONITOR: it says when the contact connects and leaves, without sharing a
// channel with it.
func TestWeechatNotify(t *testing.T) {
	needTool(t, "tmux", "weechat")
	e := newEnv(t, contact{user: "alice", name: "Alice"}, contact{user: "bob"})
	e.start()

	term := startWeechat(t, e)
	term.waitScreen("&xmpp")
	// Like TestWeechat: the channel's buffer is complete before typing on.
	term.keys("/buffer &xmpp")
	term.waitScreen("XMPP contacts of")
	// Out of the channel, only MONITOR can tell weechat about bob.
	term.keys("/part &xmpp")
	term.waitScreen("has left &xmpp")
	term.keys("/buffer xircd")
	term.keys("/notify add bob xircd")
	// weechat sends MONITOR a little later and tells of the answer (731).
	term.waitScreen("notify: bob is offline")
	bob := e.peer("bob", "laptop")
	term.waitScreen("notify: bob (bob@localhost) has connected")
	bob.Close()
	term.waitScreen("notify: bob has quit")
	term.keys("/quit")
	waitFor(t, func() bool { return !term.alive() })
}
