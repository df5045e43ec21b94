package ircd

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"gopkg.in/irc.v4"
)

// command is one entry of the command table. dispatch checks registration
// (451) and the parameter count (461) before calling handler, and sends
// what handler returns as an error reply.
type command struct {
	handler   func(c *conn, r *Request) error
	preReg    bool
	minParams int
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"PASS":         {handler: handlePass, preReg: true, minParams: 1},
		"NICK":         {handler: handleNick, preReg: true},
		"USER":         {handler: handleUser, preReg: true, minParams: 4},
		"CAP":          {handler: handleCap, preReg: true, minParams: 1},
		"AUTHENTICATE": {handler: handleAuthenticate, preReg: true, minParams: 1},
		"PING":         {handler: handlePing, preReg: true, minParams: 1},
		"PONG":         {handler: handlePong, preReg: true},
		"QUIT":         {handler: handleQuit, preReg: true},
		"MOTD":         {handler: handleMotd},
		"LUSERS":       {handler: handleLusers},
		"VERSION":      {handler: handleVersion},
		"TIME":         {handler: handleTime},
		"MODE":         {handler: handleMode, minParams: 1},
		"SETNAME":      {handler: handleSetname, minParams: 1},
		"BATCH":        {handler: handleBatch, minParams: 1},
	}
}

// toBackend hands a registered client's command to its Session, when the
// backend handles it.
func toBackend(c *conn, r *Request) error {
	if _, ok := c.s.backendCommands[r.Msg.Command]; !ok {
		return errUnknownCommand(r.Msg.Command)
	}
	if c.session == nil {
		return &Error{Code: irc.ERR_NOTREGISTERED, Params: []string{"You have not registered"}}
	}
	return c.session.Handle(r)
}

// PASS <password>
func handlePass(c *conn, r *Request) error {
	if c.isRegistered() {
		return &Error{Code: irc.ERR_ALREADYREGISTERED, Params: []string{"You may not reregister"}}
	}
	c.pass, c.passGiven = r.Msg.Params[0], true
	return nil
}

// NICK <nickname>
func handleNick(c *conn, r *Request) error {
	if len(r.Msg.Params) == 0 || r.Msg.Params[0] == "" {
		return &Error{Code: irc.ERR_NONICKNAMEGIVEN, Params: []string{"No nickname given"}}
	}
	nick := r.Msg.Params[0]
	if !ValidNick(nick) {
		return &Error{Code: irc.ERR_ERRONEUSNICKNAME, Params: []string{nick, "Erroneous nickname"}}
	}
	if !c.isRegistered() {
		if b := c.currentBackend(); b != nil {
			if err := b.CheckNick(nick); err != nil {
				return err
			}
		}
		c.setNick(nick)
		c.tryRegister()
		return nil
	}
	if nick == c.Nick() {
		return nil
	}
	if Casefold(nick) != Casefold(c.Nick()) {
		if err := c.currentBackend().CheckNick(nick); err != nil {
			return err
		}
	}
	return toBackend(c, r)
}

// USER <username> <mode> <unused> <realname>
func handleUser(c *conn, r *Request) error {
	if c.isRegistered() {
		return &Error{Code: irc.ERR_ALREADYREGISTERED, Params: []string{"You may not reregister"}}
	}
	if r.Msg.Params[0] == "" || r.Msg.Params[3] == "" {
		// An empty parameter counts as a missing one (Modern IRC).
		return &Error{Code: irc.ERR_NEEDMOREPARAMS, Params: []string{"USER", "Not enough parameters"}}
	}
	user, client, err := ParseClientName(r.Msg.Params[0])
	if err != nil {
		return &Error{Code: ERR_INVALIDUSERNAME, Params: []string{err.Error()}}
	}
	user = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return -1
	}, user)
	if len(user) > 16 {
		user = user[:16]
	}
	if user == "" {
		user = "user"
	}
	c.mu.Lock()
	c.user, c.realname = user, r.Msg.Params[3]
	if client != "" && c.clientName == "" {
		c.clientName = client // a name SASL gave wins
	}
	c.mu.Unlock()
	c.tryRegister()
	return nil
}

