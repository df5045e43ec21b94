package ircd

// NickLen is the longest nick the server accepts (ISUPPORT NICKLEN).
const NickLen = 32

// ChannelLen is the longest channel name (ISUPPORT CHANNELLEN). Room
// addresses such as #room@conference.example.org need room.
const ChannelLen = 200

// Casefold maps s to its canonical form under CASEMAPPING=ascii: only A–Z
// are folded, so every client library agrees on it.
func Casefold(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
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
