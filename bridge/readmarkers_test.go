package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"xircd/xmpp"
)

// DisplayedMarkers serves f.displayed.
func (f *fakeXMPP) DisplayedMarkers(ctx context.Context) (string, error) {
	return f.request(func(id string) xmpp.Event {
		return xmpp.DisplayedList{ID: id, Markers: append([]xmpp.Displayed(nil), f.displayed...)}
	})
}

func (f *fakeXMPP) PublishDisplayed(ctx context.Context, chat, stanzaID, by string) (string, error) {
	f.record("publish-displayed %s id=%s by=%s", chat, stanzaID, by)
	return f.request(func(id string) xmpp.Event { return xmpp.RequestDone{ID: id, Op: "publish-displayed"} })
}

func (f *fakeXMPP) SendDisplayed(to, id string) error {
	if !f.isConnected() {
		return errFakeNotConnected
	}
	f.record("displayed to=%s id=%s", to, id)
	return nil
}

// readersOnline is a connected bridge with Alice online and a client
// with draft/read-marker.
func readersOnline(t *testing.T, cfg Config) (*harness, *ircClient) {
	h := newHarness(t, cfg)
	h.connect(item("alice@example.org", "Alice"))
	h.event(avail("alice@example.org/phone", "", "", 0))
	c := h.attach("me", "draft/read-marker", "server-time")
	c.take()
	h.x.takeCalls()
	return h, c
}

var (
	readT1 = time.Date(2026, 3, 4, 5, 0, 1, 0, time.UTC)
	readT2 = time.Date(2026, 3, 4, 5, 0, 2, 0, time.UTC)
	readT3 = time.Date(2026, 3, 4, 5, 0, 3, 400_000, time.UTC) // shown as 05:00:03.000
)

func TestMarkReadPublishesAndTellsEveryClient(t *testing.T) {
	h, c := readersOnline(t, Config{ReadMarkers: true})
	other := h.attach("me", "draft/read-marker")
	plain := h.attach("me")
	other.take()
	plain.take()
	h.event(xmpp.Message{ID: "a1", From: "alice@example.org/phone", Type: "chat", Body: "one", StanzaID: "s1", Delay: readT1, Markable: true})
	h.event(xmpp.Message{ID: "a2", From: "alice@example.org/phone", Type: "chat", Body: "two", StanzaID: "s2", Delay: readT2, Markable: true})
	h.event(xmpp.Message{ID: "a3", From: "alice@example.org/phone", Type: "chat", Body: "three", StanzaID: "s3", Delay: readT3})
	c.take()
	other.take()
	plain.take()

	// Read up to a moment after the second message: the marker is the
	// second message, by its stanza-id and its time.
	c.send("MARKREAD Alice timestamp=2026-03-04T05:00:02.500Z")
	c.expect(":irc.test MARKREAD Alice timestamp=2026-03-04T05:00:02.000Z")
	other.expect(":irc.test MARKREAD Alice timestamp=2026-03-04T05:00:02.000Z")
	plain.expect()
	h.expectCalls(
		"publish-displayed alice@example.org id=s2 by=me@example.org",
		"displayed to=alice@example.org/phone id=a2",
	)

	// An older marker does not move it back; the client learns the newer.
	c.send("MARKREAD Alice timestamp=2026-03-04T05:00:01.000Z")
	c.expect(":irc.test MARKREAD Alice timestamp=2026-03-04T05:00:02.000Z")
	other.expect()
	h.expectCalls()

	// The third message is not markable: the contact hears nothing more.
	c.send("MARKREAD Alice timestamp=2026-03-04T05:00:03.000Z")
	c.take()
	h.expectCalls("publish-displayed alice@example.org id=s3 by=me@example.org")

	c.send("MARKREAD Alice")
	c.expect(":irc.test MARKREAD Alice timestamp=2026-03-04T05:00:03.000Z")
	c.send("MARKREAD xircd")
	c.expect(":irc.test MARKREAD xircd *")
	c.send("MARKREAD nobody timestamp=2026-03-04T05:00:03.000Z")
	c.expect(":irc.test FAIL MARKREAD INVALID_PARAMS nobody :No such nick or channel")
	c.send("MARKREAD")
	c.expect(":irc.test FAIL MARKREAD NEED_MORE_PARAMS :MARKREAD needs a target")
	c.send("MARKREAD Alice 2026-03-04T05:00:03.000Z")
	c.expect(":irc.test FAIL MARKREAD INVALID_PARAMS Alice 2026-03-04T05:00:03.000Z :The timestamp must be timestamp=YYYY-MM-DDThh:mm:ss.sssZ")
}

