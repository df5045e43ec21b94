package xmpp_test

import (
	"testing"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

func TestSetRemoveBookmark(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	want := xmpp.Bookmark{JID: "club@conference.localhost", Name: "The <Club>", Nick: "Al", Password: "p&w", Autojoin: true}
	id, err := s.SetBookmark(t.Context(), want)
	done(t, s, id, err)
	id, err = s.SetBookmark(t.Context(), xmpp.Bookmark{JID: "quiet@conference.localhost"})
	done(t, s, id, err)
	bms := bookmarks(t, s)
	got := map[string]xmpp.Bookmark{}
	for _, b := range bms {
		got[b.JID] = b
	}
	if len(got) != 2 || got[want.JID] != want || got["quiet@conference.localhost"].Autojoin {
		t.Fatalf("Bookmarks after SetBookmark = %+v", bms)
	}
	id, err = s.RemoveBookmark(t.Context(), want.JID)
	done(t, s, id, err)
	bms = bookmarks(t, s)
	if len(bms) != 1 || bms[0].JID != "quiet@conference.localhost" {
		t.Fatalf("Bookmarks after RemoveBookmark = %+v", bms)
	}
}
