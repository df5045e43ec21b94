package xmpp_test

import (
	"fmt"
	"slices"
	"strings"
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
	archiveID := map[string]string{}
	for _, m := range page.Messages {
		archiveID[m.Body] = m.StanzaID
	}

	// Backwards from the newest, each page oldest first; by archive id.
	query := func(what string, q xmpp.ArchiveQuery, want ...string) xmpp.ArchivePage {
		t.Helper()
		q.With = "bob@localhost"
		id, err := s.QueryArchive(t.Context(), q)
		page := answer[xmpp.ArchivePage](t, s, id, err)
		if page.Err != nil {
			t.Fatalf("%s: %v", what, page.Err)
		}
		var got []string
		for _, m := range page.Messages {
			got = append(got, m.Body)
			archiveID[m.Body] = m.StanzaID
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: %q, want %q", what, got, want)
		}
		if len(page.Messages) > 0 && (page.First != page.Messages[0].StanzaID || page.Last != page.Messages[len(page.Messages)-1].StanzaID) {
			t.Errorf("%s: first %q last %q, messages %+v", what, page.First, page.Last, page.Messages)
		}
		return page
	}
	newest := query("newest page", xmpp.ArchiveQuery{FromEnd: true, Max: 2}, "archived 3", "my answer")
	if newest.Complete {
		t.Error("newest page: complete, with two older messages")
	}
	if older := query("page before", xmpp.ArchiveQuery{Before: newest.First, Max: 2}, "archived 1", "archived 2"); !older.Complete {
		t.Error("page before the newest: not complete")
	}
	query("between ids", xmpp.ArchiveQuery{AfterID: archiveID["archived 1"], BeforeID: archiveID["my answer"]}, "archived 2", "archived 3")
	query("newest after an id", xmpp.ArchiveQuery{FromEnd: true, AfterID: archiveID["archived 2"], Max: 1}, "my answer")
	query("by ids", xmpp.ArchiveQuery{IDs: []string{archiveID["archived 2"], "no-such-id"}}, "archived 2")
}

// The account's server says whether it keeps an archive.
func TestDiscoFeatures(t *testing.T) {
	for _, noMAM := range []bool{false, true} {
		srv := prosodytest.StartT(t, prosodytest.Options{NoMAM: noMAM})
		register(t, srv, "alice")
		s := newSession(t, srv, "alice", nil)
		start(t, s)
		id, err := s.DiscoFeatures(t.Context(), "")
		info := answer[xmpp.DiscoInfo](t, s, id, err)
		if info.Err != nil || info.JID != "alice@localhost" {
			t.Fatalf("DiscoFeatures = %+v", info)
		}
		if got := slices.Contains(info.Features, xmpp.FeatureMAM); got == noMAM {
			t.Errorf("server without mod_mam %v: features %q", noMAM, info.Features)
		}
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
