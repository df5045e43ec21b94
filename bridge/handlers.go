package bridge

import (
	"maps"
	"strconv"
	"strings"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

type handlerFunc func(b *Bridge, s *session, r *ircd.Request) error

// ircCommand is one IRC command the bridge handles: ircd answers 461 when
// it has fewer than minParams parameters.
type ircCommand struct {
	handle    handlerFunc
	minParams int
}

// commandHandlers are the IRC commands the bridge handles; Features
// declares them to ircd.
var commandHandlers map[string]ircCommand

func init() {
	commandHandlers = map[string]ircCommand{
		"PRIVMSG":  {(*Bridge).handlePrivmsg, 0},
		"NOTICE":   {(*Bridge).handlePrivmsg, 0},
		"TAGMSG":   {(*Bridge).handleTagmsg, 1},
		"JOIN":     {(*Bridge).handleJoin, 1},
		"PART":     {(*Bridge).handlePart, 1},
		"NAMES":    {(*Bridge).handleNames, 0},
		"WHO":      {(*Bridge).handleWho, 1},
		"WHOIS":    {(*Bridge).handleWhois, 0},
		"WHOWAS":   {(*Bridge).handleWhowas, 1},
		"ISON":     {(*Bridge).handleIson, 1},
		"USERHOST": {(*Bridge).handleUserhost, 1},
		"TOPIC":    {(*Bridge).handleTopic, 1},
		"MODE":     {(*Bridge).handleMode, 1},
		"LIST":     {(*Bridge).handleList, 0},
		"AWAY":     {(*Bridge).handleAway, 0},
		"NICK":     {(*Bridge).handleNick, 1},
		"INVITE":   {(*Bridge).handleInvite, 2},
		"KICK":     {(*Bridge).handleKick, 2},
		"SETNAME":  {(*Bridge).handleSetname, 1},
		"MONITOR":  {(*Bridge).handleMonitor, 1},
	}
}

func (b *Bridge) isControl(name string) bool {
	return ircd.Casefold(name) == ircd.Casefold(b.cfg.ControlChannel)
}

func (b *Bridge) topic() string {
	jid := b.ownJID
	if jid == "" {
		jid = b.x.JID()
	}
	return "XMPP contacts of " + jid + " — type \"help\" here for commands"
}

func errNoSuchNick(nick string) error {
	return &ircd.Error{Code: irc.ERR_NOSUCHNICK, Params: []string{nick, "No such nick/channel"}}
}

func errNoSuchChannel(ch string) error {
	return &ircd.Error{Code: irc.ERR_NOSUCHCHANNEL, Params: []string{ch, "No such channel"}}
}

// numericErr adds err to r's replies when it is an *ircd.Error, for
// commands with several targets where one failing must not stop the rest.
func numericErr(r *ircd.Request, err error) {
	if e, ok := err.(*ircd.Error); ok {
		r.Numeric(e.Code, e.Params...)
	}
}

// joinControl sends s the control channel's JOIN, topic and names (no
// names for a client with no-implicit-names). r is the request to reply
// through, nil at attach.
func (b *Bridge) joinControl(s *session, r *ircd.Request) {
	s.inControl = true
	send := s.d.Send
	if r != nil {
		send = r.Reply
	}
	send(b.joinMessage(s.d, userPrefix(s.d), "", b.userRealname(s)))
	for _, m := range b.topicReplies(s.d) {
		send(m)
	}
	if s.d.HasCap("no-implicit-names") {
		return
	}
	for _, m := range b.namesReplies(s.d) {
		send(m)
	}
}

func (b *Bridge) topicReplies(d ircd.Downstream) []*irc.Message {
	ch := b.cfg.ControlChannel
	return []*irc.Message{
		{Prefix: b.serverPrefix(), Command: irc.RPL_TOPIC, Params: []string{d.Nick(), ch, b.topic()}},
		{Prefix: b.serverPrefix(), Command: ircd.RPL_TOPICWHOTIME, Params: []string{d.Nick(), ch, b.servicePrefix().String(), strconv.FormatInt(b.start.Unix(), 10)}},
	}
}

// namesReplies are 353/366 for the control channel: the user and the
// service nick as operators, contacts voiced when available.
func (b *Bridge) namesReplies(d ircd.Downstream) []*irc.Message {
	ch := b.cfg.ControlChannel
	uh := d.HasCap("userhost-in-names")
	name := func(prefix string, p *irc.Prefix) string {
		if uh {
			return prefix + p.String()
		}
		return prefix + p.Name
	}
	names := []string{name("@", userPrefix(d)), name("@", b.servicePrefix())}
	for _, c := range b.sortedContacts() {
		if !c.view.shown {
			continue
		}
		pfx := ""
		if c.view.voiced {
			pfx = "+"
		}
		names = append(names, name(pfx, c.prefix()))
	}
	return ircd.NamesReplies(d, ch, names)
}

// PRIVMSG <target>{,<target>} <text>   (NOTICE alike)
func (b *Bridge) handlePrivmsg(s *session, r *ircd.Request) error {
	notice := r.Msg.Command == "NOTICE"
	switch {
	case len(r.Msg.Params) == 0:
		return &ircd.Error{Code: irc.ERR_NORECIPIENT, Params: []string{"No recipient given (" + r.Msg.Command + ")"}}
	case len(r.Msg.Params) == 1 || r.Msg.Params[1] == "":
		return &ircd.Error{Code: irc.ERR_NOTEXTTOSEND, Params: []string{"No text to send"}}
	}
	text := r.Msg.Params[1]
	for _, target := range strings.Split(r.Msg.Params[0], ",") {
		if target == "" {
			continue
		}
		if err := b.privmsgTarget(s, r, target, text, notice); err != nil {
			if notice {
				continue // NOTICE never gets automatic replies
			}
			numericErr(r, err)
		}
	}
	return nil
}

// echo shows the user's own message to the other attached clients, and to
// the sender when it asked for echo-message, as msgid: for what goes to
// XMPP its id (b.x.NewID), so that its copies on XMPP map back to it.
// params are the message's parameters: the target, then the text (none
// for TAGMSG).
func (b *Bridge) echo(s *session, r *ircd.Request, msgid string, params ...string) {
	m := &irc.Message{Tags: irc.Tags{"msgid": msgid, "time": serverTime(b.now())}, Prefix: userPrefix(s.d), Command: r.Msg.Command, Params: params}
	if s.d.HasCap("echo-message") {
		mm := m.Copy()
		maps.Copy(mm.Tags, clientTags(r.Msg.Tags))
		r.Reply(mm)
	}
	for _, o := range b.sessions {
		if o != s && (!b.isControl(params[0]) || o.inControl) {
			o.send(m)
		}
	}
}

// clientTags returns the client-only tags ("+name") of a message: those
// travel with it to its recipients.
func clientTags(tags irc.Tags) irc.Tags {
	out := irc.Tags{}
	for k, v := range tags {
		if strings.HasPrefix(k, "+") {
			out[k] = v
		}
	}
	return out
}

// messageToSelf delivers a PRIVMSG, NOTICE or TAGMSG that the user sent to
// their own nick, as every IRC server does. The delivery is a message the
// client receives, not a reply to its command, so it stays outside the
// command's labeled-response batch; the echo-message copy is the reply.
func (b *Bridge) messageToSelf(s *session, r *ircd.Request, params ...string) {
	msgid := b.newMsgID()
	b.echo(s, r, msgid, params...)
	m := &irc.Message{Tags: clientTags(r.Msg.Tags), Prefix: userPrefix(s.d), Command: r.Msg.Command, Params: params}
	m.Tags["msgid"], m.Tags["time"] = msgid, serverTime(b.now())
	s.d.Send(m)
}

func (b *Bridge) privmsgTarget(s *session, r *ircd.Request, target, text string, notice bool) error {
	switch {
	case b.isControl(target):
		// "nick: text" in the channel talks to that contact.
		c, rest := b.addressedContact(text)
		msgid := b.newMsgID()
		if c != nil {
			msgid = b.x.NewID()
		}
		b.echo(s, r, msgid, target, text)
		if notice {
			return nil
		}
		if _, isCTCP := parseCTCP(text); isCTCP {
			return nil
		}
		if c != nil {
			if body, ok := ircToBody(rest); ok && strings.TrimSpace(body) != "" {
				b.sendChat(c, body, msgid)
			}
			return nil
		}
		b.runCommand(s, r, target, text)
		return nil
	case b.nicks.isUser(target):
		b.messageToSelf(s, r, s.d.Nick(), text)
		return nil
	case b.nicks.isService(target):
		b.echo(s, r, b.newMsgID(), b.cfg.ServiceNick, text)
		if notice {
			return nil
		}
		if q, isCTCP := parseCTCP(text); isCTCP {
			if q.Command != "ACTION" {
				b.answerCTCP(r, b.servicePrefix(), q, "")
			}
			return nil
		}
		b.runCommand(s, r, "", text)
		return nil
	case b.isRoomChannel(target):
		return b.roomPrivmsg(s, r, target, text)
	case strings.HasPrefix(target, "&") || strings.HasPrefix(target, "#"):
		return errNoSuchChannel(target)
	}
	if o, room := b.occupantByNick(target); o != nil {
		return b.occupantPrivmsg(s, r, o, room, text)
	}
	c := b.contactByNick(target)
	if c == nil && strings.Contains(target, "@") && validJID(target) {
		c = b.tempContact(target)
	}
	if c == nil {
		return errNoSuchNick(target)
	}
	body, ok := ircToBody(text)
	if !ok {
		if q, _ := parseCTCP(text); !notice {
			client := ""
			if best := c.best(); best != nil {
				client = best.client
			}
			b.answerCTCP(r, c.prefix(), q, client)
		}
		return nil
	}
	if strings.TrimSpace(body) == "" || body == "/me " {
		return nil
	}
	msgid := b.x.NewID()
	b.echo(s, r, msgid, c.nick, text)
	if !notice && c.view.away != "" && c.view.shown {
		r.Numeric(irc.RPL_AWAY, c.nick, c.view.away)
	}
	b.sendChat(c, body, msgid)
	return nil
}

// addressedContact recognises "nick: text" and "nick, text" addressed to
// a contact, returning the contact and the text.
func (b *Bridge) addressedContact(text string) (*contact, string) {
	i := strings.IndexAny(text, ":,")
	if i <= 0 || i+1 >= len(text) || text[i+1] != ' ' {
		return nil, ""
	}
	c := b.contactByNick(text[:i])
	if c == nil {
		return nil, ""
	}
	return c, strings.TrimSpace(text[i+2:])
}

// TAGMSG <target>   (only +typing is meaningful to contacts)
func (b *Bridge) handleTagmsg(s *session, r *ircd.Request) error {
	if b.nicks.isUser(r.Msg.Params[0]) {
		b.messageToSelf(s, r, s.d.Nick())
		return nil
	}
	typing, ok := r.Msg.Tags["+typing"]
	if !ok || len(r.Msg.Params) < 1 {
		return nil
	}
	c := b.contactByNick(r.Msg.Params[0])
	state := typingToChatState(typing)
	if c == nil || state == "" || !b.connected || c.chatStates < 0 {
		return nil
	}
	if _, err := b.x.SendMessage(xmpp.OutMessage{To: c.target(), Type: "chat", ChatState: state}); err != nil {
		b.log.Debug("chat state not sent", "err", err)
	}
	return nil
}

// JOIN <channel>{,<channel>} [<key>{,<key>}]   |   JOIN 0
func (b *Bridge) handleJoin(s *session, r *ircd.Request) error {
	if r.Msg.Params[0] == "0" {
		if s.inControl {
			b.partControl(s, r, "")
		}
		for _, room := range b.sortedRooms() {
			b.leaveRoom(room, "")
		}
		return nil
	}
	keys := strings.Split(r.Msg.Param(1), ",")
	for i, ch := range strings.Split(r.Msg.Params[0], ",") {
		switch {
		case ch == "":
		case b.isControl(ch):
			if !s.inControl {
				b.joinControl(s, r)
			}
		case b.isRoomChannel(ch):
			key := ""
			if i < len(keys) {
				key = keys[i]
			}
			if err := b.joinRoom(ch, key); err != nil {
				numericErr(r, err)
			} else if room := b.roomByChannel(ch); room != nil && room.joining && !room.shown {
				// Answered once the room lets us in (see heldCommand).
				room.waiters = append(room.waiters, b.hold())
			}
		default:
			numericErr(r, errNoSuchChannel(ch))
		}
	}
	return nil
}

// PART <channel>{,<channel>} [<reason>]
func (b *Bridge) handlePart(s *session, r *ircd.Request) error {
	reason := r.Msg.Param(1)
	for _, ch := range strings.Split(r.Msg.Params[0], ",") {
		switch {
		case ch == "":
		case b.isControl(ch) && s.inControl:
			b.partControl(s, r, reason)
		case b.isControl(ch):
			numericErr(r, &ircd.Error{Code: irc.ERR_NOTONCHANNEL, Params: []string{ch, "You're not on that channel"}})
		case b.isRoomChannel(ch):
			numericErr(r, b.partRoom(ch, reason))
		default:
			numericErr(r, errNoSuchChannel(ch))
		}
	}
	return nil
}

func (b *Bridge) partControl(s *session, r *ircd.Request, reason string) {
	s.inControl = false
	params := []string{b.cfg.ControlChannel}
	if reason != "" {
		params = append(params, reason)
	}
	r.Reply(&irc.Message{Prefix: userPrefix(s.d), Command: "PART", Params: params})
}

// NAMES [<channel>{,<channel>}]
func (b *Bridge) handleNames(s *session, r *ircd.Request) error {
	if len(r.Msg.Params) == 0 || r.Msg.Params[0] == "" {
		if s.inControl {
			for _, m := range b.namesReplies(s.d) {
				r.Reply(m)
			}
		} else {
			r.Numeric(irc.RPL_ENDOFNAMES, "*", "End of /NAMES list")
		}
		return nil
	}
	for _, ch := range strings.Split(r.Msg.Params[0], ",") {
		if b.isControl(ch) {
			for _, m := range b.namesReplies(s.d) {
				r.Reply(m)
			}
			continue
		}
		if room := b.roomByChannel(ch); room != nil && room.shown {
			for _, m := range b.roomNamesReplies(s.d, room) {
				r.Reply(m)
			}
			continue
		}
		r.Numeric(irc.RPL_ENDOFNAMES, ch, "End of /NAMES list")
	}
	return nil
}

// whoEntry is one user as WHO and USERHOST see it.
type whoEntry struct {
	prefix   *irc.Prefix
	away     bool
	chanPfx  string // "@", "+" or ""
	realname string
	inChan   bool
}

// everyone lists the users the gateway knows: the user, the service nick,
// contacts in the channel, then other known contacts.
func (b *Bridge) everyone(s *session) []whoEntry {
	out := []whoEntry{
		{prefix: userPrefix(s.d), away: b.away != "", chanPfx: "@", realname: b.userRealname(s), inChan: s.inControl},
		{prefix: b.servicePrefix(), chanPfx: "@", realname: "xircd gateway service", inChan: true},
	}
	for _, c := range b.sortedContacts() {
		e := whoEntry{prefix: c.prefix(), away: c.view.away != "", realname: c.realname(), inChan: c.view.shown}
		if c.view.voiced {
			e.chanPfx = "+"
		}
		out = append(out, e)
	}
	return out
}

// WHO <mask>
func (b *Bridge) handleWho(s *session, r *ircd.Request) error {
	mask := r.Msg.Param(0)
	if mask == "" || mask == "0" {
		mask = "*"
	}
	if b.isRoomChannel(mask) {
		b.whoRoom(s, r, mask)
		return nil
	}
	whole := b.isControl(mask)
	ch := b.cfg.ControlChannel
	for _, e := range b.everyone(s) {
		if whole && !e.inChan {
			continue
		}
		if !whole && !matchMask(mask, e.prefix.Name) {
			continue
		}
		flags := "H"
		if e.away {
			flags = "G"
		}
		where := "*"
		if e.inChan {
			where = ch
			if s.d.HasCap("multi-prefix") || e.chanPfx != "" {
				flags += e.chanPfx
			}
		}
		r.Numeric(irc.RPL_WHOREPLY, where, e.prefix.User, e.prefix.Host, b.cfg.ServerName, e.prefix.Name, flags, "0 "+e.realname)
	}
	r.Numeric(irc.RPL_ENDOFWHO, mask, "End of /WHO list")
	return nil
}

// WHOIS [<server>] <nick>{,<nick>}
func (b *Bridge) handleWhois(s *session, r *ircd.Request) error {
	if len(r.Msg.Params) == 0 {
		return &ircd.Error{Code: irc.ERR_NONICKNAMEGIVEN, Params: []string{"No nickname given"}}
	}
	nicks := r.Msg.Params[len(r.Msg.Params)-1]
	for _, nick := range strings.Split(nicks, ",") {
		if nick == "" {
			continue
		}
		b.whois(s, r, nick)
		r.Numeric(irc.RPL_ENDOFWHOIS, nick, "End of /WHOIS list")
	}
	return nil
}

func (b *Bridge) whois(s *session, r *ircd.Request, nick string) {
	ch := b.cfg.ControlChannel
	switch {
	case b.nicks.isUser(nick):
		p := userPrefix(s.d)
		r.Numeric(irc.RPL_WHOISUSER, p.Name, p.User, p.Host, "*", b.userRealname(s))
		if s.inControl {
			r.Numeric(irc.RPL_WHOISCHANNELS, p.Name, "@"+ch)
		}
		r.Numeric(irc.RPL_WHOISSERVER, p.Name, b.cfg.ServerName, "xircd XMPP gateway")
		if b.away != "" {
			r.Numeric(irc.RPL_AWAY, p.Name, b.away)
		}
		r.Numeric(ircd.RPL_WHOISSPECIAL, p.Name, "JID: "+b.x.JID())
		return
	case b.nicks.isService(nick):
		p := b.servicePrefix()
		r.Numeric(irc.RPL_WHOISUSER, p.Name, p.User, p.Host, "*", "xircd gateway service")
		r.Numeric(irc.RPL_WHOISCHANNELS, p.Name, "@"+ch)
		r.Numeric(irc.RPL_WHOISSERVER, p.Name, b.cfg.ServerName, "xircd XMPP gateway")
		return
	}
	c := b.contactByNick(nick)
	if c == nil {
		if !b.whoisOccupant(r, nick) {
			numericErr(r, errNoSuchNick(nick))
		}
		return
	}
	p := c.prefix()
	r.Numeric(irc.RPL_WHOISUSER, p.Name, p.User, p.Host, "*", c.realname())
	if c.view.shown {
		pfx := ""
		if c.view.voiced {
			pfx = "+"
		}
		r.Numeric(irc.RPL_WHOISCHANNELS, p.Name, pfx+ch)
	}
	r.Numeric(irc.RPL_WHOISSERVER, p.Name, b.cfg.ServerName, "XMPP contact")
	r.Numeric(ircd.RPL_WHOISACCOUNT, p.Name, c.account(), "is logged in as")
	if c.view.away != "" {
		r.Numeric(irc.RPL_AWAY, p.Name, c.view.away)
	}
	for _, line := range b.contactInfo(c) {
		r.Numeric(ircd.RPL_WHOISSPECIAL, p.Name, line)
	}
}

// WHOWAS <nick>{,<nick>} [<count> [<server>]]: the gateway keeps no nick
// history, but a roster contact who is offline is someone who was here.
func (b *Bridge) handleWhowas(s *session, r *ircd.Request) error {
	for _, nick := range strings.Split(r.Msg.Params[0], ",") {
		if nick == "" {
			continue
		}
		if c := b.contactByNick(nick); c != nil && c.inRoster && len(c.resources) == 0 {
			p := c.prefix()
			r.Numeric(irc.RPL_WHOWASUSER, p.Name, p.User, p.Host, "*", cleanText(c.realname()))
			r.Numeric(irc.RPL_WHOISSERVER, p.Name, b.cfg.ServerName, "XMPP contact, offline")
		} else {
			r.Numeric(irc.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
		}
		r.Numeric(irc.RPL_ENDOFWHOWAS, nick, "End of WHOWAS")
	}
	return nil
}

// contactInfo describes c for WHOIS and the info command.
func (b *Bridge) contactInfo(c *contact) []string {
	lines := []string{"JID: " + c.jid}
	if !c.inRoster {
		lines = append(lines, "not in your roster (use \"add "+c.jid+"\" to add)")
	} else {
		name := c.name
		if name == "" {
			name = "(none)"
		}
		lines = append(lines, "roster name: "+cleanText(name))
		if len(c.groups) > 0 {
			lines = append(lines, "groups: "+cleanText(strings.Join(c.groups, ", ")))
		}
		sub := c.sub
		if sub == "" {
			sub = "none"
		}
		if c.ask == "subscribe" {
			sub += " (subscription request pending)"
		}
		lines = append(lines, "subscription: "+sub)
	}
	rs := c.sortedResources()
	if len(rs) == 0 {
		lines = append(lines, "offline")
	}
	for _, res := range rs {
		line := "resource " + cleanText(res.name) + ": " + showName(res.show)
		if res.status != "" {
			line += " (" + cleanText(res.status) + ")"
		}
		line += ", priority " + strconv.Itoa(res.priority)
		if res.client != "" {
			line += ", client " + cleanText(res.client)
		}
		lines = append(lines, line)
	}
	return lines
}

// ISON <nick>{ <nick>}
func (b *Bridge) handleIson(s *session, r *ircd.Request) error {
	var on []string
	for _, p := range r.Msg.Params {
		for _, nick := range strings.Fields(p) {
			switch {
			case b.nicks.isUser(nick):
				on = append(on, b.nicks.userNick())
			case b.nicks.isService(nick):
				on = append(on, b.cfg.ServiceNick)
			default:
				if c := b.contactByNick(nick); c != nil && (len(c.resources) > 0 || c.view.shown) {
					on = append(on, c.nick)
				}
			}
		}
	}
	r.Numeric(irc.RPL_ISON, strings.Join(on, " "))
	return nil
}

// USERHOST <nick>{ <nick>}   (at most 5)
func (b *Bridge) handleUserhost(s *session, r *ircd.Request) error {
	var out []string
	n := 0
	for _, p := range r.Msg.Params {
		for _, nick := range strings.Fields(p) {
			if n++; n > 5 {
				break
			}
			for _, e := range b.everyone(s) {
				if ircd.Casefold(e.prefix.Name) == ircd.Casefold(nick) {
					sign := "+"
					if e.away {
						sign = "-"
					}
					out = append(out, e.prefix.Name+"="+sign+e.prefix.User+"@"+e.prefix.Host)
					break
				}
			}
		}
	}
	r.Numeric(irc.RPL_USERHOST, strings.Join(out, " "))
	return nil
}

// TOPIC <channel> [<topic>]
func (b *Bridge) handleTopic(s *session, r *ircd.Request) error {
	ch := r.Msg.Params[0]
	switch {
	case b.isControl(ch):
		if len(r.Msg.Params) > 1 {
			return &ircd.Error{Code: irc.ERR_CHANOPRIVSNEEDED, Params: []string{ch, "The control channel's topic is fixed"}}
		}
		for _, m := range b.topicReplies(s.d) {
			r.Reply(m)
		}
		return nil
	case b.isRoomChannel(ch):
		return b.roomTopic(s, r, ch)
	}
	return errNoSuchChannel(ch)
}

// MODE <channel> [<modes> [<args>...]]
func (b *Bridge) handleMode(s *session, r *ircd.Request) error {
	target := r.Msg.Params[0]
	switch {
	case b.isControl(target):
		if len(r.Msg.Params) == 1 {
			r.Numeric(irc.RPL_CHANNELMODEIS, target, "+nt")
			r.Numeric(ircd.RPL_CREATIONTIME, target, strconv.FormatInt(b.start.Unix(), 10))
			return nil
		}
		modes := strings.TrimLeft(r.Msg.Params[1], "+")
		switch modes {
		case "b":
			r.Numeric(irc.RPL_ENDOFBANLIST, target, "End of channel ban list")
			return nil
		case "e":
			r.Numeric(irc.RPL_ENDOFEXCEPTLIST, target, "End of channel exception list")
			return nil
		case "I":
			r.Numeric(irc.RPL_ENDOFINVITELIST, target, "End of channel invite list")
			return nil
		}
		return &ircd.Error{Code: irc.ERR_CHANOPRIVSNEEDED, Params: []string{target, "The control channel's modes follow XMPP presence and cannot be changed"}}
	case b.isRoomChannel(target):
		return b.roomMode(s, r, target)
	}
	// ircd answers the user's own modes; only channels come here.
	return errNoSuchChannel(target)
}

// LIST [<channel>{,<channel>}]
func (b *Bridge) handleList(s *session, r *ircd.Request) error {
	r.Numeric(irc.RPL_LISTSTART, "Channel", "Users  Name")
	want := func(string) bool { return true }
	if p := r.Msg.Param(0); p != "" && !strings.HasPrefix(p, ">") && !strings.HasPrefix(p, "<") {
		want = func(name string) bool {
			for _, ch := range strings.Split(p, ",") {
				if ircd.Casefold(ch) == ircd.Casefold(name) || matchMask(ch, name) {
					return true
				}
			}
			return false
		}
	}
	if want(b.cfg.ControlChannel) {
		n := 2
		for _, c := range b.contacts {
			if c.view.shown {
				n++
			}
		}
		r.Numeric(irc.RPL_LIST, b.cfg.ControlChannel, strconv.Itoa(n), b.topic())
	}
	b.roomList(r, want)
	// The conference service's public rooms follow, with the end of the
	// list, once the service answers.
	if !b.listPublicRooms(s, want) {
		r.Numeric(irc.RPL_LISTEND, "End of /LIST")
	}
	return nil
}

// AWAY [<text>]
func (b *Bridge) handleAway(s *session, r *ircd.Request) error {
	text := strings.TrimSpace(cleanText(r.Msg.Param(0)))
	b.away = text
	show, status := awayToPresence(text)
	if err := b.x.SetPresence(show, status); err != nil {
		b.log.Info("presence not sent now; the session sends it on reconnect", "err", err)
	}
	code, msg := irc.RPL_UNAWAY, "You are no longer marked as being away"
	if text != "" {
		code, msg = irc.RPL_NOWAWAY, "You have been marked as being away"
	}
	r.Numeric(code, msg)
	for _, o := range b.sessions {
		if o != s {
			o.send(&irc.Message{Prefix: b.serverPrefix(), Command: code, Params: []string{o.d.Nick(), msg}})
		}
	}
	return nil
}

// NICK <nick>: the nick is shared by every attached client. A contact or
// occupant holding it is renamed first, while the clients still have the
// old nick, so that its NICK cannot read as theirs. ircd has checked the
// nick (valid, not the service's, not the current one).
func (b *Bridge) handleNick(s *session, r *ircd.Request) error {
	nick := r.Msg.Params[0]
	old := b.nicks.userNick()
	movedAside := b.takeUserNick(nick)
	b.roomsNickChanged(old, nick)
	for _, o := range b.sessions {
		m := &irc.Message{Prefix: &irc.Prefix{Name: old, User: o.d.User(), Host: o.d.Host()}, Command: "NICK", Params: []string{nick}}
		if o == s {
			r.Reply(m)
		} else {
			o.send(m)
		}
	}
	for _, text := range movedAside {
		b.announce(text, false)
	}
	return nil
}

// SETNAME <realname>: the user's real name, shared by all attached
// clients (ircd has checked it). Clients with setname are told.
func (b *Bridge) handleSetname(s *session, r *ircd.Request) error {
	b.realname = r.Msg.Params[0]
	for _, o := range b.sessions {
		if o.d.HasCap("setname") {
			o.send(&irc.Message{Prefix: userPrefix(o.d), Command: "SETNAME", Params: []string{b.realname}})
		}
	}
	return nil
}

// userRealname is the user's real name as s shows it: the one set with
// SETNAME (shared by all clients), else the one s gave in USER. The JID is
// in WHOIS.
func (b *Bridge) userRealname(s *session) string {
	if b.realname != "" {
		return b.realname
	}
	return s.d.RealName()
}

// INVITE <nick> <channel>
func (b *Bridge) handleInvite(s *session, r *ircd.Request) error {
	ch := r.Msg.Param(1)
	switch {
	case b.isControl(ch):
		return &ircd.Error{Code: irc.ERR_CHANOPRIVSNEEDED, Params: []string{ch, "Contacts join the control channel by being in your roster: use \"add JID\""}}
	case b.isRoomChannel(ch):
		return b.roomInvite(s, r, r.Msg.Param(0), ch)
	}
	return errNoSuchChannel(ch)
}

// KICK <channel> <nick> [<reason>]
func (b *Bridge) handleKick(s *session, r *ircd.Request) error {
	ch := r.Msg.Params[0]
	switch {
	case b.isControl(ch):
		return &ircd.Error{Code: irc.ERR_CHANOPRIVSNEEDED, Params: []string{ch, "Use \"remove nick\" to remove a contact from your roster"}}
	case b.isRoomChannel(ch):
		return b.roomKick(s, r, ch, r.Msg.Param(1), r.Msg.Param(2))
	}
	return errNoSuchChannel(ch)
}
