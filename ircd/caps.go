package ircd

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/irc.v4"
)

// capability is one IRCv3 capability the server offers: ircd's own
// (ownCapabilities) and the backend's (Features.Caps). The backend learns
// whether a client has it through Downstream.HasCap, and the output edge
// (tagCap, commandCap) strips what the client did not ask for.
type capability struct {
	name string
	// value is the CAP LS 302 value, if any.
	value func(s *Server) string
	// available reports whether the capability is offered at all.
	available func(s *Server) bool
}

// ownCapabilities are those of the protocol that ircd implements itself.
var ownCapabilities = []capability{
	{name: "cap-notify"},
	{name: "sasl", value: func(*Server) string { return "PLAIN" }, available: func(s *Server) bool { return s.authRequired() }},
	{name: "message-tags"},
	{name: "batch"},
	{name: "labeled-response"},
}

// capSet is a set of capabilities, one bit per capability at the same
// index in Server.caps (see Server.capBit): a client's negotiated ones and
// a backend's withdrawn ones cost a word each, not a map.
type capSet uint64

// maxCaps is how many capabilities a capSet holds.
const maxCaps = 64

// capBit returns the set that holds only the capability called name, or
// the empty set for a name the server does not know.
func (s *Server) capBit(name string) capSet {
	i, ok := s.capIndex[name]
	if !ok {
		return 0
	}
	return 1 << i
}

// backendCapability is a "name" or "name=value" token of Features.Caps.
func backendCapability(tok string) capability {
	name, value, _ := strings.Cut(tok, "=")
	c := capability{name: name}
	if value != "" {
		c.value = func(*Server) string { return value }
	}
	return c
}

// offered reports whether the server offers c now to the clients of
// backend b (nil: those not logged in yet): its own condition, and not
// withdrawn by the backend (SetCapAvailable, CapSwitch).
func (s *Server) offered(b Backend, c capability) bool {
	if c.available != nil && !c.available(s) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.capsWithdrawn[b]&s.capBit(c.name) == 0
}

// findCap returns the capability called name offered to the clients of b.
func (s *Server) findCap(b Backend, name string) (capability, bool) {
	for _, c := range s.caps {
		if c.name == name && s.offered(b, c) {
			return c, true
		}
	}
	return capability{}, false
}

// capToken is c as CAP LS and CAP NEW list it: "name", or "name=value"
// for CAP 302 clients.
func (s *Server) capToken(c capability, withValue bool) string {
	if withValue && c.value != nil {
		if v := c.value(s); v != "" {
			return c.name + "=" + v
		}
	}
	return c.name
}

// capList returns the capabilities offered to the clients of b as "name"
// or "name=value" tokens.
func (s *Server) capList(b Backend, withValues bool) []string {
	var out []string
	for _, c := range s.caps {
		if s.offered(b, c) {
			out = append(out, s.capToken(c, withValues))
		}
	}
	return out
}

// SetCapAvailable offers (on) or withdraws a capability (ircd's own or one
// of Features.Caps) at run time, for a backend whose features depend on
// what it learns later. Clients with cap-notify get CAP NEW or CAP DEL; a
// withdrawn capability is disabled for every client that had it.
// cap-notify itself and names the server does not know cannot be changed.
// In multi-user mode it changes what clients not yet logged in see (use
// CapSwitch for one account's clients).
func (s *Server) SetCapAvailable(name string, on bool) error {
	return s.setCapAvailable(s.backend, name, on)
}

// CapSwitch returns SetCapAvailable for the clients of backend b only, for
// the backends of a multi-user server. Clients that log in to b lose what
// b has withdrawn (CAP DEL).
func (s *Server) CapSwitch(b Backend) func(name string, on bool) error {
	return func(name string, on bool) error { return s.setCapAvailable(b, name, on) }
}

