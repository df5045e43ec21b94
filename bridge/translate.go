package bridge

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"xircd/ircd"
)

// sanitizeNick turns a roster name or JID localpart into a valid IRC nick:
// spaces become "_", characters IRC nicks cannot carry are dropped, a leading
// digit or '-' gets a "_" in front, and the result is bounded by NickLen.
// It returns "" when nothing usable is left. A name that needs no change
// is returned as it is, not copied: every contact keeps its nick.
func sanitizeNick(s string) string {
	n := s
	if !allNickBytes(s) {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			switch c := s[i]; {
			case c == ' ' || c == '\t':
				b.WriteByte('_')
			case isNickByte(c):
				b.WriteByte(c)
			}
		}
		n = b.String()
	}
	n = strings.Trim(n, "_")
	if n == "" {
		return ""
	}
	if c := n[0]; (c >= '0' && c <= '9') || c == '-' {
		n = "_" + n
	}
	if len(n) > ircd.NickLen {
		n = n[:ircd.NickLen]
	}
	return n
}

// isNickByte reports whether c may stand in a nick (ircd.ValidNick) as it
// is.
func isNickByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || ircd.IsNickSpecial(c)
}

// allNickBytes reports whether every byte of s may stand in a nick.
func allNickBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isNickByte(s[i]) {
			return false
		}
	}
	return true
}

// nickCandidate returns the n-th candidate for base: base itself for n < 2,
// else base with "_n" appended, base shortened so the result fits NickLen.
func nickCandidate(base string, n int) string {
	if n < 2 {
		return base
	}
	suffix := "_" + strconv.Itoa(n)
	if len(base)+len(suffix) > ircd.NickLen {
		base = base[:ircd.NickLen-len(suffix)]
	}
	return base + suffix
}

// uniqueNick returns the first candidate for base (see nickCandidate) that
// taken does not report as in use. base must be a valid nick.
func uniqueNick(base string, taken func(folded string) bool) string {
	for n := 1; ; n++ {
		c := nickCandidate(base, n)
		if !taken(ircd.Casefold(c)) {
			return c
		}
	}
}

// baseNick is the preferred nick for a contact: its roster name, else its
// JID localpart, else its domain, else "contact".
func baseNick(name, jid string) string {
	if n := sanitizeNick(name); n != "" {
		return n
	}
	local, domain := splitJID(jid)
	if n := sanitizeNick(local); n != "" {
		return n
	}
	if n := sanitizeNick(strings.ReplaceAll(domain, ".", "_")); n != "" {
		return n
	}
	return "contact"
}

// splitJID returns the localpart and domain of a bare or full JID.
func splitJID(jid string) (local, domain string) {
	bare, _ := splitResource(jid)
	if i := strings.IndexByte(bare, '@'); i >= 0 {
		return bare[:i], bare[i+1:]
	}
	return "", bare
}

// splitResource splits a full JID into its bare JID and resource.
func splitResource(jid string) (bare, resource string) {
	if i := strings.IndexByte(jid, '/'); i >= 0 {
		return jid[:i], jid[i+1:]
	}
	return jid, ""
}

// maskPart makes a string usable as the user or host part of a hostmask:
// no spaces, control characters, '!' or '@', and not empty.
func maskPart(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r <= ' ' || r == 0x7f || r == '!' || r == '@' || r == utf8.RuneError:
		default:
			b.WriteRune(r)
		}
	}
	out := strings.TrimLeft(b.String(), ":")
	if out == "" {
		return "xmpp"
	}
	return out
}

// maxInfoLen bounds status texts, reasons and names taken from XMPP.
const maxInfoLen = 300

// oneLine is cleanText bounded to maxInfoLen bytes, for texts from XMPP
// shown inside other messages (status, reasons).
func oneLine(s string) string {
	s = strings.TrimSpace(cleanText(s))
	if len(s) > maxInfoLen {
		s = strings.TrimRight(ircd.SplitText(s, maxInfoLen)[0], " ") + "…"
	}
	return s
}

