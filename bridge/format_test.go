package bridge

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
)

// A message is formatted for the client it goes to: whatever the nick,
// the target, the sender's hostmask and the visible stamp, every line fits
// 512 bytes without tags (so the output edge never has to split it again),
// every piece carries the time, and the pieces add up to the text.
func TestIRCLinesFitEveryClient(t *testing.T) {
	at := time.Date(2026, 3, 4, 4, 6, 7, 0, time.UTC)
	words := strings.Repeat("ünïcödé words ", 300) // 4500 bytes
	longNick := strings.Repeat("n", ircd.NickLen)
	alice := &irc.Prefix{Name: "Alice", User: "alice", Host: "example.org"}
	huge := &irc.Prefix{Name: "zed", User: strings.Repeat("u", 1000), Host: strings.Repeat("h", 1000) + ".example"}
	self := &irc.Prefix{Name: longNick, User: strings.Repeat("x", 64), Host: "localhost"}
	for _, tc := range []struct {
		name  string
		s     shown
		v     viewer
		stamp bool // a visible stamp in front of every piece
	}{
		{"long nick, no server-time", shown{from: alice, toUser: true, body: words, delayed: true},
			viewer{nick: longNick, self: self}, true},
		{"long nick, server-time", shown{from: alice, toUser: true, body: words, delayed: true},
			viewer{nick: longNick, self: self, serverTime: true}, false},
		{"live message has no stamp", shown{from: alice, toUser: true, body: words},
			viewer{nick: "me", self: self}, false},
		{"long channel", shown{from: alice, target: "#" + strings.Repeat("c", 199), body: words, delayed: true},
			viewer{nick: "me", self: self}, true},
		{"own message from another client", shown{fromUser: true, target: "Alice", body: words, delayed: true},
			viewer{nick: longNick, self: self}, true},
		{"huge hostmask", shown{from: huge, toUser: true, body: words, delayed: true},
			viewer{nick: longNick, self: self}, true},
		{"action", shown{from: alice, toUser: true, body: "/me " + words, delayed: true},
			viewer{nick: "me", self: self}, true},
		{"notice", shown{from: alice, toUser: true, notice: true, body: words, delayed: true},
			viewer{nick: "me", self: self}, true},
	} {
		tc.s.msgid, tc.s.at = "id", at
		msgs := ircLines(&tc.s, tc.v)
		if len(msgs) < 9 {
			t.Errorf("%s: %d bytes became %d lines", tc.name, len(tc.s.body), len(msgs))
			continue
		}
		var joined strings.Builder
		for i, m := range msgs {
			lines := ircd.FormatLines(m, nil)
			if len(lines) != 1 {
				t.Fatalf("%s: piece %d became %d lines at the output edge", tc.name, i, len(lines))
			}
			_, rest, _ := strings.Cut(lines[0], " ")
			if len(rest)+2 > ircd.MaxLineLen {
				t.Errorf("%s: piece %d is %d bytes: %.80q…", tc.name, i, len(rest)+2, rest)
			}
			if m.Tags["time"] != "2026-03-04T04:06:07.000Z" || m.Tags["msgid"] != lineMsgID("id", i) {
				t.Errorf("%s: piece %d has tags %v", tc.name, i, m.Tags)
			}
			if want := map[bool]string{true: tc.v.nick, false: tc.s.target}[tc.s.toUser]; m.Params[0] != want {
				t.Errorf("%s: target %q, want %q", tc.name, m.Params[0], want)
			}
			if tc.s.fromUser && m.Prefix.Name != longNick {
				t.Errorf("%s: from %q, want the user's nick", tc.name, m.Prefix.Name)
			}
			text := m.Params[1]
			if tc.name == "action" {
				if !strings.HasPrefix(text, "\x01ACTION ") || !strings.HasSuffix(text, "\x01") {
					t.Fatalf("%s: piece %d is no ACTION: %q", tc.name, i, text)
				}
				text = strings.TrimSuffix(strings.TrimPrefix(text, "\x01ACTION "), "\x01")
			}
			stamp := "[2026-03-04 04:06:07] "
			if strings.HasPrefix(text, stamp) != tc.stamp {
				t.Fatalf("%s: piece %d stamped %v, want %v: %.60q", tc.name, i, !tc.stamp, tc.stamp, text)
			}
			joined.WriteString(strings.TrimPrefix(text, stamp))
		}
		if want := strings.TrimPrefix(tc.s.body, "/me "); joined.String() != want {
			t.Errorf("%s: the pieces do not add up to the text", tc.name)
		}
	}
}
