package bridge

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

// keptFrom is a message from nick as the backlog keeps it.
func keptFrom(nick, body string) shown {
	return shown{from: &irc.Prefix{Name: nick, User: nick, Host: "example.org"}, target: "me", toUser: true, body: body, msgid: "x"}
}

// keptCounts counts the kept messages by sender nick.
func keptCounts(kept []shown) map[string]int {
	n := map[string]int{}
	for _, s := range kept {
		n[s.from.Name]++
	}
	return n
}

// A message takes one place in the backlog however many lines it becomes.
func TestBacklogCountsMessages(t *testing.T) {
	bl := newBacklog(3, 1<<20)
	big := strings.Repeat("long text ", 10<<10) // 100 KiB: more than 200 IRC lines
	bl.add(keptFrom("alice", big), "alice", "alice", false)
	bl.add(keptFrom("alice", "two"), "alice", "alice", false)
	bl.add(keptFrom("alice", "three"), "alice", "alice", false)
	kept, notice := bl.take()
	if len(kept) != 3 || kept[0].body != big || notice != "" {
		t.Fatalf("kept %d messages (first whole: %v), notice %q", len(kept), kept[0].body == big, notice)
	}
}

// The byte limit drops whole messages, oldest first.
func TestBacklogBoundedByBytes(t *testing.T) {
	one := keptFrom("alice", strings.Repeat("a", 300))
	bl := newBacklog(1000, 3*shownSize(one)+10)
	for i := 0; i < 5; i++ {
		s := one
		s.body = fmt.Sprintf("%d%s", i, one.body[1:])
		bl.add(s, "alice", "alice", false)
	}
	kept, notice := bl.take()
	if len(kept) != 3 || kept[0].body[0] != '2' || kept[2].body[0] != '4' {
		t.Errorf("kept %d messages, from %q", len(kept), kept[0].body[:1])
	}
	if want := "2 older messages from alice were dropped while no IRC client was attached (the backlog keeps 1000 messages, 988 bytes)."; notice != want {
		t.Errorf("notice %q\nwant   %q", notice, want)
	}
	// A message larger than the whole backlog is dropped, and said so.
	bl.add(keptFrom("bob", strings.Repeat("b", 1000)), "bob", "bob", false)
	if kept, notice := bl.take(); len(kept) != 0 || !strings.HasPrefix(notice, "1 older message from bob was dropped") {
		t.Errorf("kept %d, notice %q", len(kept), notice)
	}
}

// When the backlog is full, the sender with the most messages loses its
// own oldest: one flooding sender cannot push out another's messages.
func TestBacklogFloodPushesOutOnlyTheFlooder(t *testing.T) {
	bl := newBacklog(10, 1<<20)
	bl.add(keptFrom("bob", "bob 1"), "bob", "bob", false)
	for i := 0; i < 100; i++ {
		bl.add(keptFrom("flood", fmt.Sprint("flood ", i)), "flood", "flood", false)
		if i == 50 {
			bl.add(keptFrom("bob", "bob 2"), "bob", "bob", false)
		}
	}
	kept, notice := bl.take()
	n := keptCounts(kept)
	if n["bob"] != 2 || n["flood"] != 8 {
		t.Errorf("kept %v, want bob's 2 and flood's newest 8", n)
	}
	if kept[len(kept)-1].body != "flood 99" || kept[0].body != "bob 1" {
		t.Errorf("order: first %q, last %q", kept[0].body, kept[len(kept)-1].body)
	}
	if want := "92 older messages from flood were dropped"; !strings.HasPrefix(notice, want) {
		t.Errorf("notice %q, want it to start with %q", notice, want)
	}
}

// A stranger's share weighs four times a contact's: with both flooding,
// the stranger keeps a quarter of what the contact keeps.
func TestBacklogStrangersGetASmallerShare(t *testing.T) {
	bl := newBacklog(10, 1<<20)
	for i := 0; i < 100; i++ {
		bl.add(keptFrom("alice", "a"), "alice@example.org", "alice", false)
		bl.add(keptFrom("zed", "z"), "zed@example.net", "zed@example.net", true)
	}
	kept, notice := bl.take()
	if n := keptCounts(kept); n["alice"] != 8 || n["zed"] != 2 {
		t.Errorf("kept %v, want alice 8 and zed 2", n)
	}
	if want := "98 older messages from zed@example.net, 92 from alice were dropped while no IRC client was attached (the backlog keeps 10 messages, 1 MiB)."; notice != want {
		t.Errorf("notice %q\nwant   %q", notice, want)
	}
}

