package ircd

import (
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/irc.v4"
)

func TestFormatLines(t *testing.T) {
	srv := &irc.Prefix{Name: "xircd"}
	bob := &irc.Prefix{Name: "bob", User: "bob", Host: "example.org"}
	for _, tc := range []struct {
		name string
		m    *irc.Message
		keep func(string) bool
		want []string
	}{
		{"plain", &irc.Message{Prefix: bob, Command: "PRIVMSG", Params: []string{"me", "hi"}}, nil,
			[]string{":bob!bob@example.org PRIVMSG me hi"}},
		{"trailing with space", &irc.Message{Prefix: bob, Command: "PRIVMSG", Params: []string{"me", "hi there"}}, nil,
			[]string{":bob!bob@example.org PRIVMSG me :hi there"}},
		{"empty and colon trailing", &irc.Message{Command: "TOPIC", Params: []string{"#a", ""}}, nil,
			[]string{"TOPIC #a :"}},
		{"colon trailing", &irc.Message{Command: "PRIVMSG", Params: []string{"#a", ":)"}}, nil,
			[]string{"PRIVMSG #a ::)"}},
		{"CR LF NUL in trailing", &irc.Message{Command: "PRIVMSG", Params: []string{"me", "a\r\nQUIT\x00"}}, nil,
			[]string{"PRIVMSG me :a  QUIT "}},
		{"unsafe middles", &irc.Message{Prefix: srv, Command: "352", Params: []string{"me", "", "a b", "::1", "x\ry", "end"}}, nil,
			[]string{":xircd 352 me * a_b 0::1 x_y end"}},
		{"unsafe prefix", &irc.Message{Prefix: &irc.Prefix{Name: "b b", User: "u\n", Host: "h\x00"}, Command: "NICK", Params: []string{"x"}}, nil,
			[]string{":b_b!u_@h_ NICK x"}},
		{"invalid utf-8", &irc.Message{Command: "PRIVMSG", Params: []string{"m\xffe", "caf\xe9"}}, nil,
			[]string{"PRIVMSG m\uFFFDe caf\uFFFD"}},
		{"bad command", &irc.Message{Command: "PRIV MSG", Params: []string{"x"}}, nil, nil},
		{"empty command", &irc.Message{Command: ""}, nil, nil},
		{"no params", &irc.Message{Prefix: srv, Command: "ACK"}, nil, []string{":xircd ACK"}},
		{"tags sorted and escaped", &irc.Message{Tags: irc.Tags{"z": "", "a": "x y;z\\", "bad key": "v", "+n": "a\x00b"},
			Command: "TAGMSG", Params: []string{"me"}}, nil,
			[]string{`@+n=ab;a=x\sy\:z\\;z TAGMSG me`}},
		{"tag values with CR, LF and invalid UTF-8", &irc.Message{Tags: irc.Tags{"a": "x\r\ny\xff", "b": "msgid-1/2"},
			Command: "TAGMSG", Params: []string{"me"}}, nil,
			[]string{"@a=x\\r\\ny\uFFFD;b=msgid-1/2 TAGMSG me"}},
		{"tags filling the tag section exactly", &irc.Message{Tags: irc.Tags{"a": strings.Repeat("x", MaxTagsLen-8), "b": "y", "c": "z", "d": ""},
			Command: "TAGMSG", Params: []string{"me"}}, nil,
			[]string{"@a=" + strings.Repeat("x", MaxTagsLen-8) + ";b=y TAGMSG me"}},
		{"a tag beyond the tag section dropped", &irc.Message{Tags: irc.Tags{"a": strings.Repeat("x", MaxTagsLen-7), "b": "y", "c": ""},
			Command: "TAGMSG", Params: []string{"me"}}, nil,
			[]string{"@a=" + strings.Repeat("x", MaxTagsLen-7) + ";c TAGMSG me"}},
		{"tags filtered", &irc.Message{Tags: irc.Tags{"time": "t", "msgid": "m"}, Command: "PRIVMSG", Params: []string{"me", "x"}},
			keepTagFor(func(c string) bool { return c == "server-time" }),
			[]string{"@time=t PRIVMSG me x"}},
		{"all tags filtered", &irc.Message{Tags: irc.Tags{"msgid": "m"}, Command: "PRIVMSG", Params: []string{"me", "x"}},
			keepTagFor(func(string) bool { return false }),
			[]string{"PRIVMSG me x"}},
		{"non-text truncated", &irc.Message{Command: "TOPIC", Params: []string{"#a", strings.Repeat("é", 300)}}, nil,
			[]string{"TOPIC #a :" + strings.Repeat("é", 250)}}, // 10 + 500 bytes + CR LF
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FormatLines(tc.m, tc.keep)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") || len(got) != len(tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestFormatLinesSplitsLongText(t *testing.T) {
	prefix := &irc.Prefix{Name: "bob", User: "bob", Host: "example.org"}
	text := strings.Repeat("word ", 150) + strings.Repeat("ü", 400) + " end"
	tags := irc.Tags{"time": "2026-01-01T00:00:00Z", "batch": "b1", "msgid": "m1", "label": "l1"}
	lines := FormatLines(&irc.Message{Tags: tags, Prefix: prefix, Command: "PRIVMSG", Params: []string{"me", text}}, nil)
	if len(lines) < 3 {
		t.Fatalf("got %d lines", len(lines))
	}
	var joined strings.Builder
	for i, l := range lines {
		checkLine(t, l)
		m, err := irc.ParseMessage(l)
		if err != nil {
			t.Fatal(err)
		}
		// Every piece keeps its time and batch; msgid and label name one
		// message and stay with the first piece.
		if m.Tags["time"] != tags["time"] || m.Tags["batch"] != "b1" || m.Params[0] != "me" {
			t.Errorf("part %q lost its tags or target", l)
		}
		_, hasID := m.Tags["msgid"]
		_, hasLabel := m.Tags["label"]
		if hasID != (i == 0) || hasLabel != (i == 0) {
			t.Errorf("part %d: msgid %v, label %v; want them on the first part only", i, hasID, hasLabel)
		}
		joined.WriteString(m.Trailing())
	}
	if joined.String() != text {
		t.Errorf("parts do not add up to the text")
	}
}

func TestFormatLinesSplitsCTCPAction(t *testing.T) {
	text := "\x01ACTION " + strings.Repeat("waves ", 200) + "\x01"
	lines := FormatLines(&irc.Message{Prefix: &irc.Prefix{Name: "bob"}, Command: "PRIVMSG", Params: []string{"#a", text}}, nil)
	if len(lines) < 2 {
		t.Fatalf("got %d lines", len(lines))
	}
	var inner strings.Builder
	for _, l := range lines {
		checkLine(t, l)
		tr := irc.MustParseMessage(l).Trailing()
		if !strings.HasPrefix(tr, "\x01ACTION ") || !strings.HasSuffix(tr, "\x01") {
			t.Errorf("part is not an ACTION: %q", tr)
		}
		inner.WriteString(strings.TrimSuffix(strings.TrimPrefix(tr, "\x01ACTION "), "\x01"))
	}
	if inner.String() != strings.Repeat("waves ", 200) {
		t.Error("ACTION parts do not add up to the text")
	}
}

func TestSplitText(t *testing.T) {
	for _, tc := range []struct {
		text string
		max  int
		want []string
	}{
		{"", 10, []string{""}},
		{"short", 10, []string{"short"}},
		{"hello world again", 12, []string{"hello world ", "again"}},
		{"abcdefghij", 4, []string{"abcd", "efgh", "ij"}},
		{"ééééé", 5, []string{"éé", "éé", "é"}},
		{"a😀b", 1, []string{"a", "😀", "b"}}, // max raised to utf8.UTFMax
	} {
		got := SplitText(tc.text, tc.max)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") || len(got) != len(tc.want) {
			t.Errorf("SplitText(%q, %d) = %q, want %q", tc.text, tc.max, got, tc.want)
		}
	}
}

