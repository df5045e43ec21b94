package xmpp_test

import (
	"fmt"
	"testing"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

func TestQueryArchive(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	mutual(t, srv, "alice", "bob")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	bob := newPeer(t, srv, "bob", "desk")
	before := time.Now().Add(-2 * time.Second)
	for i := 1; i <= 3; i++ {
		bob.send(t, "<message to='alice@localhost' type='chat' id='a%d'><body>archived %d</body></message>", i, i)
		waitFor(t, s, func(m xmpp.Message) bool { return m.Body == fmt.Sprintf("archived %d", i) })
	}
	if _, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: "my answer"}); err != nil {
		t.Fatal(err)
	}
	// The server archives our message before it routes it: bob seeing it
	// means it is in the archive.
	recvPeer(t, bob, func(c goxmpp.Chat) bool { return c.Text == "my answer" })

	page, err := s.QueryArchive(t.Context(), xmpp.ArchiveQuery{With: "bob@localhost", Max: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 3 || page.Complete {
		t.Fatalf("first page: %d messages, complete=%v: %+v", len(page.Messages), page.Complete, page.Messages)
	}
	for i, m := range page.Messages {
		want := fmt.Sprintf("archived %d", i+1)
		if m.Body != want || m.From != "bob@localhost/desk" || m.StanzaID == "" || m.Delay.Before(before) || m.Delay.After(time.Now()) {
			t.Errorf("archived message %d = %+v, want body %q with id and time", i, m, want)
		}
	}
	page, err = s.QueryArchive(t.Context(), xmpp.ArchiveQuery{With: "bob@localhost", After: page.Last})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Messages) != 1 || !page.Complete || page.Messages[0].Body != "my answer" || page.Messages[0].From != "alice@localhost/gw" {
		t.Fatalf("second page = %+v", page)
	}
}
