package ircd

import (
	"testing"

	"gopkg.in/irc.v4"
)

func TestAccountTagOnlyForClientsThatAsk(t *testing.T) {
	b := newFakeBackend()
	_, l := testServer(t, Config{}, b)
	c := dial(t, l)
	c.send("CAP REQ :account-tag", "CAP END")
	c.expect("CAP", "*", "ACK", "account-tag")
	c.register("me")
	s := b.waitAttach(t)
	s.d.Send(&irc.Message{Tags: irc.Tags{"account": "bob@example.org", "msgid": "m1"},
		Prefix: &irc.Prefix{Name: "bob"}, Command: "PRIVMSG", Params: []string{"me", "hi"}})
	m := c.expect("PRIVMSG", "me", "hi")
	if m.Tags["account"] != "bob@example.org" {
		t.Errorf("account tag lost: %q", m)
	}
	if _, ok := m.Tags["msgid"]; ok {
		t.Errorf("msgid without message-tags: %q", m)
	}
}
