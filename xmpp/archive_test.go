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
	srv, s := aliceWithBob(t)
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

	id, err := s.QueryArchive(t.Context(), xmpp.ArchiveQuery{With: "bob@localhost", Max: 3})
	page := answer[xmpp.ArchivePage](t, s, id, err)
	if page.Err != nil {
		t.Fatal(page.Err)
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
	id, err = s.QueryArchive(t.Context(), xmpp.ArchiveQuery{With: "bob@localhost", After: page.Last})
	page = answer[xmpp.ArchivePage](t, s, id, err)
	if page.Err != nil {
		t.Fatal(page.Err)
	}
	if len(page.Messages) != 1 || !page.Complete || page.Messages[0].Body != "my answer" || page.Messages[0].From != "alice@localhost/gw" {
		t.Fatalf("second page = %+v", page)
	}
}

func TestBookmarks(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	if l := bookmarks(t, s); len(l) != 0 {
		t.Fatalf("Bookmarks on a new account = %+v", l)
	}
	// Stored the XEP-0048 way, as older clients do; the server converts.
	res, err := s.SendIQ(t.Context(), "", "set", "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'>"+
		"<conference jid='lobby@conference.localhost' name='The &lt;Lobby&gt;' autojoin='true'><nick>Al</nick><password>pw</password></conference>"+
		"<conference jid='quiet@conference.localhost' autojoin='false'/></storage></query>")
	if err != nil || res.Type != "result" {
		t.Fatalf("storing bookmarks = %+v, %v", res, err)
	}
	bms := bookmarks(t, s)
	got := map[string]xmpp.Bookmark{}
	for _, b := range bms {
		got[b.JID] = b
	}
	if len(got) != 2 || got["lobby@conference.localhost"] != (xmpp.Bookmark{JID: "lobby@conference.localhost", Name: "The <Lobby>", Nick: "Al", Password: "pw", Autojoin: true}) ||
		got["quiet@conference.localhost"].Autojoin {
		t.Errorf("Bookmarks = %+v", bms)
	}
}

// bookmarks asks for the bookmarks and waits for them.
func bookmarks(t *testing.T, s *xmpp.Session) []xmpp.Bookmark {
	t.Helper()
	id, err := s.Bookmarks(t.Context())
	l := answer[xmpp.BookmarkList](t, s, id, err)
	if l.Err != nil {
		t.Fatal(l.Err)
	}
	return l.Bookmarks
}

// done waits for the RequestDone of the request that returned id and err
// and fails the test unless it succeeded.
func done(t *testing.T, s *xmpp.Session, id string, err error) {
	t.Helper()
	if d := answer[xmpp.RequestDone](t, s, id, err); d.Err != nil {
		t.Fatalf("%s: %v", d.Op, d.Err)
	}
}