func TestReadMarkersOffSendsNoChatMarker(t *testing.T) {
	h, c := readersOnline(t, Config{})
	h.event(xmpp.Message{ID: "a1", From: "alice@example.org/phone", Type: "chat", Body: "one", StanzaID: "s1", Delay: readT1, Markable: true})
	c.send("MARKREAD Alice timestamp=2026-03-04T05:00:01.000Z")
	c.take()
	h.expectCalls("publish-displayed alice@example.org id=s1 by=me@example.org")

	c.send("PRIVMSG &xmpp :set read_markers on")
	c.expect("@time=2026-03-04T05:06:07.000Z :xircd!xircd@irc.test PRIVMSG &xmpp :read_markers = true")
	h.event(xmpp.Message{ID: "a2", From: "alice@example.org/phone", Type: "chat", Body: "two", StanzaID: "s2", Delay: readT2, Markable: true})
	c.send("MARKREAD Alice timestamp=2026-03-04T05:00:02.000Z")
	c.take()
	h.expectCalls("publish-displayed alice@example.org id=s2 by=me@example.org", "displayed to=alice@example.org/phone id=a2")
}

// A read on another XMPP client of the user reaches the clients that have
// draft/read-marker, at the time the message was shown with.
func TestDisplayedFromXMPPBecomesMarkRead(t *testing.T) {
	h, c := readersOnline(t, Config{})
	plain := h.attach("me")
	plain.take()
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "one", StanzaID: "s1", Delay: readT1})
	c.take()
	plain.take()

	h.event(xmpp.Displayed{Chat: "alice@example.org", StanzaID: "s1", By: "me@example.org"})
	c.expect(":irc.test MARKREAD Alice timestamp=2026-03-04T05:00:01.000Z")
	plain.expect()
	// The same marker again (our own publication coming back) is no news.
	h.event(xmpp.Displayed{Chat: "alice@example.org", StanzaID: "s1", By: "me@example.org"})
	c.expect()

	// A marker of a message not shown yet waits for it.
	h.event(xmpp.Displayed{Chat: "Alice@example.org", StanzaID: "s2", By: "me@example.org"})
	c.expect()
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "two", StanzaID: "s2", Delay: readT2})
	c.expect(
		"@time=2026-03-04T05:00:02.000Z :Alice!alice@example.org PRIVMSG me two",
		":irc.test MARKREAD Alice timestamp=2026-03-04T05:00:02.000Z",
	)
}

// After connecting, the bridge fetches the markers set while it was away.
func TestMarkersFetchedOnConnect(t *testing.T) {
	h, c := readersOnline(t, Config{})
	h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: "one", StanzaID: "s1", Delay: readT1})
	c.take()
	h.x.mu.Lock()
	h.x.displayed = []xmpp.Displayed{{Chat: "alice@example.org", StanzaID: "s1", By: "me@example.org"}}
	h.x.mu.Unlock()
	h.event(xmpp.Disconnected{})
	h.event(xmpp.Connected{JID: "me@example.org/xircd"})
	got := c.take()
	if !strings.Contains(strings.Join(got, "\n"), ":irc.test MARKREAD Alice timestamp=2026-03-04T05:00:01.000Z") {
		t.Errorf("no MARKREAD after the reconnect:\n\t%s", strings.Join(got, "\n\t"))
	}
}

