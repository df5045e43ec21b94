package ircd

import (
	"sort"
	"strings"
	"unicode/utf8"

	"gopkg.in/irc.v4"
)

// The output edge turns an *irc.Message into wire lines that are always
// valid, whatever the backend put into it:
//
//   - CR, LF and NUL never leave: in the last parameter they become spaces,
//     in the prefix and middle parameters (and in tag keys) they become '_'.
//   - A middle parameter never contains a space (→ '_'), is never empty
//     (→ '*') and never starts with ':' (a '0' is prepended, as servers do
//     for IPv6 addresses like "::1").
//   - Invalid UTF-8 is replaced by U+FFFD.
//   - Tags are sorted, escaped, and dropped when the tag section would exceed
//     MaxTagsLen.
//   - The line without tags fits MaxLineLen bytes including CR LF. PRIVMSG and
//     NOTICE text that does not fit is split with SplitText into several
//     messages; CTCP messages stay CTCP in every part. Other commands have
//     their last parameter truncated at a UTF-8 boundary.
//     This split is a safety net: a backend formats its messages to fit
//     (SplitText is the one splitter for that too). Should it happen, every
//     piece keeps the tags that describe the message (time, account,
//     batch…), so that no piece loses its time; the tags that name one
//     message (msgid, label) stay on the first piece only, since two lines
//     with one msgid read as one message repeated (ergo, too, sends a split
//     message's msgid with its first line only).
//   - A message whose command is not a word of letters and digits, or whose
//     fixed part alone does not fit, is dropped.

// FormatLines renders m as wire lines without CR LF, applying every rule of
// the output edge. keepTag decides which tags survive (nil keeps all).
func FormatLines(m *irc.Message, keepTag func(key string) bool) []string {
	if m == nil || !validCommand(m.Command) {
		return nil
	}
	var head strings.Builder
	// Grown once, to the head's size unless sanitizing makes it longer,
	// rather than once per doubling: a line is then two allocations.
	head.Grow(headSize(m))
	if m.Prefix != nil && m.Prefix.Name != "" {
		head.WriteByte(':')
		head.WriteString(sanitizeWord(m.Prefix.Name, "*"))
		if m.Prefix.User != "" {
			head.WriteByte('!')
			head.WriteString(sanitizeWord(m.Prefix.User, "*"))
		}
		if m.Prefix.Host != "" {
			head.WriteByte('@')
			head.WriteString(sanitizeWord(m.Prefix.Host, "*"))
		}
		head.WriteByte(' ')
	}
	head.WriteString(m.Command)
	params := m.Params
	var last string
	hasLast := len(params) > 0
	if hasLast {
		last = sanitizeTrailing(params[len(params)-1])
		params = params[:len(params)-1]
	}
	for _, p := range params {
		head.WriteByte(' ')
		head.WriteString(sanitizeMiddle(p))
	}
	h := head.String()
	tags := formatTags(m.Tags, keepTag)

	if !hasLast {
		if len(h) > MaxLineLen-2 {
			return nil
		}
		return []string{tags + h}
	}
	sep := " "
	if last == "" || last[0] == ':' || strings.IndexByte(last, ' ') >= 0 {
		sep = " :"
	}
	room := MaxLineLen - 2 - len(h) - len(sep)
	if len(last) <= room {
		return []string{tags + h + sep + last}
	}
	// Split parts always use " :" since they may contain spaces.
	room = MaxLineLen - 2 - len(h) - 2
	if room < utf8.UTFMax+2 {
		return nil
	}
	var parts []string
	switch m.Command {
	case "PRIVMSG", "NOTICE":
		parts = splitCTCP(last, room)
	default:
		parts = []string{truncateUTF8(last, room)}
	}
	lines := make([]string, len(parts))
	rest := formatTags(m.Tags, func(k string) bool { return !namesOneMessage[k] && (keepTag == nil || keepTag(k)) })
	for i, p := range parts {
		if i == 0 {
			lines[i] = tags + h + " :" + p
		} else {
			lines[i] = rest + h + " :" + p
		}
	}
	return lines
}

// headSize is the size of m's head (prefix, command and middle
// parameters) before sanitizing.
func headSize(m *irc.Message) int {
	n := len(m.Command)
	if p := m.Prefix; p != nil {
		n += len(p.Name) + len(p.User) + len(p.Host) + 4 // ':', '!', '@' and ' '
	}
	if len(m.Params) > 0 {
		for _, p := range m.Params[:len(m.Params)-1] {
			n += 1 + len(p)
		}
	}
	return n
}

// namesOneMessage are the tags that identify one message: when the output
// edge splits a message, only its first piece carries them.
var namesOneMessage = map[string]bool{"msgid": true, "label": true}

func validCommand(cmd string) bool {
	if cmd == "" || len(cmd) > 32 {
		return false
	}
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// sanitizeWord makes s usable as a space-free token: CR, LF, NUL and space
// become '_', invalid UTF-8 becomes U+FFFD, and an empty result becomes empty.
func sanitizeWord(s, empty string) string {
	if s == "" {
		return empty
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if strings.ContainsAny(s, " \r\n\x00") {
		s = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\r', '\n', 0:
				return '_'
			}
			return r
		}, s)
	}
	return s
}

// sanitizeMiddle makes p safe as a middle parameter.
func sanitizeMiddle(p string) string {
	p = sanitizeWord(p, "*")
	if p[0] == ':' {
		p = "0" + p
	}
	return p
}

