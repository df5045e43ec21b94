package ircd

import (
	"strings"
	"testing"

	"gopkg.in/irc.v4"
)

// Benchmarks of the output edge, which every line to a client goes through.

var (
	benchSink    []string
	benchStrSink string
)

func BenchmarkFormatLinesShort(b *testing.B) {
	m := &irc.Message{
		Prefix:  &irc.Prefix{Name: "alice", User: "alice", Host: "example.org"},
		Command: "PRIVMSG", Params: []string{"me", "hello there, how are you?"},
	}
	b.ReportAllocs()
	for b.Loop() {
		benchSink = FormatLines(m, nil)
	}
}

func BenchmarkFormatLinesTagged(b *testing.B) {
	m := &irc.Message{
		Tags:    irc.Tags{"time": "2026-01-02T03:04:05.000Z", "msgid": "abc123", "+typing": "active"},
		Prefix:  &irc.Prefix{Name: "alice", User: "alice", Host: "example.org"},
		Command: "PRIVMSG", Params: []string{"me", "hello there, how are you?"},
	}
	keep := func(k string) bool { return k == "time" || k == "msgid" }
	b.ReportAllocs()
	for b.Loop() {
		benchSink = FormatLines(m, keep)
	}
}

// Every message carries msgid and time; a client without message-tags
// keeps none of them.
func BenchmarkFormatLinesTagsDropped(b *testing.B) {
	m := &irc.Message{
		Tags:    irc.Tags{"time": "2026-01-02T03:04:05.000Z", "msgid": "abc123", "account": "alice@example.org"},
		Prefix:  &irc.Prefix{Name: "alice", User: "alice", Host: "example.org"},
		Command: "PRIVMSG", Params: []string{"me", "hello there, how are you?"},
	}
	keep := func(string) bool { return false }
	b.ReportAllocs()
	for b.Loop() {
		benchSink = FormatLines(m, keep)
	}
}

// A 4 KiB message body is split into several lines at the edge.
func BenchmarkFormatLinesLong(b *testing.B) {
	m := &irc.Message{
		Prefix:  &irc.Prefix{Name: "alice", User: "alice", Host: "example.org"},
		Command: "PRIVMSG", Params: []string{"me", strings.Repeat("lorem ipsum dolor ", 228)},
	}
	b.ReportAllocs()
	for b.Loop() {
		benchSink = FormatLines(m, nil)
	}
}

func BenchmarkFormatLinesPresence(b *testing.B) {
	msgs := []*irc.Message{
		{Prefix: &irc.Prefix{Name: "alice", User: "alice", Host: "example.org"}, Command: "JOIN", Params: []string{"&xmpp"}},
		{Prefix: &irc.Prefix{Name: "xircd"}, Command: "MODE", Params: []string{"&xmpp", "+v", "alice"}},
		{Prefix: &irc.Prefix{Name: "alice", User: "alice", Host: "example.org"}, Command: "AWAY", Params: []string{"away: in a meeting until 3"}},
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			benchSink = FormatLines(m, nil)
		}
	}
}

func BenchmarkSplitTextShort(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchSink = SplitText("hello there, how are you?", 400)
	}
}

func BenchmarkSplitTextLongASCII(b *testing.B) {
	s := strings.Repeat("lorem ipsum dolor ", 228)
	b.ReportAllocs()
	for b.Loop() {
		benchSink = SplitText(s, 400)
	}
}

func BenchmarkSplitTextLongUTF8(b *testing.B) {
	s := strings.Repeat("Grüße aus Köln, 東京 ", 180)
	b.ReportAllocs()
	for b.Loop() {
		benchSink = SplitText(s, 400)
	}
}

func BenchmarkParseLine(b *testing.B) {
	line := "@time=2026-01-02T03:04:05.000Z;+draft/reply=abc :me!user@localhost PRIVMSG alice :hello there, how are you?"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCasefold(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		benchStrSink = Casefold("Alice[Away]")
	}
}