// A marker of a message shown before a restart is looked up in the
// archive by its id, and its time is the archive's.
func TestMarkerOfMessageShownBeforeRestart(t *testing.T) {
	h := newHarness(t, Config{})
	c := h.attach("me", "draft/read-marker")
	c.take()
	h.x.archive = []xmpp.Message{
		{StanzaID: "s0", From: "alice@example.org/phone", Type: "chat", Body: "older", Delay: readT1.Add(-time.Minute)},
		{StanzaID: "s1", From: "alice@example.org/phone", Type: "chat", Body: "read on the phone", Delay: readT1},
	}
	h.x.displayed = []xmpp.Displayed{{Chat: "alice@example.org", StanzaID: "s1", By: "me@example.org"}}
	h.x.holdAnswers = true // the roster comes first, as from a server
	h.connect(item("alice@example.org", "Alice"))
	h.x.mu.Lock()
	h.x.holdAnswers = false
	h.x.mu.Unlock()
	if got := strings.Join(c.take(), "\n"); !strings.Contains(got, ":irc.test MARKREAD Alice timestamp=2026-03-04T05:00:01.000Z") {
		t.Errorf("no MARKREAD:\n%s", got)
	}
	if q := h.x.archiveQ; len(q) != 1 || len(q[0].IDs) != 1 || q[0].IDs[0] != "s1" {
		t.Errorf("archive queries %+v, want one for s1", q)
	}
	c.send("MARKREAD Alice")
	c.expect(":irc.test MARKREAD Alice timestamp=2026-03-04T05:00:01.000Z")
}

// A client with the capability gets a channel's marker between its JOIN
// and the end of NAMES; a channel without a marker has "*".
func TestMarkReadOnJoin(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect()
	c := h.attach("me", "draft/read-marker")
	got := strings.Join(c.take(), "\n")
	if !strings.Contains(got, ":irc.test MARKREAD &xmpp *\n:irc.test 353 me = &xmpp :@me @xircd\n:irc.test 366") {
		t.Errorf("attach:\n%s", got)
	}
	c.send("MARKREAD &xmpp timestamp=2026-03-04T05:00:01.000Z")
	c.expect(":irc.test MARKREAD &xmpp timestamp=2026-03-04T05:00:01.000Z")
	c.send("PART &xmpp")
	c.send("JOIN &xmpp")
	if got := strings.Join(c.take(), "\n"); !strings.Contains(got, ":irc.test MARKREAD &xmpp timestamp=2026-03-04T05:00:01.000Z\n:irc.test 353") {
		t.Errorf("rejoin:\n%s", got)
	}
	h.expectCalls() // the control channel has no XMPP conversation
}

// A room's marker is its JOIN's, and names the room's stanza-id; a marker
// from XMPP for the room reaches the channel.
func TestRoomReadMarker(t *testing.T) {
	h, c := joinedRoom(t, "draft/read-marker")
	if got := strings.Join(c.take(), "\n"); !strings.Contains(got, ":irc.test MARKREAD #room *\n:irc.test 353") {
		t.Errorf("join:\n%s", got)
	}
	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "hi", StanzaID: "r1", Delay: readT1})
	c.take()
	h.x.takeCalls()
	c.send("MARKREAD #room timestamp=2026-03-04T05:00:01.000Z")
	c.expect(":irc.test MARKREAD #room timestamp=2026-03-04T05:00:01.000Z")
	h.expectCalls("publish-displayed room@conference.example.org id=r1 by=room@conference.example.org")

	h.event(xmpp.Message{From: roomJID + "/bob", Type: "groupchat", Body: "more", StanzaID: "r2", Delay: readT2})
	c.take()
	h.event(xmpp.Displayed{Chat: "room@conference.example.org", StanzaID: "r2", By: "room@conference.example.org"})
	c.expect(":irc.test MARKREAD #room timestamp=2026-03-04T05:00:02.000Z")
}

// A contact who may not see the user's presence is not told what the user
// read either (XEP-0333, security considerations).
func TestNoChatMarkerWithoutPresenceSubscription(t *testing.T) {
	h := newHarness(t, Config{ReadMarkers: true})
	h.connect(xmpp.RosterItem{JID: "bob@example.org", Name: "Bob", Subscription: "to"})
	c := h.attach("me", "draft/read-marker")
	h.event(xmpp.Message{ID: "b1", From: "bob@example.org/desk", Type: "chat", Body: "read me", StanzaID: "s1", Delay: readT1, Markable: true})
	c.take()
	h.x.takeCalls()
	c.send("MARKREAD Bob timestamp=2026-03-04T05:00:01.000Z")
	c.take()
	h.expectCalls("publish-displayed bob@example.org id=s1 by=me@example.org")
}
