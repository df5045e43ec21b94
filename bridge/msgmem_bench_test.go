package bridge

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// longIDXMPP is the fake XMPP session with stanza ids as long as the real
// session's (20 characters), since what the bridge keeps per message is
// mostly ids.
type longIDXMPP struct {
	*fakeXMPP
	n int
}

func (x *longIDXMPP) NewID() string {
	x.n++
	return fmt.Sprintf("%020d", x.n)
}

// BenchmarkMessageMemory reports what the bridge keeps live per message
// shown or sent (B/msg: the heap added after a GC, over the messages):
// the user and a contact (or the occupants of a room) take turns, msgs
// messages in all, with ids and addresses as real clients and servers
// give them and every string freshly allocated as the XML decoder makes
// it. 8000 messages are well past every bound on message bookkeeping:
// what is kept then is what a busy user keeps for ever (live-KiB). With
// BRIDGE_HEAP_PROFILE=FILE and -memprofilerate=1 it writes the live heap
// of the last case run to FILE.
func BenchmarkMessageMemory(b *testing.B) {
	for _, room := range []bool{false, true} {
		for _, msgs := range []int{500, 2000, 8000} {
			kind := "chat"
			if room {
				kind = "room"
			}
			b.Run(fmt.Sprintf("%s/msgs=%d", kind, msgs), func(b *testing.B) {
				var live float64
				for b.Loop() {
					live = messageMemory(b, room, msgs)
				}
				b.ReportMetric(live/float64(msgs), "B/msg")
				b.ReportMetric(live/1024, "live-KiB")
			})
		}
	}
}

// messageMemory runs msgs messages (half the user's) through a new bridge
// and returns the heap they left live.
func messageMemory(b *testing.B, room bool, msgs int) float64 {
	x := &longIDXMPP{fakeXMPP: newFakeXMPP()}
	br, err := New(Config{ServerName: "irc.bench", MUCService: "conference.example.org"}, x)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- br.Run(ctx) }()
	defer func() { cancel(); <-done }()
	c := &benchClient{id: 1}
	c.session = br.Attach(c)
	x.send(xmpp.Connected{JID: "me@example.org/xircd"}, nil, nil)
	x.send(xmpp.Roster{Items: []xmpp.RosterItem{{JID: "peer@example.org", Name: "Peer", Subscription: "both"}}}, nil, nil)
	x.send(xmpp.Presence{From: "peer@example.org/phone"}, nil, nil)
	target := "Peer"
	if room {
		target = "#room"
		joined := make(chan error, 1)
		go func() { // answered once the room lets the user in
			joined <- c.session.Handle(&ircd.Request{Msg: irc.MustParseMessage("JOIN #room"), Client: c})
		}()
		for len(x.takeCalls()) == 0 {
			runtime.Gosched()
		}
		x.send(occ("alice", "member", "participant", ""), nil, nil)
		x.send(occ("bob", "member", "participant", ""), nil, nil)
		x.send(occ("me", "member", "participant", "me@example.org/xircd", 110), nil, nil)
		x.send(xmpp.Message{From: roomJID, Type: "groupchat", Subject: "talk", HasSubject: true}, nil, nil)
		if err := <-joined; err != nil {
			b.Fatal(err)
		}
		br.post(opAnswerSent{s: c.session.(*session)}) // as ircd does once it sent the answer
	}
	br.CheckNick("barrier")
	linesBefore := c.lines.Load()
	fresh := strings.Clone
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range msgs / 2 {
		handle(b, c, fmt.Sprintf("PRIVMSG %s :round trip %d of the benchmark, a line of ordinary length", target, i))
		body := fmt.Sprintf("answer %d of the benchmark, a line of ordinary length", i)
		id := fmt.Sprintf("%08x-5cde-4f01-9a2b-%012x", i, i) // a client's UUID
		if room {
			// The reflection of the user's message, then someone's answer.
			out := x.n
			x.send(xmpp.Message{ID: fmt.Sprintf("%020d", out), OriginID: fmt.Sprintf("%020d", out), StanzaID: fmt.Sprintf("r%015x", 2*i),
				From: fresh(roomJID + "/me"), To: fresh("me@example.org/xircd"), Type: fresh("groupchat"), Body: fmt.Sprintf("round trip %d of the benchmark, a line of ordinary length", i)}, nil, nil)
			x.send(xmpp.Message{ID: id, OriginID: fresh(id), StanzaID: fmt.Sprintf("r%015x", 2*i+1),
				From: fresh(roomJID + "/" + []string{"alice", "bob"}[i%2]), To: fresh("me@example.org/xircd"), Type: fresh("groupchat"), Body: body}, nil, nil)
		} else {
			x.send(xmpp.Message{ID: id, OriginID: fresh(id), StanzaID: fmt.Sprintf("s%015x", i),
				From: fresh("peer@example.org/phone"), To: fresh("me@example.org/xircd"), Type: fresh("chat"), Body: body,
				Markable: true, ReceiptRequest: true, ChatState: fresh("active")}, nil, nil)
		}
		if i%100 == 0 {
			x.takeCalls() // the fake records every send
		}
	}
	br.CheckNick("barrier")
	x.takeCalls()
	if shown := c.lines.Load() - linesBefore; shown != int64(msgs/2) {
		b.Fatalf("%d lines shown, want %d", shown, msgs/2)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if path := os.Getenv("BRIDGE_HEAP_PROFILE"); path != "" {
		writeHeapProfile(b, path)
	}
	runtime.KeepAlive(br)
	return float64(int64(after.HeapAlloc) - int64(before.HeapAlloc))
}

// handle hands the client's line to its session, as the IRC server does.
func handle(b *testing.B, c *benchClient, line string) {
	r := &ircd.Request{Msg: irc.MustParseMessage(line), Client: c}
	if err := c.session.Handle(r); err != nil {
		b.Fatal(err)
	}
	if len(r.Replies()) > 0 {
		b.Fatalf("%s: %v", line, r.Replies())
	}
}
