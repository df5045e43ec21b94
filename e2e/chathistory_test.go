package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/internal/prosodytest"
)

// historyCaps are the capabilities of a client that fetches history.
var historyCaps = []string{"batch", "message-tags", "server-time", "echo-message", "cap-notify", "labeled-response", "draft/chathistory"}

// smallPages makes Prosody send archive pages of at most 3 messages, so
// that every answer of more is paged.
var smallPages = prosodytest.Options{ExtraConfig: "max_archive_query_results = 3\n"}

// historyClient connects a client that fetches history, once xircd has
// found that the server keeps an archive (it offers draft/chathistory
// then).
func historyClient(e *env, nick string) *ircClient {
	e.t.Helper()
	offered := func() bool {
		c := dialIRC(e.t, e.ircAddr)
		defer c.conn.Close()
		c.send("CAP LS 302")
		return strings.Contains(c.expect(func(m *irc.Message) bool { return m.Command == "CAP" && m.Param(1) == "LS" }).Trailing(), "draft/chathistory")
	}
	waitFor(e.t, offered)
	return e.client(nick, historyCaps...)
}

// spaced waits a little, so that the messages of a test do not show at
// the same millisecond and timestamps tell them apart.
func spaced() { time.Sleep(5 * time.Millisecond) }

// shownMsg is a message as the client saw it.
type shownMsg struct{ text, msgid, time string }

func (s shownMsg) String() string { return s.text }

// history sends a CHATHISTORY command and returns the messages of its
// chathistory batch about target, in order, after checking that the batch
// is well formed.
func history(c *ircClient, target, format string, args ...any) []shownMsg {
	c.t.Helper()
	c.send("CHATHISTORY "+format, args...)
	start := c.expect(func(m *irc.Message) bool {
		return m.Command == "FAIL" || m.Command == "BATCH" && strings.HasPrefix(m.Param(0), "+") && m.Param(1) == "chathistory"
	})
	if start.Command == "FAIL" {
		c.t.Fatalf("CHATHISTORY %s: %s", fmt.Sprintf(format, args...), start)
	}
	if start.Param(2) != target {
		c.t.Errorf("batch about %q, want %q", start.Param(2), target)
	}
	id := start.Param(0)[1:]
	var out []shownMsg
	for {
		m := c.expect(func(m *irc.Message) bool {
			return m.Tags["batch"] == id || m.Command == "BATCH" && m.Param(0) == "-"+id
		})
		if m.Command == "BATCH" {
			return out
		}
		if m.Command != "PRIVMSG" && m.Command != "NOTICE" {
			c.t.Errorf("%s in a chathistory batch", m)
		}
		out = append(out, shownMsg{text: m.Prefix.Name + ": " + m.Trailing(), msgid: m.Tags["msgid"], time: m.Tags["time"]})
	}
}

// historyFail sends a CHATHISTORY command that must fail and returns the
// FAIL's parameters after the command.
func historyFail(c *ircClient, format string, args ...any) string {
	c.t.Helper()
	c.send("CHATHISTORY "+format, args...)
	m := c.expect(func(m *irc.Message) bool {
		return m.Command == "FAIL" || m.Command == "BATCH" && strings.HasPrefix(m.Param(0), "+")
	})
	if m.Command != "FAIL" || m.Param(0) != "CHATHISTORY" {
		c.t.Fatalf("CHATHISTORY %s: %s, want a FAIL", fmt.Sprintf(format, args...), m)
	}
	return strings.Join(m.Params[1:len(m.Params)-1], " ")
}

// checkHistory compares what a history answer showed with want, by text,
// and checks that every message has the msgid and time it had live.
func checkHistory(t *testing.T, what string, got []shownMsg, live map[string]shownMsg, want ...string) {
	t.Helper()
	var texts []string
	for _, g := range got {
		texts = append(texts, g.text)
		l, ok := live[g.text]
		if !ok {
			continue
		}
		if g.msgid != l.msgid || g.time != l.time {
			t.Errorf("%s: %q has msgid %s time %s in history, %s %s live", what, g.text, g.msgid, g.time, l.msgid, l.time)
		}
	}
	if !slices.Equal(texts, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, texts, want)
	}
}

// recordLive waits for a live message and notes how the client saw it.
func recordLive(c *ircClient, live map[string]shownMsg, match func(*irc.Message) bool) shownMsg {
	c.t.Helper()
	m := c.expect(match)
	s := shownMsg{text: m.Prefix.Name + ": " + m.Trailing(), msgid: m.Tags["msgid"], time: m.Tags["time"]}
	live[s.text] = s
	return s
}

