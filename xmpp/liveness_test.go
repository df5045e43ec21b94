package xmpp_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

func TestDeadConnectionDetectedAndCloseDoesNotHang(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice")
	bh := prosodytest.StartProxy(t, srv.Addr)
	s := newSession(t, srv, "alice", func(c *xmpp.Config) {
		c.Server = bh.Addr
		c.DeadTimeout = 4 * time.Second
		c.PingInterval = 500 * time.Millisecond
	})
	start(t, s)

	// Quiet but healthy: keepalive pings keep it up well past DeadTimeout.
	noEvent[xmpp.Disconnected](t, s, 6*time.Second, nil)

	bh.Freeze(true)
	d := waitFor[xmpp.Disconnected](t, s, nil)
	if d.Err == nil || !strings.Contains(d.Err.Error(), "no data") {
		t.Errorf("Disconnected = %v, want the dead-connection error", d.Err)
	}
	bh.Freeze(false)
	waitFor[xmpp.Connected](t, s, nil)

	bh.Freeze(true)
	done := make(chan struct{})
	go func() {
		s.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Fatal("Close hangs on a dead connection")
	}
	if _, err := s.SendMessage(xmpp.OutMessage{To: "bob@localhost", Body: "x"}); !errors.Is(err, xmpp.ErrClosed) {
		t.Errorf("SendMessage after Close = %v, want ErrClosed", err)
	}
}

func TestGroupChat(t *testing.T) {
	srv := prosodytest.StartT(t, prosodytest.Options{})
	register(t, srv, "alice", "bob")
	s := newSession(t, srv, "alice", nil)
	start(t, s)
	room := "lobby@" + srv.MUCDomain

	if err := s.JoinRoom(room, "Alice", "", 20, time.Time{}); err != nil {
		t.Fatal(err)
	}
	self := waitFor(t, s, func(p xmpp.Presence) bool { return p.From == room+"/Alice" })
	if self.MUC == nil || !hasCode(self.MUC.Codes, 110) || self.MUC.Affiliation != "owner" || self.MUC.Role != "moderator" {
		t.Fatalf("self presence = %+v %+v", self, self.MUC)
	}
	// A fresh room is locked until configured; accept the default config.
	if hasCode(self.MUC.Codes, 201) {
		id, err := s.AcceptRoomDefaults(t.Context(), room)
		done(t, s, id, err)
	}

	bob := newPeer(t, srv, "bob", "desk")
	bob.send(t, "<presence to='%s/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>", room)
	p := waitFor(t, s, func(p xmpp.Presence) bool { return p.From == room+"/Bob" })
	if p.MUC == nil || p.MUC.Role != "participant" || p.MUC.JID != "bob@localhost/desk" {
		t.Errorf("bob's occupant presence = %+v %+v", p, p.MUC)
	}

	id, err := s.SendMessage(xmpp.OutMessage{To: room, Type: "groupchat", Body: "hi room"})
	if err != nil {
		t.Fatal(err)
	}
	echo := waitFor(t, s, func(m xmpp.Message) bool { return m.Type == "groupchat" && m.Body == "hi room" })
	if echo.From != room+"/Alice" || echo.OriginID != id || echo.StanzaID == "" {
		t.Errorf("reflected message = %+v (sent id %s)", echo, id)
	}
	recvPeer(t, bob, func(c goxmpp.Chat) bool { return c.Type == "groupchat" && c.Text == "hi room" })

	aid, err := s.QueryArchive(t.Context(), xmpp.ArchiveQuery{Archive: room})
	page := answer[xmpp.ArchivePage](t, s, aid, err)
	if page.Err != nil || len(page.Messages) != 1 || page.Messages[0].Body != "hi room" || page.Messages[0].From != room+"/Alice" || page.Messages[0].Delay.IsZero() {
		t.Errorf("room archive = %+v", page)
	}

	if _, err := s.SendMessage(xmpp.OutMessage{To: room, Type: "groupchat", Subject: "new topic", HasSubject: true}); err != nil {
		t.Fatal(err)
	}
	subj := waitFor(t, s, func(m xmpp.Message) bool { return m.HasSubject })
	if subj.Subject != "new topic" {
		t.Errorf("subject message = %+v", subj)
	}

	// Direct invitation (XEP-0249) from bob.
	bob.send(t, "<message to='alice@localhost'><x xmlns='jabber:x:conference' jid='%s' reason='come'/></message>", room)
	inv := waitFor(t, s, func(m xmpp.Message) bool { return m.Invite != nil })
	if inv.Invite.Room != room || inv.Invite.Reason != "come" || inv.Invite.From != "bob@localhost/desk" {
		t.Errorf("invite = %+v", inv.Invite)
	}

	if err := s.LeaveRoom(room, "bye"); err != nil {
		t.Fatal(err)
	}
	left := waitFor(t, s, func(p xmpp.Presence) bool { return p.From == room+"/Alice" && p.Type == "unavailable" })
	if left.MUC == nil || !hasCode(left.MUC.Codes, 110) {
		t.Errorf("leave presence = %+v", left)
	}
	if err := s.LeaveRoom(room, ""); err == nil {
		t.Error("leaving a room twice succeeded")
	}
}

func hasCode(codes []int, c int) bool {
	for _, x := range codes {
		if x == c {
			return true
		}
	}
	return false
}
