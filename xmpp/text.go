package xmpp

import (
	"errors"
	"strings"
	"time"
	"unicode/utf8"
)

// CleanText applies the body rule (see the package documentation) to s:
// invalid UTF-8 becomes U+FFFD, CR LF and lone CR become LF, control
// characters other than TAB and LF are removed, and the non-characters
// U+FFFE and U+FFFF become U+FFFD. Everything else, including emoji and
// XML-special characters, is kept as is.
func CleanText(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteRune(utf8.RuneError)
		case r == '\r':
			b.WriteByte('\n')
			if i+1 < len(s) && s[i+1] == '\n' {
				n++
			}
		case r == '\t' || r == '\n':
			b.WriteRune(r)
		case r < 0x20:
			// dropped: not allowed in XML 1.0
		case r == 0xFFFE || r == 0xFFFF:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isClean(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\t' && c != '\n' {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 || r == 0xFFFE || r == 0xFFFF {
			return false
		}
		i += n
	}
	return true
}

// The escapers of XML character data and of attribute values (in either
// kind of quotes). TAB and LF in attributes are written as character
// references so that attribute-value normalisation keeps them; CleanText
// has already turned CR into LF and dropped what XML cannot carry.
var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;",
		"\n", "&#xA;", "\t", "&#x9;")
)

// escapeText cleans s and escapes it for XML character data.
func escapeText(s string) string { return textEscaper.Replace(CleanText(s)) }

// escapeAttr cleans s and escapes it for an attribute value.
func escapeAttr(s string) string { return attrEscaper.Replace(CleanText(s)) }

var errBadStamp = errors.New("xmpp: bad XEP-0082 timestamp")

// ParseStamp parses a XEP-0082 DateTime (CCYY-MM-DDThh:mm:ss[.sss]TZD, any
// number of fraction digits, TZD "Z" or ±hh:mm) or a legacy XEP-0091 stamp
// (CCYYMMDDThh:mm:ss, UTC) and returns it in UTC.
func ParseStamp(s string) (time.Time, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	if len(s) == 17 && s[8] == 'T' {
		t, err := time.Parse("20060102T15:04:05", s)
		if err != nil {
			return time.Time{}, errBadStamp
		}
		return t.UTC(), nil
	}
	// time.RFC3339Nano accepts at most nine fraction digits; XEP-0082 has
	// no limit, and digits beyond nanoseconds carry no information here.
	if dot := strings.IndexByte(s, '.'); dot >= 0 {
		end := dot + 1
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		if end == dot+1 {
			return time.Time{}, errBadStamp
		}
		if end-dot-1 > 9 {
			s = s[:dot+10] + s[end:]
		}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, errBadStamp
	}
	return t.UTC(), nil
}

// BareJID is jid without its resource, with its localpart and domain in
// lower case. RFC 7622 compares localparts and domains case-insensitively
// (their prepared forms are lower case) and resources case-sensitively, so
// the bare JIDs of one entity are one string: state is keyed by BareJID
// and JIDs are compared by it. strings.ToLower stands in for the full
// PRECIS and IDNA preparation, which is the server's.
func BareJID(jid string) string {
	bare, _, _ := strings.Cut(jid, "/")
	return strings.ToLower(bare)
}

// ValidJID is a cheap sanity check for a JID received or put into a
// stanza: non-empty domain, at most 3071 bytes (RFC 7622), valid UTF-8, no
// control characters, no empty localpart or resource, and no spaces
// except in the resource (MUC nicks may have them).
func ValidJID(jid string) bool {
	if jid == "" || len(jid) > 3071 || !utf8.ValidString(jid) {
		return false
	}
	bare, res, hasRes := strings.Cut(jid, "/")
	for _, r := range bare {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	for _, r := range res {
		if r < ' ' || r == 0x7f {
			return false
		}
	}
	if hasRes && res == "" {
		return false
	}
	d := bare
	if i := strings.IndexByte(d, '@'); i >= 0 {
		if i == 0 {
			return false
		}
		d = d[i+1:]
	}
	return d != ""
}