// CHATHISTORY for a contact: every subcommand with msgid and timestamp
// references, answered from the account's archive in pages smaller than
// the answers, each message with the msgid and time it had live,
// including the user's own.
func TestChathistoryContact(t *testing.T) {
	e := newEnvWith(t, smallPages, contact{user: "alice", name: "Alice"})
	alice := e.peer("alice", "phone")
	e.start()
	c := historyClient(e, "me")
	waitContact(t, c, "Alice")

	live := map[string]shownMsg{}
	for i := 1; i <= 8; i++ {
		alice.send(e.userJID, fmt.Sprintf("a%d", i))
		recordLive(c, live, messageWith(fmt.Sprintf("a%d", i)))
		spaced()
	}
	c.send("PRIVMSG Alice :r1")
	r1 := recordLive(c, live, func(m *irc.Message) bool { return messageWith("r1")(m) && m.Prefix.Name == "me" })
	alice.expectMessage("r1")
	spaced()
	alice.send(e.userJID, "a9")
	recordLive(c, live, messageWith("a9"))
	all := []string{"Alice: a1", "Alice: a2", "Alice: a3", "Alice: a4", "Alice: a5", "Alice: a6", "Alice: a7", "Alice: a8", "me: r1", "Alice: a9"}
	id := func(text string) string { return live[text].msgid }

	checkHistory(t, "LATEST *", history(c, "Alice", "LATEST Alice * 100"), live, all...)
	checkHistory(t, "LATEST * 4", history(c, "Alice", "LATEST alice * 4"), live, all[6:]...)
	checkHistory(t, "LATEST msgid", history(c, "Alice", "LATEST Alice msgid=%s 100", id("Alice: a7")), live, all[7:]...)
	checkHistory(t, "LATEST msgid, limited", history(c, "Alice", "LATEST Alice msgid=%s 2", id("Alice: a2")), live, all[8:]...)
	checkHistory(t, "BEFORE msgid", history(c, "Alice", "BEFORE Alice msgid=%s 4", id("Alice: a7")), live, all[2:6]...)
	checkHistory(t, "AFTER msgid", history(c, "Alice", "AFTER Alice msgid=%s 4", id("Alice: a2")), live, all[2:6]...)
	checkHistory(t, "AFTER own msgid", history(c, "Alice", "AFTER Alice msgid=%s 10", r1.msgid), live, "Alice: a9")
	checkHistory(t, "BEFORE own msgid", history(c, "Alice", "BEFORE Alice msgid=%s 2", r1.msgid), live, all[6:8]...)
	checkHistory(t, "AROUND msgid", history(c, "Alice", "AROUND Alice msgid=%s 4", id("Alice: a5")), live, all[2:6]...)
	checkHistory(t, "BETWEEN msgids", history(c, "Alice", "BETWEEN Alice msgid=%s msgid=%s 100", id("Alice: a1"), id("Alice: a6")), live, all[1:5]...)
	checkHistory(t, "BETWEEN msgids, backwards", history(c, "Alice", "BETWEEN Alice msgid=%s msgid=%s 2", id("Alice: a6"), id("Alice: a1")), live, all[3:5]...)
	checkHistory(t, "BEFORE timestamp", history(c, "Alice", "BEFORE Alice timestamp=%s 3", live["Alice: a4"].time), live, all[0:3]...)
	checkHistory(t, "AFTER timestamp", history(c, "Alice", "AFTER Alice timestamp=%s 3", live["Alice: a4"].time), live, all[4:7]...)
	checkHistory(t, "BETWEEN timestamps", history(c, "Alice", "BETWEEN Alice timestamp=%s timestamp=%s 100", live["Alice: a2"].time, live["me: r1"].time), live, all[2:8]...)
	future := time.Now().Add(24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	checkHistory(t, "BEFORE a future timestamp", history(c, "Alice", "BEFORE Alice timestamp=%s 2", future), live, all[8:]...)
	checkHistory(t, "AFTER a future timestamp", history(c, "Alice", "AFTER Alice timestamp=%s 2", future), live)
	// A line of a multi-line message names the message.
	checkHistory(t, "BEFORE a line's msgid", history(c, "Alice", "BEFORE Alice msgid=%s/2 1", id("Alice: a3")), live, all[1])

	// A labelled request gets its answer, which comes later from the
	// archive, inside its labeled-response batch.
	c.send("@label=h1 CHATHISTORY LATEST Alice * 2")
	outer := c.expect(func(m *irc.Message) bool { return m.Command == "BATCH" && m.Tags["label"] == "h1" })
	inner := c.expect(func(m *irc.Message) bool { return m.Command == "BATCH" && m.Param(1) == "chathistory" })
	if outer.Param(1) != "labeled-response" || inner.Tags["batch"] != outer.Param(0)[1:] {
		t.Errorf("labelled CHATHISTORY: %s, then %s", outer, inner)
	}

	// A client that attaches later sees the same.
	c2 := historyClient(e, "me")
	checkHistory(t, "second client", history(c2, "Alice", "LATEST Alice * 3"), live, all[7:]...)
}

// CHATHISTORY for a room: the room's own archive, in pages, with the
// msgids the room gave (the user's own message: its echo's).
func TestChathistoryRoom(t *testing.T) {
	e := newEnvWith(t, smallPages, contact{user: "alice", name: "Alice"})
	alice := e.peer("alice", "laptop")
	room := "hist@" + e.srv.MUCDomain
	alice.joinRoom(room, "alice", "", openRoom)
	e.start()
	c := historyClient(e, "me")
	waitContact(t, c, "Alice")
	c.send("JOIN #hist")
	c.expectLine(":me!", "JOIN #hist")

	live := map[string]shownMsg{}
	for i := 1; i <= 5; i++ {
		alice.groupchat(room, fmt.Sprintf("g%d", i))
		recordLive(c, live, roomLine("PRIVMSG", "#hist", fmt.Sprintf("g%d", i)))
		spaced()
	}
	c.send("PRIVMSG #hist :mine")
	recordLive(c, live, roomLine("PRIVMSG", "#hist", "mine"))
	alice.expectGroupchat(room+"/me", "mine")
	alice.groupchat(room, "g6")
	recordLive(c, live, roomLine("PRIVMSG", "#hist", "g6"))
	all := []string{"Alice: g1", "Alice: g2", "Alice: g3", "Alice: g4", "Alice: g5", "me: mine", "Alice: g6"}
	id := func(text string) string { return live[text].msgid }

	checkHistory(t, "LATEST *", history(c, "#hist", "LATEST #hist * 100"), live, all...)
	checkHistory(t, "BEFORE msgid", history(c, "#hist", "BEFORE #hist msgid=%s 4", id("Alice: g6")), live, all[2:6]...)
	checkHistory(t, "AFTER own msgid", history(c, "#hist", "AFTER #hist msgid=%s 4", id("me: mine")), live, all[6:]...)
	checkHistory(t, "AFTER msgid", history(c, "#hist", "AFTER #hist msgid=%s 2", id("Alice: g1")), live, all[1:3]...)
	checkHistory(t, "LATEST msgid", history(c, "#hist", "LATEST #hist msgid=%s 100", id("Alice: g4")), live, all[4:]...)
	checkHistory(t, "AROUND msgid", history(c, "#hist", "AROUND #hist msgid=%s 3", id("Alice: g3")), live, all[1:4]...)
	checkHistory(t, "BETWEEN msgids", history(c, "#hist", "BETWEEN #hist msgid=%s msgid=%s 100", id("Alice: g2"), id("me: mine")), live, all[2:5]...)
	checkHistory(t, "BEFORE timestamp", history(c, "#hist", "BEFORE #hist timestamp=%s 2", live["Alice: g3"].time), live, all[0:2]...)
}

// TARGETS lists the contacts the user exchanged messages with in a time
// range, oldest latest message first.
func TestChathistoryTargets(t *testing.T) {
	e := newEnvWith(t, smallPages, contact{user: "alice", name: "Alice"}, contact{user: "bob", name: "Bob"}, contact{user: "carol", name: "Carol"})
	alice, bob := e.peer("alice", "phone"), e.peer("bob", "phone")
	e.start()
	c := historyClient(e, "me")
	waitContact(t, c, "Alice")
	live := map[string]shownMsg{}
	for i := range 4 {
		alice.send(e.userJID, fmt.Sprintf("from alice %d", i))
		recordLive(c, live, messageWith(fmt.Sprintf("from alice %d", i)))
	}
	bob.send(e.userJID, "from bob")
	recordLive(c, live, messageWith("from bob"))
	c.send("PRIVMSG Alice :to alice")
	last := recordLive(c, live, func(m *irc.Message) bool { return messageWith("to alice")(m) && m.Prefix.Name == "me" })

	from := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	to := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	c.send("CHATHISTORY TARGETS timestamp=%s timestamp=%s 10", from, to)
	start := c.expectLine("BATCH +", "draft/chathistory-targets")
	var got []string
	for {
		m := c.expect(func(m *irc.Message) bool { return m.Tags["batch"] == start.Param(0)[1:] || m.Command == "BATCH" })
		if m.Command == "BATCH" {
			break
		}
		if m.Command != "CHATHISTORY" || m.Param(0) != "TARGETS" {
			t.Fatalf("%s in a chathistory-targets batch", m)
		}
		got = append(got, m.Param(1)+" "+m.Param(2))
	}
	want := []string{"Bob " + live["Bob: from bob"].time, "Alice " + last.time}
	if !slices.Equal(got, want) {
		t.Errorf("TARGETS:\n got  %q\n want %q", got, want)
	}
}

// Bad CHATHISTORY commands get the standard replies of the specification.
func TestChathistoryFailures(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	alice := e.peer("alice", "phone")
	e.start()
	c := historyClient(e, "me")
	waitContact(t, c, "Alice")
	alice.send(e.userJID, "hello")
	c.expect(messageWith("hello"))

	for _, tc := range []struct{ cmd, want string }{
		{"FETCH Alice * 10", "INVALID_PARAMS FETCH"},
		{"LATEST Alice *", "INVALID_PARAMS LATEST"},
		{"LATEST Alice * 10 more", "INVALID_PARAMS LATEST"},
		{"BEFORE Alice * 10", "INVALID_PARAMS BEFORE *"},
		{"BEFORE Alice timestamp=yesterday 10", "INVALID_PARAMS BEFORE timestamp=yesterday"},
		{"BEFORE Alice msgid=x 0", "INVALID_PARAMS BEFORE 0"},
		{"BEFORE Alice msgid=x ten", "INVALID_PARAMS BEFORE ten"},
		{"BEFORE Alice seq=4 10", "INVALID_MSGREFTYPE BEFORE Alice seq"},
		{"TARGETS msgid=x timestamp=2020-01-01T00:00:00.000Z 10", "INVALID_PARAMS TARGETS msgid=x"},
		{"LATEST nobody * 10", "INVALID_TARGET LATEST nobody"},
		{"LATEST #nowhere * 10", "INVALID_TARGET LATEST #nowhere"},
		{"BEFORE Alice msgid=no-such-message 10", "MESSAGE_ERROR BEFORE Alice msgid=no-such-message"},
	} {
		if got := historyFail(c, "%s", tc.cmd); got != tc.want {
			t.Errorf("CHATHISTORY %s: FAIL CHATHISTORY %s, want %s", tc.cmd, got, tc.want)
		}
	}
	// A limit over CHATHISTORY= is capped, not refused.
	checkHistory(t, "limit over the maximum", history(c, "Alice", "LATEST Alice * 100000"), nil, "Alice: hello")
	// The control channel has no history.
	checkHistory(t, "control channel", history(c, "&xmpp", "LATEST &xmpp * 10"), nil)
}

// Without an archive on the server, draft/chathistory is not offered and
// CHATHISTORY says why.
func TestChathistoryWithoutArchive(t *testing.T) {
	e := newEnvWith(t, prosodytest.Options{NoMAM: true}, contact{user: "alice", name: "Alice"})
	e.start()
	c := e.client("me", "cap-notify", "batch")
	waitContact(t, c, "Alice")
	e.waitLog("the server keeps no message archive")
	c.send("CAP LS 302")
	ls := c.expect(func(m *irc.Message) bool { return m.Command == "CAP" && m.Param(1) == "LS" })
	if strings.Contains(ls.Trailing(), "draft/chathistory") {
		t.Errorf("CAP LS offers draft/chathistory without an archive: %s", ls)
	}
	if got := historyFail(c, "LATEST Alice * 10"); got != "MESSAGE_ERROR LATEST Alice" {
		t.Errorf("CHATHISTORY without an archive: FAIL CHATHISTORY %s", got)
	}
}

// A reconnect to a server that no longer keeps an archive withdraws
// draft/chathistory (CAP DEL).
func TestChathistoryWithdrawnWhenTheArchiveGoes(t *testing.T) {
	e := newEnv(t, contact{user: "alice", name: "Alice"})
	e.start()
	c := historyClient(e, "me")
	waitContact(t, c, "Alice")

	// The same server, restarted without mod_mam.
	cfg := filepath.Join(e.srv.Dir, "prosody.cfg.lua")
	b, err := os.ReadFile(cfg)
	if err != nil || !strings.Contains(string(b), ` "mam";`) {
		t.Fatalf("Prosody's config %s has no mod_mam to remove (%v)", cfg, err)
	}
	if err := os.WriteFile(cfg, []byte(strings.Replace(string(b), ` "mam";`, "", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Restart(); err != nil {
		t.Fatal(err)
	}
	c.expect(func(m *irc.Message) bool {
		return m.Command == "CAP" && m.Param(1) == "DEL" && m.Trailing() == "draft/chathistory"
	})
	if got := historyFail(c, "LATEST Alice * 10"); got != "MESSAGE_ERROR LATEST Alice" {
		t.Errorf("CHATHISTORY without an archive: FAIL CHATHISTORY %s", got)
	}
}
