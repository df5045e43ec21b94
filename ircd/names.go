package ircd

import (
	"cmp"

	"gopkg.in/irc.v4"
)

// NickLen is the longest nick the server accepts (ISUPPORT NICKLEN).
const NickLen = 32

// Casefold maps s to its canonical form under CASEMAPPING=ascii: only A–Z
// are folded, so every client library agrees on it.
func Casefold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = foldByte(b[j])
			}
			return string(b)
		}
	}
	return s
}

// CompareFolded compares a and b as Casefold(a) and Casefold(b) would
// compare, without making the folded copies: sorting nicks calls it for
// every pair it compares.
func CompareFolded(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ca, cb := foldByte(a[i]), foldByte(b[i])
		if ca != cb {
			return cmp.Compare(ca, cb)
		}
	}
	return cmp.Compare(len(a), len(b))
}

// foldByte is c under Casefold.
func foldByte(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// IsNickSpecial reports whether c is one of the non-alphanumeric characters
// RFC 2812 allows in nicks.
func IsNickSpecial(c byte) bool {
	switch c {
	case '[', ']', '\\', '`', '_', '^', '{', '|', '}':
		return true
	}
	return false
}

// ValidNick reports whether nick is an acceptable nick: 1 to NickLen bytes of
// ASCII letters, digits, specials and '-', not starting with a digit or '-'.
// Anything wider (spaces, '!', '@', ':', ',', '*', '#', '&', non-ASCII) would
// break prefixes, targets or masks in some client.
func ValidNick(nick string) bool {
	if nick == "" || len(nick) > NickLen {
		return false
	}
	for i := 0; i < len(nick); i++ {
		c := nick[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', IsNickSpecial(c):
		case (c >= '0' && c <= '9') || c == '-':
			if i == 0 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// NamesReplies returns the NAMES reply for channel as d sees it: 353
// RPL_NAMREPLY lines listing names (each with its membership prefixes),
// packed so that every line fits, then 366 RPL_ENDOFNAMES.
func NamesReplies(d Downstream, channel string, names []string) []*irc.Message {
	server := &irc.Prefix{Name: d.ServerName()}
	nick := d.Nick()
	var out []*irc.Message
	for _, line := range joinLimited(names, namesLineLen-len(nick)-len(channel)) {
		out = append(out, &irc.Message{Prefix: server, Command: irc.RPL_NAMREPLY, Params: []string{nick, "=", channel, line}})
	}
	return append(out, &irc.Message{Prefix: server, Command: irc.RPL_ENDOFNAMES, Params: []string{nick, channel, "End of /NAMES list"}})
}

// namesLineLen bounds a 353 line's nick, channel and names together, so
// that the line with the server's prefix stays well inside MaxLineLen.
const namesLineLen = 400