// TestParseMessagePanics records the irc.v4 behaviour the read path guards
// against: ParseMessage indexes an empty remainder after a tag section.
func TestParseMessagePanics(t *testing.T) {
	for _, line := range []string{"@a=b ", "@a ", "@ "} {
		panicked := func() (p bool) {
			defer func() { p = recover() != nil }()
			irc.ParseMessage(line)
			return false
		}()
		if !panicked {
			t.Errorf("irc.ParseMessage(%q) no longer panics; the guard in ParseLine may be obsolete", line)
		}
		if _, err := ParseLine(line); err == nil {
			t.Errorf("ParseLine(%q) returned no error", line)
		}
	}
	for _, line := range []string{":p ", "@a :p ", "   ", ":"} {
		if _, err := ParseLine(line); err == nil {
			t.Errorf("ParseLine(%q) returned no error", line)
		}
	}
}

// checkLine asserts the invariants of one output line.
func checkLine(t testing.TB, l string) {
	t.Helper()
	if strings.ContainsAny(l, "\r\n\x00") {
		t.Fatalf("line contains CR/LF/NUL: %q", l)
	}
	if !utf8.ValidString(l) {
		t.Fatalf("line is not UTF-8: %q", l)
	}
	rest := l
	if strings.HasPrefix(l, "@") {
		i := strings.IndexByte(l, ' ')
		if i < 0 || i+1 > MaxTagsLen {
			t.Fatalf("bad tag section in %q", l)
		}
		rest = l[i+1:]
	}
	if len(rest)+2 > MaxLineLen {
		t.Fatalf("line is %d bytes without tags: %q", len(rest)+2, l)
	}
}

// A message of one line is three allocations, its head, the line and the
// slice that holds it, however long its head: the head's buffer is grown
// once.
func TestFormatLinesGrowsTheHeadOnce(t *testing.T) {
	m := &irc.Message{Prefix: &irc.Prefix{Name: "somebody", User: "somebody", Host: "xmpp.example.org"}, Command: "PRIVMSG",
		Params: []string{"mem00", "hello there"}}
	var lines []string
	if n := testing.AllocsPerRun(10, func() { lines = FormatLines(m, nil) }); n != 3 {
		t.Errorf("%v allocations for one line, want 3", n)
	}
	if want := ":somebody!somebody@xmpp.example.org PRIVMSG mem00 :hello there"; len(lines) != 1 || lines[0] != want {
		t.Errorf("lines %q, want %q", lines, want)
	}
}
