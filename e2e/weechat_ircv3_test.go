package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// A real weechat watches a contact with /notify, which it does with
// MONITOR: it says when the contact connects and leaves, without sharing a
// channel with it.
func TestWeechatNotify(t *testing.T) {
	needTool(t, "tmux", "weechat")
	e := newEnv(t, contact{user: "alice", name: "Alice"}, contact{user: "bob"})
	e.start()

	host, port, _ := strings.Cut(e.ircAddr, ":")
	home, err := os.MkdirTemp("", "xircd-weechat-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	cmds := strings.Join([]string{
		fmt.Sprintf("/server add xircd %s/%s -notls", host, port),
		"/set irc.server.xircd.nicks me",
		"/set irc.server.xircd.autojoin \"\"",
		// As in TestWeechat: keys typed under load are not a paste.
		"/set weechat.look.paste_max_lines -1",
		"/connect xircd",
	}, ";")
	term := startTmux(t, fmt.Sprintf("weechat --dir %s --run-command %q", home, cmds))
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
	bob.s.Close()
	term.waitScreen("notify: bob has quit")
	term.keys("/quit")
	waitFor(t, func() bool { return !term.alive() })
}
