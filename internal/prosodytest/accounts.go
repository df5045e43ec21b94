package prosodytest

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// RosterEntry is one item of a roster written by SetRoster.
type RosterEntry struct {
	JID          string // bare JID
	Name         string
	Groups       []string
	Subscription string // none | to | from | both ("" = none)
	Ask          string // "subscribe" for a pending outgoing request
}

var userRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// scramIterations is low on purpose: accounts are throwaway and the
// PBKDF2 cost is paid on every login of every test client.
const scramIterations = 4096

// Register creates (or resets the password of) an account on Domain and
// returns its bare JID. It writes Prosody's internal_hashed account file
// directly, with SCRAM-SHA-1 keys computed here, so it is cheap enough for
// thousands of accounts and works whether or not the server is running.
func (s *Server) Register(user, pass string) (string, error) {
	if !userRE.MatchString(user) {
		return "", fmt.Errorf("prosodytest: invalid user name %q", user)
	}
	s.mu.Lock()
	text, ok := s.accountFiles[pass]
	s.mu.Unlock()
	if !ok {
		// Accounts with the same password share salt and keys, which
		// makes creating thousands of them cheap.
		salt := rand.Text()
		salted, err := pbkdf2.Key(sha1.New, pass, []byte(salt), scramIterations, sha1.Size)
		if err != nil {
			return "", err
		}
		clientKey := hmacSHA1(salted, "Client Key")
		storedKey := sha1.Sum(clientKey)
		serverKey := hmacSHA1(salted, "Server Key")
		text = fmt.Sprintf("return {\n\t[\"iteration_count\"] = %d;\n\t[\"salt\"] = %s;\n\t[\"stored_key\"] = %s;\n\t[\"server_key\"] = %s;\n};\n",
			scramIterations, luaQuote(salt), luaQuote(hex.EncodeToString(storedKey[:])), luaQuote(hex.EncodeToString(serverKey)))
		s.mu.Lock()
		if s.accountFiles == nil {
			s.accountFiles = map[string]string{}
		}
		s.accountFiles[pass] = text
		s.mu.Unlock()
	}
	if err := s.writeStore("accounts", user, text); err != nil {
		return "", err
	}
	return user + "@" + s.Domain, nil
}

func hmacSHA1(key []byte, msg string) []byte {
	m := hmac.New(sha1.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// SetRoster replaces user's roster. Prosody reads rosters at login, so write
// it before the user's first session (a running session keeps its copy).
func (s *Server) SetRoster(user string, items []RosterEntry) error {
	if !userRE.MatchString(user) {
		return fmt.Errorf("prosodytest: invalid user name %q", user)
	}
	var b strings.Builder
	b.WriteString("return {\n\t[false] = { [\"pending\"] = {}; [\"version\"] = 1; };\n")
	for _, it := range items {
		sub := it.Subscription
		if sub == "" {
			sub = "none"
		}
		switch sub {
		case "none", "to", "from", "both":
		default:
			return fmt.Errorf("prosodytest: invalid subscription %q", sub)
		}
		fmt.Fprintf(&b, "\t[%s] = {\n\t\t[\"subscription\"] = %s;\n", luaQuote(it.JID), luaQuote(sub))
		if it.Name != "" {
			fmt.Fprintf(&b, "\t\t[\"name\"] = %s;\n", luaQuote(it.Name))
		}
		if it.Ask != "" {
			fmt.Fprintf(&b, "\t\t[\"ask\"] = %s;\n", luaQuote(it.Ask))
		}
		groups := append([]string(nil), it.Groups...)
		sort.Strings(groups)
		b.WriteString("\t\t[\"groups\"] = {")
		for _, g := range groups {
			fmt.Fprintf(&b, " [%s] = true;", luaQuote(g))
		}
		b.WriteString(" };\n\t};\n")
	}
	b.WriteString("};\n")
	return s.writeStore("roster", user, b.String())
}

// writeStore writes DATA/<host>/<store>/<user>.dat atomically.
func (s *Server) writeStore(store, user, text string) error {
	dir := filepath.Join(s.Dir, "data", encodePath(s.Domain), store)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(dir, encodePath(user)+".dat")
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// encodePath is Prosody's datamanager file-name encoding: every byte that
// is not a letter, digit or underscore becomes %xx.
func encodePath(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// luaQuote renders s as a Lua string literal.
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