func (s *Server) setCapAvailable(b Backend, name string, on bool) error {
	var capDef *capability
	for i := range s.caps {
		if s.caps[i].name == name && name != "cap-notify" {
			capDef = &s.caps[i]
		}
	}
	if capDef == nil {
		return fmt.Errorf("ircd: no capability %q to offer or withdraw", name)
	}
	bit := s.capBit(name)
	s.mu.Lock()
	if withdrawn := s.capsWithdrawn[b]&bit != 0; withdrawn == !on {
		s.mu.Unlock()
		return nil
	}
	if on {
		if s.capsWithdrawn[b] &^= bit; s.capsWithdrawn[b] == 0 {
			delete(s.capsWithdrawn, b)
		}
	} else {
		s.capsWithdrawn[b] |= bit
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		if c.currentBackend() == b {
			conns = append(conns, c)
		}
	}
	s.mu.Unlock()
	if capDef.available != nil && !capDef.available(s) {
		return nil // not offered anyway: nothing changes for clients
	}
	for _, c := range conns {
		c.capChanged(*capDef, on)
	}
	return nil
}

// capChanged tells the client that capability def is now offered (on) or
// withdrawn (CAP NEW, CAP DEL with cap-notify); a withdrawn capability is
// disabled.
func (c *conn) capChanged(def capability, on bool) {
	c.mu.Lock()
	notify, v302 := c.caps&c.s.capBit("cap-notify") != 0, c.capVersion >= 302
	if !on {
		c.caps &^= c.s.capBit(def.name)
	}
	c.mu.Unlock()
	if !notify {
		return
	}
	verb, tok := "DEL", def.name
	if on {
		verb, tok = "NEW", c.s.capToken(def, v302)
	}
	c.Send(&irc.Message{Prefix: c.serverPrefix(), Command: "CAP", Params: []string{c.Nick(), verb, tok}})
}

// loggedIn makes the client's capabilities those of its account's
// backend: what the backend has withdrawn is withdrawn from the client.
func (c *conn) loggedIn() {
	c.s.mu.Lock()
	set := c.s.capsWithdrawn[c.backend]
	c.s.mu.Unlock()
	var withdrawn []string
	for i, def := range c.s.caps {
		if set&(1<<i) != 0 {
			withdrawn = append(withdrawn, def.name)
		}
	}
	sort.Strings(withdrawn)
	for _, name := range withdrawn {
		for _, def := range c.s.caps {
			if def.name == name {
				c.capChanged(def, false)
			}
		}
	}
}

// joinLimited packs tokens into space-separated lines of at most max bytes.
func joinLimited(tokens []string, max int) []string {
	var lines []string
	var cur strings.Builder
	for _, t := range tokens {
		if cur.Len() > 0 && cur.Len()+1+len(t) > max {
			lines = append(lines, cur.String())
			cur.Reset()
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(t)
	}
	if cur.Len() > 0 || lines == nil {
		lines = append(lines, cur.String())
	}
	return lines
}

// NameLen is the longest real name SETNAME accepts (ISUPPORT NAMELEN).
const NameLen = 128

// isupportTokens returns ircd's own ISUPPORT tokens and the backend's,
// sorted.
func (s *Server) isupportTokens() []string {
	toks := append([]string{
		"CASEMAPPING=ascii",
		"CHANTYPES=&#",
		"NAMELEN=" + strconv.Itoa(NameLen),
		"NETWORK=" + sanitizeWord(s.cfg.Network, "xircd"),
		"NICKLEN=" + strconv.Itoa(NickLen),
		"UTF8ONLY",
	}, s.features.ISupport...)
	sort.Strings(toks)
	return toks
}

// isupportLines groups the tokens into 005 parameter lists of at most 13
// tokens so that the burst spans several lines.
func (s *Server) isupportLines() [][]string {
	toks := s.isupportTokens()
	var out [][]string
	for len(toks) > 0 {
		n := min(len(toks), isupportPerLine)
		out = append(out, append([]string(nil), toks[:n]...))
		toks = toks[n:]
	}
	return out
}

// isupportPerLine keeps 005 lines short; RFC-era clients expect at most
// 13 tokens per line.
const isupportPerLine = 10
