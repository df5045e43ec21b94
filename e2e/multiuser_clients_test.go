package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Two people log in to one multi-user xircd with real clients, irssi with
// SASL PLAIN and weechat with PASS jid:password, the way the README says;
// each sees only their own contact, gets only their own contact's message
// and reaches only their own contact.
func TestMultiUserIrssiAndWeechat(t *testing.T) {
	needTool(t, "tmux", "irssi", "weechat")
	e := newMultiUserEnv(t, "", contact{user: "alice"})
	carol := e.peer("carol", "phone")
	e.start()
	you := "you@" + e.srv.Domain

	host, port, _ := strings.Cut(e.ircAddr, ":")
	home := filepath.Join(t.TempDir(), "irssi")
	os.MkdirAll(home, 0o700)
	irssi := startTmux(t, fmt.Sprintf("irssi --home=%s -n me", home))
	irssi.waitScreen("(status)")
	irssi.keys(fmt.Sprintf("/network add -sasl_mechanism PLAIN -sasl_username %s -sasl_password %s xircd", e.userJID, userPass))
	irssi.keys(fmt.Sprintf("/server add -network xircd %s %s", host, port))
	irssi.keys("/connect xircd")
	irssi.waitScreen("Act: 2") // irssi opened the control channel in window 2
	irssi.keys("/window goto &xmpp")
	irssi.waitScreen("Total of")
	// alice comes online once irssi is in the channel: she joins, and
	// the service gives her voice with a MODE, which irssi once took
	// badly (see the end of the test).
	alice := e.peer("alice", "phone")
	irssi.waitScreen("[+v alice] by xircd")
	irssi.keys("/names")
	irssi.waitScreen("[+alice]")

	weechat := startWeechatAs(t, e, "you", fmt.Sprintf("/set irc.server.xircd.password %q", you+":you-pass"))
	weechat.waitScreen("&xmpp")
	weechat.keys("/buffer &xmpp")
	weechat.waitScreen("+carol")

	if scr := irssi.screen(); strings.Contains(scr, "carol") {
		t.Errorf("irssi's &xmpp shows you's contact carol:\n%s", scr)
	}
	if scr := weechat.screen(); strings.Contains(scr, "alice") {
		t.Errorf("weechat's &xmpp shows me's contact alice:\n%s", scr)
	}

	carol.send(you, "carol writes to you")
	weechat.waitScreen(":carol") // the query buffer exists once the message is in
	weechat.keys("/buffer carol")
	weechat.waitScreen("carol writes to you")
	alice.send(e.userJID, "alice writes to me")
	// irssi opens the query when the message is in.
	waitFor(t, func() bool {
		irssi.keys("/window goto alice")
		return strings.Contains(irssi.screen(), "<alice> alice writes to me")
	})

	if scr := irssi.screen(); strings.Contains(scr, "carol") {
		t.Errorf("irssi's query with alice shows carol's message:\n%s", scr)
	}
	// Neither client opened a query for the other user's contact.
	irssi.keys("/window 1")
	irssi.keys("/window list")
	irssi.waitScreen("Active item")
	if scr := irssi.screen(); strings.Contains(scr, "carol") {
		t.Errorf("irssi has a window for carol:\n%s", scr)
	}
	// The status window shows irssi's own complaints, such as a channel
	// member's host it could not set from a line without one.
	if scr := irssi.screen(); strings.Contains(scr, "critical") {
		t.Errorf("irssi complained in its status window:\n%s", scr)
	}
	if scr := weechat.screen(); strings.Contains(scr, "alice") {
		t.Errorf("weechat shows alice:\n%s", scr)
	}

	irssi.keys("/msg alice irssi answers alice")
	weechat.keys("/msg carol weechat answers carol")
	for _, want := range []struct {
		peer       *peer
		body, from string
	}{{alice, "irssi answers alice", e.userJID}, {carol, "weechat answers carol", you}} {
		if m := want.peer.expectMessage(want.body); !strings.HasPrefix(m.From, want.from+"/") {
			t.Errorf("%s got %q from %s, want from %s", want.peer.jid, want.body, m.From, want.from)
		}
	}
}
