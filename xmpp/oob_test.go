package xmpp_test

import (
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/xmpp"
)

// XEP-0066 links both ways against Prosody: parsed from a message as the
// XEP's example sends it, and included in an outgoing one.
func TestOOBBothWays(t *testing.T) {
	srv, s := aliceWithBob(t)
	bob := newPeer(t, srv, "bob", "desk")

	bob.send(t, `<message to='alice@localhost' type='chat' id='f1'><body>https://files.example/a.png</body>`+
		`<x xmlns='jabber:x:oob'><url>https://files.example/a.png</url><desc>A picture</desc></x></message>`)
	m := waitFor(t, s, func(m xmpp.Message) bool { return m.ID == "f1" })
	if len(m.OOB) != 1 || m.OOB[0] != (xmpp.OOB{URL: "https://files.example/a.png", Desc: "A picture"}) {
		t.Errorf("links of %+v", m)
	}

	if _, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: "https://files.example/b.pdf", OOBURL: "https://files.example/b.pdf"}); err != nil {
		t.Fatal(err)
	}
	chat := recvPeer(t, bob, func(c goxmpp.Chat) bool { return c.Text != "" })
	if chat.Oob.Url != "https://files.example/b.pdf" {
		t.Errorf("bob received %+v, want an oob url", chat)
	}
}