// sanitizeTrailing makes p safe as the last parameter: CR, LF and NUL become
// spaces and invalid UTF-8 becomes U+FFFD.
func sanitizeTrailing(p string) string {
	p = strings.ToValidUTF8(p, "\uFFFD")
	if strings.ContainsAny(p, "\r\n\x00") {
		p = strings.Map(func(r rune) rune {
			switch r {
			case '\r', '\n', 0:
				return ' '
			}
			return r
		}, p)
	}
	return p
}

// validTagKey accepts the IRCv3 key grammar: an optional '+', an optional
// vendor with dots, and letters, digits, '-', '/', '.'.
func validTagKey(k string) bool {
	if k == "" || k == "+" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '/':
		case c == '+' && i == 0:
		default:
			return false
		}
	}
	return true
}

// formatTags renders the tag section including '@' and the trailing space,
// or "" when no tag survives.
func formatTags(tags irc.Tags, keep func(string) bool) string {
	if len(tags) == 0 {
		return ""
	}
	var keys []string // allocated only when a tag is kept: most clients keep none
	for k := range tags {
		if validTagKey(k) && (keep == nil || keep(k)) {
			if keys == nil {
				keys = make([]string, 0, len(tags))
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	values := make([]string, len(keys))
	size := 2 // '@' and ' '
	for i, k := range keys {
		values[i] = tagValue(tags[k])
		size += len(k) + 1 + len(values[i]) + 1
	}
	var b strings.Builder
	b.Grow(min(size, MaxTagsLen))
	b.WriteByte('@')
	for i, k := range keys {
		v := values[i]
		// '@' + items + separators + ' ' must stay within MaxTagsLen.
		extra := len(k)
		if v != "" {
			extra += 1 + len(v)
		}
		if b.Len() > 1 {
			extra++
		}
		if b.Len()+extra+1 > MaxTagsLen {
			continue
		}
		if b.Len() > 1 {
			b.WriteByte(';')
		}
		b.WriteString(k)
		if v != "" {
			b.WriteByte('=')
			b.WriteString(v)
		}
	}
	if b.Len() == 1 {
		return ""
	}
	b.WriteByte(' ')
	return b.String()
}

// tagValue is v escaped for the wire, without NUL and with invalid UTF-8
// replaced. Most values (msgid, time, account) need no escaping and are
// returned as they are.
func tagValue(v string) string {
	v = strings.ReplaceAll(strings.ToValidUTF8(v, "\uFFFD"), "\x00", "")
	if !strings.ContainsAny(v, "; \\\r\n") {
		return v
	}
	return irc.EncodeTagValue(v)
}

// truncateUTF8 cuts s to at most max bytes without splitting a UTF-8
// sequence.
func truncateUTF8(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && cut > max-utf8.UTFMax && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if cut == 0 || !utf8.RuneStart(s[cut]) {
		cut = max
	}
	return s[:cut]
}

// SplitText splits text into pieces of at most max bytes: the one splitter
// of message text, for the backend formatting a message for a client and
// for the output edge's safety net. Cuts fall on UTF-8 boundaries and, when
// there is a space in the second half of a piece, right after that space
// (the space ends the earlier piece, where it is not seen); concatenating
// the pieces gives text back. max values below utf8.UTFMax are raised to it.
func SplitText(text string, max int) []string {
	if max < utf8.UTFMax {
		max = utf8.UTFMax
	}
	var parts []string
	for len(text) > max {
		cut := len(truncateUTF8(text, max))
		if sp := strings.LastIndexByte(text[:cut], ' '); sp >= cut/2 {
			cut = sp + 1
		}
		parts = append(parts, text[:cut])
		text = text[cut:]
	}
	if text != "" || parts == nil {
		parts = append(parts, text)
	}
	return parts
}

// splitCTCP splits message text for PRIVMSG/NOTICE; a CTCP message such as
// "\x01ACTION text\x01" is split so that every part is itself a CTCP message.
func splitCTCP(text string, max int) []string {
	if n := len(text); n > 2 && text[0] == '\x01' && text[n-1] == '\x01' {
		if sp := strings.IndexByte(text, ' '); sp > 0 && sp < n-1 && max-(sp+2) >= utf8.UTFMax {
			tag := text[:sp+1]
			inner := SplitText(text[sp+1:n-1], max-len(tag)-1)
			for i := range inner {
				inner[i] = tag + inner[i] + "\x01"
			}
			return inner
		}
	}
	return SplitText(text, max)
}

// tagCap names the capability a client needs to receive a tag; tags without
// an entry need message-tags.
var tagCap = map[string]string{
	"time":    "server-time",
	"batch":   "batch",
	"label":   "labeled-response",
	"account": "account-tag",

	multilineConcatTag: MultilineCap,
}

// commandCap names the capability a client needs to receive a command at
// all; without it the message is dropped at the output edge.
var commandCap = map[string]string{
	"BATCH":   "batch",
	"TAGMSG":  "message-tags",
	"ACCOUNT": "account-notify",
	"CHGHOST": "chghost",
	"SETNAME": "setname",
	"AWAY":    "away-notify",
}

// keepTagFor returns the tag filter for a client with the given caps.
func keepTagFor(has func(string) bool) func(string) bool {
	return func(k string) bool {
		if c, ok := tagCap[k]; ok {
			return has(c)
		}
		return has("message-tags")
	}
}