// Through the bridge: a stranger flooding while no client is attached
// leaves a contact's messages in the replay, and the notice names whose
// were dropped.
func TestBacklogStrangerFloodKeepsContacts(t *testing.T) {
	h := newHarness(t, Config{Backlog: 20})
	h.connect(item("alice@example.org", "Alice"))
	h.attach("me").detach()
	for i := 0; i < 200; i++ {
		h.event(xmpp.Message{From: "zed@example.net/bot", Type: "chat", Body: fmt.Sprint("spam ", i)})
		if i%50 == 0 {
			h.event(xmpp.Message{From: "alice@example.org/phone", Type: "chat", Body: fmt.Sprint("from alice ", i)})
		}
	}
	c := h.attach("me")
	got := c.take()
	alice, zed := 0, 0
	for _, l := range got {
		switch {
		case strings.Contains(l, ":Alice!alice@example.org PRIVMSG me :"):
			alice++
		case strings.Contains(l, ":zed!zed@example.net PRIVMSG me :"):
			zed++
		}
	}
	if alice != 4 || zed != 16 {
		t.Errorf("replayed %d of alice's 4 messages and %d of zed's:\n%s", alice, zed, strings.Join(got, "\n"))
	}
	want := ":xircd!xircd@irc.test NOTICE me :184 older messages from zed@example.net were dropped while no IRC client was attached (the backlog keeps 20 messages, 2 MiB)."
	if !strings.Contains(strings.Join(got, "\n"), want) {
		t.Errorf("no drop notice %q in:\n%s", want, strings.Join(got, "\n"))
	}
}

// The replay comes in one chathistory batch per conversation for a client
// with batch, each line with its time; the notice comes before.
func TestBacklogReplayInBatches(t *testing.T) {
	h := newHarness(t, Config{Backlog: 3})
	h.connect(item("alice@example.org", "Alice"), item("bob@example.net", "bob"))
	h.attach("me").detach()
	for _, m := range []xmpp.Message{
		{From: "alice@example.org/phone", Type: "chat", Body: "dropped"},
		{From: "alice@example.org/phone", Type: "chat", Body: "one"},
		{From: "bob@example.net/x", Type: "chat", Body: "hello"},
		{From: "alice@example.org/phone", Type: "chat", Body: "two"},
	} {
		h.event(m)
	}
	c := h.attach("me", "batch", "server-time")
	got := c.take()
	want := []string{
		"@time=2026-03-04T05:06:07.000Z :xircd!xircd@irc.test NOTICE me :1 older message from Alice was dropped while no IRC client was attached (the backlog keeps 3 messages, 2 MiB).",
		":irc.test BATCH +backlog1 chathistory Alice",
		"@batch=backlog1;time=2026-03-04T05:06:07.000Z :Alice!alice@example.org PRIVMSG me one",
		"@batch=backlog1;time=2026-03-04T05:06:07.000Z :Alice!alice@example.org PRIVMSG me two",
		":irc.test BATCH -backlog1",
		":irc.test BATCH +backlog2 chathistory bob",
		"@batch=backlog2;time=2026-03-04T05:06:07.000Z :bob!bob@example.net PRIVMSG me hello",
		":irc.test BATCH -backlog2",
	}
	if len(got) < len(want) || strings.Join(got[len(got)-len(want):], "\n") != strings.Join(want, "\n") {
		t.Errorf("replay:\n\t%s\nwant at the end:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

// The drop notice names at most maxDropNames senders and sums up the rest.
func TestBacklogDropNoticeNamesTheFirstSenders(t *testing.T) {
	bl := newBacklog(1, 1<<20)
	for i := 0; i <= maxDropNames+2; i++ {
		nick := fmt.Sprint("c", i)
		bl.add(keptFrom(nick, "hi"), nick, nick, false)
	}
	kept, notice := bl.take()
	want := "1 older message from c0, 1 from c1, 1 from c2, 1 from c3, 1 from c4, 1 from c5, 1 from c6, 1 from c7, 1 from c8, 1 from c9, 2 from others were dropped while no IRC client was attached (the backlog keeps 1 message, 1 MiB)."
	if len(kept) != 1 || kept[0].from.Name != "c12" || notice != want {
		t.Errorf("kept %d, notice %q\nwant        %q", len(kept), notice, want)
	}
}
