package ircd

import (
	"errors"
	"strings"
)

// A client may name itself, as with soju, by a username suffix "@NAME":
// "USER carol@laptop 0 * :Carol", or in SASL PLAIN an authorization
// identity of the authentication identity followed by "@NAME"
// ("carol@example.org@phone" when authenticating as carol@example.org).
// The backend keeps per-client state by that name (Downstream.ClientName).
// When both name the client, the SASL one counts.

// maxClientNameLen bounds a client name.
const maxClientNameLen = 32

// ParseClientName splits a username into the user and the client name
// after its last "@" ("" when there is none). A name that is empty or
// has characters other than letters, digits, '-', '_' and '.', or is
// longer than 32 bytes, is an error.
func ParseClientName(username string) (user, client string, err error) {
	i := strings.LastIndexByte(username, '@')
	if i < 0 {
		return username, "", nil
	}
	user, client = username[:i], username[i+1:]
	if err := checkClientName(client); err != nil {
		return "", "", err
	}
	return user, client, nil
}

func checkClientName(name string) error {
	if name == "" || len(name) > maxClientNameLen {
		return errors.New("Malformed client name after @ (1 to 32 letters, digits, '-', '_' or '.')")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return errors.New("Malformed client name after @ (1 to 32 letters, digits, '-', '_' or '.')")
		}
	}
	return nil
}

// saslClientName is the client name a SASL PLAIN authorization identity
// gives: none when it is empty or the authentication identity itself,
// NAME when it is authc + "@NAME". Anything else is refused (ok false):
// the client may not act as someone else.
func saslClientName(authz, authc string) (client string, ok bool) {
	if authz == "" || authz == authc {
		return "", true
	}
	rest, found := strings.CutPrefix(authz, authc+"@")
	if !found || checkClientName(rest) != nil {
		return "", false
	}
	return rest, true
}
