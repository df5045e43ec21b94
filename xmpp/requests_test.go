package xmpp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

// The answers of room requests arrive as events carrying the request's id.
func TestRoomRequestAnswers(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	room := "club@" + srv.MUCDomain

	if err := s.JoinRoom(room, "Alice", "", 0, time.Time{}); err != nil {
		t.Fatal(err)
	}
	self := waitFor(t, s, func(p xmpp.Presence) bool { return p.From == room+"/Alice" })
	if self.MUC == nil || !hasCode(self.MUC.Codes, 201) {
		t.Fatalf("self presence = %+v, want a new room (201)", self.MUC)
	}
	id, err := s.AcceptRoomDefaults(t.Context(), room)
	if d := answer[xmpp.RequestDone](t, s, id, err); d.Err != nil || d.Op != "accept-room-defaults" {
		t.Fatalf("AcceptRoomDefaults answered %+v", d)
	}

	// Instant rooms are not public on Prosody: make it so, to be listed.
	res, err := s.SendIQ(t.Context(), room, "set", "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>"+
		"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"+
		"<field var='muc#roomconfig_publicroom'><value>1</value></field></x></query>")
	if err != nil || res.Type != "result" {
		t.Fatalf("room config = %+v, %v", res, err)
	}
	id, err = s.RoomItems(t.Context(), srv.MUCDomain)
	list := answer[xmpp.RoomList](t, s, id, err)
	if list.Err != nil || list.Service != srv.MUCDomain || len(list.Rooms) != 1 || list.Rooms[0].JID != room {
		t.Fatalf("RoomList = %+v, want the one room %s", list, room)
	}

	bob := newPeer(t, srv, "bob", "desk")
	bob.send(t, "<presence to='%s/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>", room)
	waitFor(t, s, func(p xmpp.Presence) bool { return p.From == room+"/Bob" })
	id, err = s.SetRole(t.Context(), room, "Bob", "visitor", "hush")
	if d := answer[xmpp.RequestDone](t, s, id, err); d.Err != nil || d.Op != "set-role" {
		t.Fatalf("SetRole answered %+v", d)
	}

	// A refusal is the room's stanza error.
	id, err = s.SetRole(t.Context(), room, "Nobody", "visitor", "")
	d := answer[xmpp.RequestDone](t, s, id, err)
	var se *xmpp.StanzaError
	if !errors.As(d.Err, &se) {
		t.Fatalf("SetRole of a missing occupant answered %+v, want a stanza error", d)
	}
}

// A roster change the server refuses is answered with its stanza error.
func TestRosterSetRefused(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	id, err := s.RosterSet(xmpp.RosterItem{JID: "alice@" + srv.Domain})
	d := answer[xmpp.RequestDone](t, s, id, err)
	var se *xmpp.StanzaError
	if d.Op != "roster-set" || !errors.As(d.Err, &se) {
		t.Fatalf("RosterSet of the account itself answered %+v, want a stanza error", d)
	}
}

// A request whose ctx ends before the answer, and one still waiting when
// the stream is lost, are each answered by a failure event; the lost
// stream's comes before the Disconnected.
func TestRequestTimeoutAndLostStream(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	bh := prosodytest.StartProxy(t, srv.Addr)
	s := newSession(t, srv, "alice", func(c *xmpp.Config) {
		c.Server = bh.Addr
		c.DeadTimeout = 3 * time.Second
		c.PingInterval = 500 * time.Millisecond
	})
	start(t, s)
	bh.Freeze(true)

	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	id, err := s.RoomItems(ctx, srv.MUCDomain)
	list := answer[xmpp.RoomList](t, s, id, err)
	if !errors.Is(list.Err, context.DeadlineExceeded) {
		t.Fatalf("RoomList after ctx ended = %+v, want DeadlineExceeded", list)
	}

	waiting, err := s.Bookmarks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(waitTimeout)
	for {
		select {
		case <-s.EventsReady():
			ev, _ := s.NextEvent()
			switch ev := ev.(type) {
			case xmpp.BookmarkList:
				if ev.ID != waiting || !errors.Is(ev.Err, xmpp.ErrNotConnected) {
					t.Fatalf("BookmarkList = %+v, want ErrNotConnected for %s", ev, waiting)
				}
				return
			case xmpp.Disconnected:
				t.Fatalf("Disconnected (%v) before the waiting request's answer", ev.Err)
			}
		case <-deadline:
			t.Fatal("no answer to the request waiting when the stream was lost")
		}
	}
}