// ircLine is one line of text to show on IRC, as a PRIVMSG text or as a
// CTCP ACTION.
type ircLine struct {
	Text   string
	Action bool
	// Concat: a piece of a long line, continuing the piece before it.
	Concat bool
}

// Wire returns the line as PRIVMSG text, with CTCP framing for actions.
func (l ircLine) Wire() string {
	if l.Action {
		return "\x01ACTION " + l.Text + "\x01"
	}
	return l.Text
}

// actionOverhead is what CTCP ACTION framing adds to a line.
const actionOverhead = len("\x01ACTION \x01")

// bodyToIRC turns an XMPP message body into IRC lines whose wire form fits
// in max bytes each (split by ircd.SplitText, so that the pieces of a long
// line add up to it): invalid UTF-8 is replaced, line breaks split lines,
// control characters (which could forge CTCP or formatting) are removed,
// blank lines are dropped and a leading "/me " becomes an ACTION.
func bodyToIRC(body string, max int) []ircLine {
	if max < 16 {
		max = 16
	}
	body = strings.ToValidUTF8(body, "\uFFFD")
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	var out []ircLine
	for i, raw := range strings.Split(body, "\n") {
		line := cleanText(raw)
		action := false
		if i == 0 && strings.HasPrefix(line, "/me ") {
			action = true
			line = line[len("/me "):]
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		limit := max
		if action {
			limit -= actionOverhead
		}
		for j, part := range ircd.SplitText(line, limit) {
			if strings.TrimSpace(part) != "" {
				out = append(out, ircLine{Text: part, Action: action, Concat: j > 0})
			}
		}
	}
	return out
}

// cleanText makes s one line of valid UTF-8: tab, CR and LF become spaces,
// other C0 control characters and DEL are removed.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\t' || c == '\r' || c == '\n':
			b.WriteByte(' ')
		case c < ' ' || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ctcp is a CTCP request or reply embedded in a PRIVMSG or NOTICE.
type ctcp struct {
	Command string // upper case
	Arg     string
}

// parseCTCP recognises "\x01CMD arg\x01" (the closing \x01 is optional, as
// clients are lax about it).
func parseCTCP(text string) (ctcp, bool) {
	if len(text) < 2 || text[0] != '\x01' {
		return ctcp{}, false
	}
	text = strings.TrimSuffix(text[1:], "\x01")
	cmd, arg, _ := strings.Cut(text, " ")
	if cmd == "" {
		return ctcp{}, false
	}
	return ctcp{Command: strings.ToUpper(cmd), Arg: arg}, true
}

// ircToBody turns the text of a PRIVMSG/NOTICE into an XMPP body: ACTION
// becomes "/me ", IRC formatting codes are removed. ok is false for other
// CTCP, which must not be forwarded.
func ircToBody(text string) (body string, ok bool) {
	text = strings.ToValidUTF8(text, "\uFFFD")
	if c, isCTCP := parseCTCP(text); isCTCP {
		if c.Command != "ACTION" {
			return "", false
		}
		return "/me " + stripFormatting(c.Arg), true
	}
	return stripFormatting(text), true
}

// stripFormatting removes mIRC formatting: bold, italics, underline,
// strike-through, monospace, reverse, reset and colour codes with their
// arguments.
func stripFormatting(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < ' ' }) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case 0x02, 0x1d, 0x1f, 0x1e, 0x11, 0x16, 0x0f, 0x01:
		case 0x03: // ^C[fg[,bg]]
			i = skipDigits(s, i+1, 2) - 1
			if i+2 < len(s) && s[i+1] == ',' && isDigit(s[i+2]) {
				i = skipDigits(s, i+2, 2) - 1
			}
		case 0x04: // ^D[RRGGBB[,RRGGBB]]
			i = skipHex(s, i+1, 6) - 1
			if i+2 < len(s) && s[i+1] == ',' && isHex(s[i+2]) {
				i = skipHex(s, i+2, 6) - 1
			}
		default:
			// A line break comes from a multiline batch.
			if c < ' ' && c != '\t' && c != '\n' {
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func skipDigits(s string, i, max int) int {
	for n := 0; n < max && i < len(s) && isDigit(s[i]); n++ {
		i++
	}
	return i
}

func skipHex(s string, i, max int) int {
	for n := 0; n < max && i < len(s) && isHex(s[i]); n++ {
		i++
	}
	return i
}

// awayToPresence maps the text of the user's AWAY command to an XMPP show
// and status: "" is available, "dnd:" and "xa:" prefixes choose that show,
// anything else is away.
func awayToPresence(text string) (show, status string) {
	if text == "" {
		return "", ""
	}
	lower := strings.ToLower(text)
	for _, s := range []string{"dnd", "xa"} {
		if strings.HasPrefix(lower, s+":") {
			return s, strings.TrimSpace(text[len(s)+1:])
		}
	}
	return "away", text
}

// showRank orders presence shows from most to least available.
func showRank(show string) int {
	switch show {
	case "chat":
		return 5
	case "":
		return 4
	case "away":
		return 3
	case "xa":
		return 2
	case "dnd":
		return 1
	}
	return 0
}

// isVoicedShow reports whether a show means "available" (voice on IRC).
func isVoicedShow(show string) bool { return show == "" || show == "chat" }

// showName is a human name of a show value.
func showName(show string) string {
	switch show {
	case "":
		return "available"
	case "chat":
		return "free for chat"
	case "away":
		return "away"
	case "xa":
		return "extended away"
	case "dnd":
		return "do not disturb"
	}
	return show
}

// awayText is what AWAY/301 show for a contact whose best resource has show
// and status.
func awayText(show, status string) string {
	if status == "" {
		return showName(show)
	}
	return showName(show) + ": " + status
}

// typingToChatState maps the IRCv3 +typing client tag to an XEP-0085 state.
func typingToChatState(typing string) string {
	switch typing {
	case "active":
		return "composing"
	case "paused":
		return "paused"
	case "done":
		return "active"
	}
	return ""
}

// chatStateToTyping maps an XEP-0085 state to the +typing client tag.
func chatStateToTyping(state string) string {
	switch state {
	case "composing":
		return "active"
	case "paused":
		return "paused"
	case "active", "inactive", "gone":
		return "done"
	}
	return ""
}

// serverTimeLayout is the server-time tag's format: UTC, milliseconds.
const serverTimeLayout = "2006-01-02T15:04:05.000Z"

// serverTime formats t for the server-time tag. Every message is stamped,
// so it writes the digits itself: time.Format, which reads its layout on
// each call, took about a microsecond a message.
func serverTime(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(serverTimeLayout)
	}
	hour, minute, sec := t.Clock()
	b := []byte("0000-00-00T00:00:00.000Z")
	putDigits(b[0:4], year)
	putDigits(b[5:7], int(month))
	putDigits(b[8:10], day)
	putDigits(b[11:13], hour)
	putDigits(b[14:16], minute)
	putDigits(b[17:19], sec)
	putDigits(b[20:23], t.Nanosecond()/1e6)
	return string(b)
}

// putDigits writes v into b in decimal, zero-padded to len(b).
func putDigits(b []byte, v int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}

// timestampPrefix is the visible time stamp put in front of delayed text
// for clients without server-time. It is in UTC: the gateway's own zone
// says nothing about the user's, and UTC cannot be misread.
func timestampPrefix(t time.Time) string {
	return "[" + t.UTC().Format("2006-01-02 15:04:05") + "] "
}

// matchMask reports whether s matches an IRC glob mask (* and ?),
// case-insensitively under the ascii casemapping.
func matchMask(mask, s string) bool {
	mask, s = ircd.Casefold(mask), ircd.Casefold(s)
	for len(mask) > 0 {
		switch mask[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if matchMask(mask[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			_, n := utf8.DecodeRuneInString(s)
			mask, s = mask[1:], s[n:]
		default:
			if s == "" || s[0] != mask[0] {
				return false
			}
			mask, s = mask[1:], s[1:]
		}
	}
	return s == ""
}