// login logs the client in to an account of the multi-user server's
// Accounts (bounded by the registration timeout); from then on the
// account's backend serves it.
func (c *conn) login(cred Credentials) error {
	cred.Addr = c.nc.RemoteAddr()
	cred.Notice = func(text string) {
		c.Send(&irc.Message{Prefix: c.serverPrefix(), Command: "NOTICE", Params: []string{c.Nick(), text}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.RegistrationTimeout)
	defer cancel()
	go func() {
		select {
		case <-c.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	b, account, err := c.s.accounts.Login(ctx, cred)
	if err != nil {
		c.log.Info("login failed", "err", err)
		return err
	}
	c.mu.Lock()
	c.backend, c.account = b, account
	c.mu.Unlock()
	c.loggedIn()
	return nil
}

// checkPassword compares p with the configured password in constant time
// (hashing first so that the length does not leak either).
func (s *Server) checkPassword(p string) bool {
	a := sha256.Sum256([]byte(p))
	b := sha256.Sum256([]byte(s.cfg.Password))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// tryRegister completes registration once NICK, USER and CAP END (if CAP
// negotiation started) are in, then sends the welcome burst and attaches
// the client to the backend.
func (c *conn) tryRegister() {
	c.mu.Lock()
	ready := !c.registered && c.nick != "" && c.user != ""
	authed := c.account != ""
	c.mu.Unlock()
	if !ready || c.capNegotiating {
		return
	}
	if c.s.cfg.Password != "" && !authed && !(c.passGiven && c.s.checkPassword(c.pass)) {
		c.log.Info("registration refused: bad or missing password")
		c.numeric(irc.ERR_PASSWDMISMATCH, "Password incorrect")
		c.Close("Bad password")
		return
	}
	if c.s.accounts != nil && !authed {
		if !c.passGiven {
			c.log.Info("registration refused: no login")
			c.numeric(irc.ERR_PASSWDMISMATCH, "Password required: log in with SASL PLAIN or PASS jid:password")
			c.Close("Login required")
			return
		}
		if err := c.login(Credentials{Password: c.pass}); err != nil {
			c.numeric(irc.ERR_PASSWDMISMATCH, "Login failed: "+err.Error())
			c.Close("Login failed: " + err.Error())
			return
		}
	}
	nick := c.Nick()
	if err := c.currentBackend().CheckNick(nick); err != nil {
		// The nick is dropped before the refusal, which then addresses
		// the client as "*", as every reply before registration does.
		c.setNick("")
		if e, ok := err.(*Error); ok {
			c.numeric(e.Code, e.Params...)
		} else {
			c.numeric(irc.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
		}
		return
	}
	c.pass = ""
	c.mu.Lock()
	c.registered = true
	c.mu.Unlock()
	c.log.Info("client registered", "nick", c.Nick())
	c.welcome()
	session := c.currentBackend().Attach(c)
	c.mu.Lock()
	c.session = session
	c.mu.Unlock()
}

func (c *conn) welcome() {
	cfg := &c.s.cfg
	nick := c.Nick()
	c.numeric(irc.RPL_WELCOME, "Welcome to the "+cfg.Network+" IRC Network "+nick+"!"+c.User()+"@"+c.host)
	c.numeric(irc.RPL_YOURHOST, "Your host is "+cfg.ServerName+", running version "+cfg.Version)
	c.numeric(irc.RPL_CREATED, "This server was created "+c.s.created.UTC().Format(time.RFC1123))
	c.numeric(irc.RPL_MYINFO, cfg.ServerName, cfg.Version, "i", "abhiklmnoqstv", "abhkloqv")
	c.sendISupport()
	r := &Request{Msg: &irc.Message{Command: "LUSERS"}, Client: c}
	handleLusers(c, r)
	if err := handleMotd(c, r); err != nil {
		e := err.(*Error)
		r.Numeric(e.Code, e.Params...)
	}
	for _, m := range r.replies {
		c.sendReply(m)
	}
}

func (c *conn) sendISupport() {
	for _, toks := range c.s.isupportLines() {
		c.numeric(irc.RPL_ISUPPORT, append(toks, "are supported by this server")...)
	}
}

// MOTD [<target>]
func handleMotd(c *conn, r *Request) error {
	cfg := &c.s.cfg
	if len(cfg.MOTD) == 0 {
		return &Error{Code: irc.ERR_NOMOTD, Params: []string{"MOTD File is missing"}}
	}
	r.Numeric(irc.RPL_MOTDSTART, "- "+cfg.ServerName+" Message of the day - ")
	for _, l := range cfg.MOTD {
		r.Numeric(irc.RPL_MOTD, "- "+l)
	}
	r.Numeric(irc.RPL_ENDOFMOTD, "End of /MOTD command.")
	return nil
}

// LUSERS
func handleLusers(c *conn, r *Request) error {
	cur, most := c.s.userCounts(c.currentBackend())
	n, m := strconv.Itoa(cur), strconv.Itoa(most)
	r.Numeric(irc.RPL_LUSERCLIENT, "There are "+n+" users and 0 invisible on 1 servers")
	r.Numeric(irc.RPL_LUSERME, "I have "+n+" clients and 0 servers")
	r.Numeric(RPL_LOCALUSERS, n, m, "Current local users "+n+", max "+m)
	r.Numeric(RPL_GLOBALUSERS, n, m, "Current global users "+n+", max "+m)
	return nil
}

// VERSION [<target>]
func handleVersion(c *conn, r *Request) error {
	r.Numeric(irc.RPL_VERSION, c.s.cfg.Version, c.s.cfg.ServerName, "IRC gateway")
	for _, toks := range c.s.isupportLines() {
		r.Numeric(irc.RPL_ISUPPORT, append(toks, "are supported by this server")...)
	}
	return nil
}

// TIME [<server>]
func handleTime(c *conn, r *Request) error {
	// The RFC 1459 form; clients print every parameter, so no extra ones.
	r.Numeric(irc.RPL_TIME, c.s.cfg.ServerName, time.Now().Format(time.RFC1123Z))
	return nil
}

// PING <token>
func handlePing(c *conn, r *Request) error {
	r.Reply(&irc.Message{Prefix: c.serverPrefix(), Command: "PONG", Params: []string{c.s.cfg.ServerName, r.Msg.Params[0]}})
	return nil
}

// PONG [<server>] <token>: any line counts as activity, nothing else to do.
func handlePong(c *conn, r *Request) error { return nil }

// QUIT [<reason>]
func handleQuit(c *conn, r *Request) error {
	reason := "Quit"
	if len(r.Msg.Params) > 0 && r.Msg.Params[0] != "" {
		reason = "Quit: " + r.Msg.Params[0]
	}
	c.Close(reason)
	return nil
}

// MODE <target> [<modestring> [<args>...]]: channel modes go to the backend;
// the client's own user modes are kept here (only +i is known, and it has no
// effect beyond being reported).
func handleMode(c *conn, r *Request) error {
	target := r.Msg.Params[0]
	if isChannel(target) {
		return toBackend(c, r)
	}
	nick := c.Nick()
	if Casefold(target) != Casefold(nick) {
		return &Error{Code: irc.ERR_USERSDONTMATCH, Params: []string{"Can't change mode for other users"}}
	}
	if len(r.Msg.Params) == 1 {
		r.Numeric(irc.RPL_UMODEIS, c.umodes())
		return nil
	}
	before := c.umodeI
	add := true
	unknown := false
	for _, ch := range r.Msg.Params[1] {
		switch ch {
		case '+':
			add = true
		case '-':
			add = false
		case 'i':
			c.umodeI = add
		default:
			unknown = true
		}
	}
	if unknown {
		r.Numeric(irc.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")
	}
	if c.umodeI != before {
		change := "-i"
		if c.umodeI {
			change = "+i"
		}
		r.Reply(&irc.Message{Prefix: c.prefix(), Command: "MODE", Params: []string{nick, change}})
	}
	return nil
}

func (c *conn) umodes() string {
	if c.umodeI {
		return "+i"
	}
	return "+"
}

// SETNAME <realname>: ircd checks the name; the backend, which owns the
// identity all of the user's clients share, applies and confirms it.
func handleSetname(c *conn, r *Request) error {
	name := r.Msg.Params[0]
	if strings.TrimSpace(name) == "" || len(name) > NameLen {
		r.Fail("INVALID_REALNAME", nil, "Realname is not valid")
		return nil
	}
	c.mu.Lock()
	c.realname = name
	c.mu.Unlock()
	return toBackend(c, r)
}

// saslState is an AUTHENTICATE exchange in progress.
type saslState struct {
	active   bool
	buf      strings.Builder
	failures int
}

// maxSASLFailures closes the connection after this many failed attempts.
const maxSASLFailures = 3

// AUTHENTICATE <mechanism> | <base64 chunk> | + | *
func handleAuthenticate(c *conn, r *Request) error {
	p := r.Msg.Params[0]
	if !c.HasCap("sasl") {
		return &Error{Code: ERR_SASLFAIL, Params: []string{"SASL authentication failed: sasl capability not enabled"}}
	}
	if c.isRegistered() || c.Account() != "" {
		return &Error{Code: ERR_SASLALREADY, Params: []string{"You have already authenticated using SASL"}}
	}
	if p == "*" {
		c.sasl.active = false
		c.sasl.buf.Reset()
		return &Error{Code: ERR_SASLABORTED, Params: []string{"SASL authentication aborted"}}
	}
	if !c.sasl.active {
		if strings.ToUpper(p) != "PLAIN" {
			r.Numeric(RPL_SASLMECHS, "PLAIN", "are available SASL mechanisms")
			return &Error{Code: ERR_SASLFAIL, Params: []string{"SASL authentication failed: unsupported mechanism"}}
		}
		c.sasl.active = true
		c.sasl.buf.Reset()
		r.Reply(&irc.Message{Command: "AUTHENTICATE", Params: []string{"+"}})
		return nil
	}
	if len(p) > 400 || c.sasl.buf.Len()+len(p) > 1200 {
		c.sasl.active = false
		c.sasl.buf.Reset()
		return &Error{Code: ERR_SASLTOOLONG, Params: []string{"SASL message too long"}}
	}
	if p != "+" {
		c.sasl.buf.WriteString(p)
	}
	if len(p) == 400 {
		return nil // more chunks follow
	}
	c.sasl.active = false
	payload, err := base64.StdEncoding.DecodeString(c.sasl.buf.String())
	c.sasl.buf.Reset()
	var account, client, pw string
	ok := false
	if err == nil {
		if f := strings.Split(string(payload), "\x00"); len(f) == 3 {
			var authz string
			authz, account, pw = f[0], f[1], f[2]
			client, ok = saslClientName(authz, account)
			ok = ok && account != "" && (c.s.accounts != nil || c.s.checkPassword(pw))
		}
	}
	if ok && c.s.accounts != nil {
		if err := c.login(Credentials{Account: account, Password: pw}); err != nil {
			c.numeric(ERR_SASLFAIL, "SASL authentication failed: "+err.Error())
			c.Close("Login failed: " + err.Error())
			return nil
		}
		account = c.Account()
	}
	if !ok {
		c.sasl.failures++
		c.log.Info("SASL authentication failed")
		if c.sasl.failures >= maxSASLFailures {
			r.Numeric(ERR_SASLFAIL, "SASL authentication failed")
			c.Close("Too many failed authentication attempts")
			return nil
		}
		return &Error{Code: ERR_SASLFAIL, Params: []string{"SASL authentication failed"}}
	}
	c.mu.Lock()
	c.account = account
	if client != "" {
		c.clientName = client
	}
	c.mu.Unlock()
	nick := c.Nick()
	r.Numeric(RPL_LOGGEDIN, nick+"!"+c.User()+"@"+c.host, account, "You are now logged in as "+account)
	r.Numeric(RPL_SASLSUCCESS, "SASL authentication successful")
	return nil
}

// capLineLen bounds the capability list in one CAP reply line; longer lists
// are continued on more lines ("CAP nick LS * :...") for CAP 302 clients.
var capLineLen = 380

// CAP LS [<version>] | LIST | REQ <caps> | END
func handleCap(c *conn, r *Request) error {
	sub := strings.ToUpper(r.Msg.Params[0])
	reply := func(params ...string) {
		r.Reply(&irc.Message{Prefix: c.serverPrefix(), Command: "CAP", Params: append([]string{c.Nick()}, params...)})
	}
	multi := func(verb string, toks []string) {
		lines := joinLimited(toks, capLineLen)
		for i, l := range lines {
			if i < len(lines)-1 && c.capVersion >= 302 {
				reply(verb, "*", l)
			} else {
				reply(verb, l)
			}
		}
	}
	switch sub {
	case "LS":
		if !c.isRegistered() {
			c.capNegotiating = true
		}
		if len(r.Msg.Params) > 1 {
			if v, err := strconv.Atoi(r.Msg.Params[1]); err == nil && v > c.capVersion {
				c.mu.Lock()
				c.capVersion = v
				c.mu.Unlock()
			}
		}
		if c.capVersion >= 302 {
			c.setCap("cap-notify", true)
		}
		multi("LS", c.s.capList(c.currentBackend(), c.capVersion >= 302))
	case "LIST":
		c.mu.Lock()
		var toks []string
		for _, cp := range c.s.caps {
			if c.caps&c.s.capBit(cp.name) != 0 {
				toks = append(toks, cp.name)
			}
		}
		c.mu.Unlock()
		multi("LIST", toks)
	case "REQ":
		if !c.isRegistered() {
			c.capNegotiating = true
		}
		arg := ""
		if len(r.Msg.Params) > 1 {
			arg = r.Msg.Params[1]
		}
		type change struct {
			name string
			on   bool
		}
		var changes []change
		ok := true
		for _, tok := range strings.Fields(arg) {
			on := !strings.HasPrefix(tok, "-")
			name := strings.TrimPrefix(tok, "-")
			// cap-notify stays on for CAP 302 clients (as the spec requires).
			if _, known := c.s.findCap(c.currentBackend(), name); !known || !on && name == "cap-notify" && c.capVersion >= 302 {
				ok = false
				break
			}
			changes = append(changes, change{name, on})
		}
		if !ok || len(changes) == 0 {
			reply("NAK", arg)
			return nil
		}
		for _, ch := range changes {
			c.setCap(ch.name, ch.on)
		}
		reply("ACK", arg)
	case "END":
		if !c.isRegistered() {
			if c.sasl.active {
				c.sasl.active = false
				c.sasl.buf.Reset()
				c.numeric(ERR_SASLABORTED, "SASL authentication aborted")
			}
			c.capNegotiating = false
			c.tryRegister()
		}
	default:
		return &Error{Code: ERR_INVALIDCAPCMD, Params: []string{r.Msg.Params[0], "Invalid CAP command"}}
	}
	return nil
}

func (c *conn) setCap(name string, on bool) {
	bit := c.s.capBit(name)
	c.mu.Lock()
	defer c.mu.Unlock()
	if on {
		c.caps |= bit
	} else {
		c.caps &^= bit
	}
}
