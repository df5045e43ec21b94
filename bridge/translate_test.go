package bridge

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSanitizeNick(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"Alice Smith", "Alice_Smith"},
		{"  padded  ", "padded"},
		{"jörg", "jrg"},
		{"a!b@c:d,e*f#g&h", "abcdefgh"},
		{"1st", "_1st"},
		{"-dash", "_-dash"},
		{"[foo]{bar}|^`", "[foo]{bar}|^`"},
		{"日本語", ""},
		{"", ""},
		{strings.Repeat("ab", 30), strings.Repeat("ab", 16)},
	} {
		if got := sanitizeNick(tc.in); got != tc.want {
			t.Errorf("sanitizeNick(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A name that is a nick already is not copied.
func TestSanitizeNickKeepsValidName(t *testing.T) {
	name := strings.Clone("Alice_[W]")
	if n := testing.AllocsPerRun(10, func() { benchStr = sanitizeNick(name) }); n != 0 {
		t.Errorf("sanitizeNick(%q) allocates %v times", name, n)
	}
}

func TestBaseNick(t *testing.T) {
	for _, tc := range []struct{ name, jid, want string }{
		{"Alice", "a@example.org", "Alice"},
		{"", "bob@example.org", "bob"},
		{"日本", "日本@example.org", "example_org"},
		{"", "icq.example.org", "icq_example_org"},
		{"", "日本@日本", "contact"},
	} {
		if got := baseNick(tc.name, tc.jid); got != tc.want {
			t.Errorf("baseNick(%q, %q) = %q, want %q", tc.name, tc.jid, got, tc.want)
		}
	}
}

func TestUniqueNick(t *testing.T) {
	taken := map[string]bool{"bob": true, "bob_2": true}
	if got := uniqueNick("Bob", func(f string) bool { return taken[f] }); got != "Bob_3" {
		t.Errorf("got %q, want Bob_3", got)
	}
	long := strings.Repeat("x", 32)
	if got := uniqueNick(long, func(f string) bool { return f == long }); got != strings.Repeat("x", 30)+"_2" {
		t.Errorf("long nick: %q", got)
	}
}

func TestBodyToIRC(t *testing.T) {
	for _, tc := range []struct {
		body string
		want []ircLine
	}{
		{"hello", []ircLine{{Text: "hello"}}},
		{"a\r\nb\rc\nd", []ircLine{{Text: "a"}, {Text: "b"}, {Text: "c"}, {Text: "d"}}},
		{"a\n\n   \nb", []ircLine{{Text: "a"}, {Text: "b"}}},
		{"/me waves\nand smiles", []ircLine{{Text: "waves", Action: true}, {Text: "and smiles"}}},
		{"x\n/me not first", []ircLine{{Text: "x"}, {Text: "/me not first"}}},
		{"nul\x00here \x01CTCP\x01 \x02bold", []ircLine{{Text: "nulhere CTCP bold"}}},
		{"tab\there", []ircLine{{Text: "tab here"}}},
		{"bad\xffutf8", []ircLine{{Text: "bad\uFFFDutf8"}}},
		{"", nil},
		{"/me ", nil},
		{"PRIVMSG #x :hi", []ircLine{{Text: "PRIVMSG #x :hi"}}},
	} {
		if got := bodyToIRC(tc.body, 400); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("bodyToIRC(%q) = %#v, want %#v", tc.body, got, tc.want)
		}
	}
}

func TestIRCToBody(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"hi", "hi", true},
		{"\x01ACTION waves\x01", "/me waves", true},
		{"\x01ACTION waves", "/me waves", true},
		{"\x01VERSION\x01", "", false},
		{"\x02bold\x02 \x0304,12red\x03 \x1ditalic\x1d \x0fplain", "bold red italic plain", true},
		{"\x0399", "", true},
		{"\x04ff0000,00ff00hex", "hex", true},
	} {
		got, ok := ircToBody(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("ircToBody(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestAwayToPresence(t *testing.T) {
	for _, tc := range []struct{ in, show, status string }{
		{"", "", ""},
		{"lunch", "away", "lunch"},
		{"dnd: meeting", "dnd", "meeting"},
		{"DND:meeting", "dnd", "meeting"},
		{"xa: gone", "xa", "gone"},
		{"xa:", "xa", ""},
		{"dndx", "away", "dndx"},
	} {
		show, status := awayToPresence(tc.in)
		if show != tc.show || status != tc.status {
			t.Errorf("awayToPresence(%q) = %q, %q; want %q, %q", tc.in, show, status, tc.show, tc.status)
		}
	}
}

func TestTypingMapping(t *testing.T) {
	for typing, state := range map[string]string{"active": "composing", "paused": "paused", "done": "active"} {
		if got := typingToChatState(typing); got != state {
			t.Errorf("typingToChatState(%q) = %q", typing, got)
		}
		if got := chatStateToTyping(state); got != typing {
			t.Errorf("chatStateToTyping(%q) = %q", state, got)
		}
	}
	if typingToChatState("bogus") != "" || chatStateToTyping("bogus") != "" {
		t.Error("unknown values must map to nothing")
	}
}

func TestTimestamps(t *testing.T) {
	// The same instant, 2025-01-02 03:04:05 UTC, given in three zones: the
	// stamp is UTC whatever zone the time arrives in or the server runs in.
	newYork := time.FixedZone("UTC-5", -5*60*60)
	kolkata := time.FixedZone("UTC+5:30", 5*60*60+30*60)
	for _, at := range []time.Time{
		time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		time.Date(2025, 1, 1, 22, 4, 5, 0, newYork),
		time.Date(2025, 1, 2, 8, 34, 5, 0, kolkata),
	} {
		if got := timestampPrefix(at); got != "[2025-01-02 03:04:05] " {
			t.Errorf("timestampPrefix(%v) = %q", at, got)
		}
		if got := serverTime(at.Add(6 * time.Millisecond)); got != "2025-01-02T03:04:05.006Z" {
			t.Errorf("serverTime(%v) = %q", at, got)
		}
	}
}

func TestServerTimeIsTimeFormat(t *testing.T) {
	newYork := time.FixedZone("UTC-5", -5*60*60)
	for _, at := range []time.Time{
		time.Date(2025, 1, 2, 3, 4, 5, 6_789_000, time.UTC),
		time.Date(1999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 2, 28, 19, 0, 0, 0, newYork),
		time.Date(7, 1, 1, 0, 0, 0, 1_000_000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		{},
	} {
		if got, want := serverTime(at), at.UTC().Format(serverTimeLayout); got != want {
			t.Errorf("serverTime(%v) = %q, want %q", at, got, want)
		}
	}
}

func TestMatchMask(t *testing.T) {
	for _, tc := range []struct {
		mask, s string
		want    bool
	}{
		{"*", "anything", true},
		{"al*", "Alice", true},
		{"A?ICE", "alice", true},
		{"*ce", "alice", true},
		{"b*", "alice", false},
		{"alice", "alicex", false},
	} {
		if got := matchMask(tc.mask, tc.s); got != tc.want {
			t.Errorf("matchMask(%q, %q) = %v", tc.mask, tc.s, got)
		}
	}
}

func TestMaskPart(t *testing.T) {
	for in, want := range map[string]string{"alice": "alice", "a b!c@d": "abcd", ":x": "x", "": "xmpp", "jörg": "jörg"} {
		if got := maskPart(in); got != want {
			t.Errorf("maskPart(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzBodyToIRC checks that no XMPP body can produce a line that breaks
// the IRC framing or exceeds its budget.
func FuzzBodyToIRC(f *testing.F) {
	for _, s := range []string{"hello", "a\r\nb", "/me x\ny", "\x00\x01\x02", "ü" + strings.Repeat("é", 300), "\xff\xfe", "PRIVMSG #x :y\r\nQUIT"} {
		f.Add(s, 100)
	}
	f.Fuzz(func(t *testing.T, body string, max int) {
		if max < 0 || max > 1000 {
			max %= 1000
			if max < 0 {
				max = -max
			}
		}
		limit := max
		if limit < 16 {
			limit = 16
		}
		for _, l := range bodyToIRC(body, max) {
			w := l.Wire()
			if strings.ContainsAny(w, "\r\n\x00") {
				t.Fatalf("line with CR/LF/NUL: %q", w)
			}
			if !utf8.ValidString(w) {
				t.Fatalf("invalid UTF-8: %q", w)
			}
			if len(w) > limit {
				t.Fatalf("line of %d bytes exceeds %d: %q", len(w), limit, w)
			}
			if strings.TrimSpace(l.Text) == "" {
				t.Fatalf("empty line produced")
			}
			if strings.ContainsRune(l.Text, '\x01') {
				t.Fatalf("CTCP framing inside text: %q", w)
			}
		}
	})
}
