package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"unicode"

	"xircd/xmpp"
)

// maxJIDLen bounds a login's bare JID: it names a directory in
// bridge.state_dir, and file names are at most 255 bytes.
const maxJIDLen = 200

// normalizeJID checks that s is a bare JID (local@domain) and returns it
// with both parts in lower case: the form that names the user's session
// and state directory. It refuses what the XMPP address format forbids in
// a localpart (RFC 7622: " & ' / : < > @, spaces and controls) and what
// could not safely name a directory.
func normalizeJID(s string) (string, error) {
	if len(s) > maxJIDLen {
		return "", fmt.Errorf("a JID of at most %d bytes is needed", maxJIDLen)
	}
	if !xmpp.ValidJID(s) {
		return "", errors.New("not a JID")
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" {
		return "", errors.New("a bare JID such as me@example.org is needed")
	}
	for _, r := range local {
		if strings.ContainsRune("\"&'/:<>@\\", r) || unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) {
			return "", fmt.Errorf("the character %q is not allowed in a JID's local part", r)
		}
	}
	if _, err := normalizeDomain(domain); err != nil {
		return "", err
	}
	return xmpp.BareJID(s), nil
}

// normalizeDomain checks that s is a domain name (letters, digits, '-',
// dots between labels) and returns it in lower case.
func normalizeDomain(s string) (string, error) {
	if s == "" || len(s) > 253 {
		return "", errors.New("a domain name such as example.org is needed")
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("%q is not a domain name", s)
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return "", fmt.Errorf("%q is not a domain name (ASCII letters, digits and '-' only)", s)
			}
		}
	}
	return strings.ToLower(s), nil
}

// stateDirName is the directory in bridge.state_dir of the user with the
// normalized bare JID jid: the JID with every byte outside [a-z0-9._@-]
// written as %XX, so that no JID can name a path outside the directory
// (a JID always has an '@', so the name is never "." or "..").
func stateDirName(jid string) string {
	var b strings.Builder
	for i := 0; i < len(jid); i++ {
		c := jid[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '@' || c == '-' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// userStateDir is where the user jid keeps its state, under stateDir
// ("" when state_dir is not set).
func userStateDir(stateDir, jid string) (string, error) {
	if stateDir == "" {
		return "", nil
	}
	name := stateDirName(jid)
	if !filepath.IsLocal(name) || strings.ContainsRune(name, filepath.Separator) {
		return "", fmt.Errorf("JID %q cannot name a state directory", jid)
	}
	return filepath.Join(stateDir, name), nil
}
