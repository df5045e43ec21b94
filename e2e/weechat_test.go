package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// A real weechat connects, shows the contacts in &xmpp with voice, chats
// with one both ways and quits.
func TestWeechat(t *testing.T) {
	needTool(t, "tmux", "weechat")
	e := newEnv(t, contact{user: "alice", name: "Alice"}, contact{user: "bob"})
	alice := e.peer("alice", "phone")
	e.peer("bob", "laptop")
	e.start()

	term := startWeechat(t, e)
	term.waitScreen("&xmpp")
	term.keys("/buffer &xmpp")
	term.waitScreen("+Alice", "bob")

	term.keys("/msg Alice hello from weechat")
	alice.expectMessage("hello from weechat")
	alice.send(e.userJID, "hello back, weechat user")
	// The query buffer exists once the message is in; switch when it does.
	term.waitScreen(":Alice")
	term.keys("/buffer Alice")
	term.waitScreen("hello back, weechat user")

	term.keys("/quit")
	waitFor(t, func() bool { return !term.alive() })
}

// startWeechat runs a real weechat in tmux, connected to e's xircd as "me"
// with the commands the README gives.
func startWeechat(t *testing.T, e *env) *tmuxSession {
	t.Helper()
	return startWeechatAs(t, e, "me")
}

// startWeechatAs runs a real weechat in tmux, connected to e's xircd with
// nick, after the /set commands of settings.
func startWeechatAs(t *testing.T, e *env, nick string, settings ...string) *tmuxSession {
	t.Helper()
	host, port, _ := strings.Cut(e.ircAddr, ":")
	// Not t.TempDir: weechat may still be writing its files while it is
	// being stopped, and a failed removal would fail the test.
	home, err := os.MkdirTemp("", "xircd-weechat-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	// The commands of the README: -notls for weechat 4 and later, which
	// use TLS by default; weechat 3 ignores it.
	cmds := []string{
		fmt.Sprintf("/server add xircd %s/%s -notls", host, port),
		"/set irc.server.xircd.nicks " + nick,
		"/set irc.server.xircd.autojoin \"\"",
		// Keys typed while weechat is busy arrive together; without this
		// weechat takes them for a paste and waits for a confirmation.
		"/set weechat.look.paste_max_lines -1",
	}
	cmds = append(append(cmds, settings...), "/connect xircd")
	return startTmux(t, fmt.Sprintf("weechat --dir %s --run-command %q", home, strings.Join(cmds, ";")))
}
