package bridge

import (
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
		"PRIVMSG":     {(*Bridge).handlePrivmsg, 0},
		"NOTICE":      {(*Bridge).handlePrivmsg, 0},
		"TAGMSG":      {(*Bridge).handleTagmsg, 1},
		"JOIN":        {(*Bridge).handleJoin, 1},
		"PART":        {(*Bridge).handlePart, 1},
		"NAMES":       {(*Bridge).handleNames, 0},
		"WHO":         {(*Bridge).handleWho, 1},
		"WHOIS":       {(*Bridge).handleWhois, 0},
		"WHOWAS":      {(*Bridge).handleWhowas, 1},
		"ISON":        {(*Bridge).handleIson, 1},
		"USERHOST":    {(*Bridge).handleUserhost, 1},
		"TOPIC":       {(*Bridge).handleTopic, 1},
		"MODE":        {(*Bridge).handleMode, 1},
		"LIST":        {(*Bridge).handleList, 0},
		"CHATHISTORY": {(*Bridge).handleChathistory, 1},
		"AWAY":        {(*Bridge).handleAway, 0},
		"NICK":        {(*Bridge).handleNick, 1},
		"INVITE":      {(*Bridge).handleInvite, 2},
		"KICK":        {(*Bridge).handleKick, 2},
		"SETNAME":     {(*Bridge).handleSetname, 1},
		"MONITOR":     {(*Bridge).handleMonitor, 1},
		"MARKREAD":    {(*Bridge).handleMarkRead, 0},
		"REDACT":      {(*Bridge).handleRedact, 2},
	}
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
		texts := []string{text}
		if strings.Contains(text, "\n") && (b.isControl(target) || b.nicks.isService(target)) {
			texts = privmsgLines(text)
		}
		for _, text := range texts {
			if err := b.privmsgTarget(s, r, target, text, notice); err != nil && !notice { // NOTICE never gets automatic replies
				numericErr(r, err)
			}
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
	at := b.now()
	b.rememberShown(msgid, "", at)
	m := &irc.Message{Tags: clientTags(r.Msg.Tags), Prefix: userPrefix(s.d), Command: r.Msg.Command, Params: params}
	m.Tags["msgid"], m.Tags["time"] = msgid, serverTime(at)
	if s.d.HasCap("echo-message") {
		for _, l := range echoLines(m.Copy(), s.d) {
			r.Reply(l)
		}
	}
	for _, o := range b.sessions {
		if o != s && (!b.isControl(params[0]) || o.inControl) {
			for _, l := range echoLines(m, o.d) {
				o.send(l)
			}
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
	for _, l := range echoLines(m, s.d) {
		s.d.Send(l)
	}
}

// privmsgTarget sends the user's PRIVMSG or NOTICE to one target: a
// channel, the user, the service, an occupant or a contact (a JID is a
// contact too).
func (b *Bridge) privmsgTarget(s *session, r *ircd.Request, target, text string, notice bool) error {
	if ch := b.channel(target); ch != nil {
		return ch.privmsg(s, r, text, notice)
	}
	switch {
	case isChannelName(target):
		return errNoSuchChannel(target)
	case b.nicks.isUser(target):
		b.messageToSelf(s, r, s.d.Nick(), text)
		return nil
	case b.nicks.isService(target):
		return b.servicePrivmsg(s, r, text, notice)
	}
	switch h := b.nicks.holder(target).(type) {
	case *occupant:
		return b.occupantPrivmsg(s, r, h, h.room, text)
	case *contact:
		return b.contactPrivmsg(s, r, h, text, notice)
	}
	if strings.Contains(target, "@") && validBareJID(target) {
		if c := b.tempContact(target); c != nil {
			return b.contactPrivmsg(s, r, c, text, notice)
		}
	}
	return errNoSuchNick(target)
}

// servicePrivmsg: the user's text to the service is a control command.
func (b *Bridge) servicePrivmsg(s *session, r *ircd.Request, text string, notice bool) error {
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
}

// contactPrivmsg sends the user's chat message to c; the gateway answers
// CTCP queries for it.
func (b *Bridge) contactPrivmsg(s *session, r *ircd.Request, c *contact, text string, notice bool) error {
	body, ok := ircToBody(text)
	if !ok {
		if q, _ := parseCTCP(text); !notice {
			client := ""
			if best := c.best(); best != nil {
				client = best.clientNode()
			}
			b.answerCTCP(r, c.prefix(), q, client)
		}
		return nil
	}
	if strings.TrimSpace(body) == "" || body == "/me " {
		return nil
	}
	out := xmpp.OutMessage{ID: b.x.NewID(), Body: body}
	corrected, ok := b.outRefs(r, strings.ToLower(xmpp.BareJID(c.jid())), c.nick, &out, func(sender string) string {
		if sender == ownSender {
			return xmpp.BareJID(b.x.JID())
		}
		return sender
	})
	if !ok {
		return nil
	}
	if corrected {
		text = correctedMark + out.Body
	}
	if b.omemoEncrypts(c) {
		text = encryptedEcho(text)
	}
	b.echo(s, r, out.ID, c.nick, text)
	if away := c.view.awayMessage(); !notice && away != "" && c.view.shown {
		r.Numeric(irc.RPL_AWAY, c.nick, away)
	}
	b.sendChat(c, &out)
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
	if _, _, ok := reactionTags(r.Msg.Tags); ok {
		return b.reactTagmsg(s, r, r.Msg.Params[0])
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
	if _, err := b.x.SendMessage(xmpp.OutMessage{To: b.target(c), Type: "chat", ChatState: state}); err != nil {
		b.log.Debug("chat state not sent", "err", err)
	}
	return nil
}

// JOIN <channel>{,<channel>} [<key>{,<key>}]   |   JOIN 0
func (b *Bridge) handleJoin(s *session, r *ircd.Request) error {
	if r.Msg.Params[0] == "0" {
		if ctl := b.control(); ctl.sees(s) {
			numericErr(r, ctl.part(s, r, ""))
		}
		for _, room := range b.sortedRooms() {
			numericErr(r, b.channelOf(room).part(s, r, ""))
		}
		return nil
	}
	keys := strings.Split(r.Msg.Param(1), ",")
	b.forChannels(r, func(i int, ch channel) error {
		key := ""
		if i < len(keys) {
			key = keys[i]
		}
		return ch.join(s, r, key)
	})
	return nil
}

// PART <channel>{,<channel>} [<reason>]
func (b *Bridge) handlePart(s *session, r *ircd.Request) error {
	reason := r.Msg.Param(1)
	b.forChannels(r, func(_ int, ch channel) error { return ch.part(s, r, reason) })
	return nil
}

// forChannels runs f on each channel of the comma-separated list in r's
// first parameter, with its place in the list; an unknown name gets 403,
// and an error of f is added to the replies without stopping the rest.
func (b *Bridge) forChannels(r *ircd.Request, f func(i int, ch channel) error) {
	for i, name := range strings.Split(r.Msg.Params[0], ",") {
		if name == "" {
			continue
		}
		if ch := b.channel(name); ch != nil {
			numericErr(r, f(i, ch))
		} else {
			numericErr(r, errNoSuchChannel(name))
		}
	}
}

// NAMES [<channel>{,<channel>}]
func (b *Bridge) handleNames(s *session, r *ircd.Request) error {
	if len(r.Msg.Params) == 0 || r.Msg.Params[0] == "" {
		if ctl := b.control(); ctl.sees(s) {
			for _, m := range b.namesReplies(s.d, ctl) {
				r.Reply(m)
			}
		} else {
			r.Numeric(irc.RPL_ENDOFNAMES, "*", "End of /NAMES list")
		}
		return nil
	}
	for _, name := range strings.Split(r.Msg.Params[0], ",") {
		if ch := b.channel(name); ch != nil && ch.shown() {
			for _, m := range b.namesReplies(s.d, ch) {
				r.Reply(m)
			}
			continue
		}
		r.Numeric(irc.RPL_ENDOFNAMES, name, "End of /NAMES list")
	}
	return nil
}

// everyone lists the users the gateway knows: the user, the service nick,
// contacts in the channel, then other known contacts.
func (b *Bridge) everyone(s *session) []whoEntry {
	out := []whoEntry{
		{prefix: userPrefix(s.d), away: b.away != "", chanPfx: "@", realname: b.userRealname(s), inChan: s.inControl},
		{prefix: b.servicePrefix(), chanPfx: "@", realname: "xircd gateway service", inChan: true},
	}
	for _, c := range b.sortedContacts() {
		e := whoEntry{prefix: c.prefix(), away: c.view.away != 0, realname: c.realname(), inChan: c.view.shown}
		if c.view.voiced {
			e.chanPfx = "+"
		}
		out = append(out, e)
	}
	return out
}

// WHO <mask>: a channel's members, else everyone whose nick matches.
func (b *Bridge) handleWho(s *session, r *ircd.Request) error {
	mask := r.Msg.Param(0)
	if mask == "" || mask == "0" {
		mask = "*"
	}
	reply := func(where string, e whoEntry) {
		flags := "H"
		if e.away {
			flags = "G"
		}
		r.Numeric(irc.RPL_WHOREPLY, where, e.prefix.User, e.prefix.Host, b.cfg.ServerName, e.prefix.Name, flags+e.chanPfx, "0 "+e.realname)
	}
	if ch := b.channel(mask); ch != nil {
		if ch.shown() {
			for _, e := range ch.who(s) {
				reply(ch.name(), e)
			}
		}
	} else {
		for _, e := range b.everyone(s) {
			if !matchMask(mask, e.prefix.Name) {
				continue
			}
			if !e.inChan {
				e.chanPfx = ""
				reply("*", e)
				continue
			}
			reply(b.cfg.ControlChannel, e)
		}
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
	if away := c.view.awayMessage(); away != "" {
		r.Numeric(irc.RPL_AWAY, p.Name, away)
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
	lines := []string{"JID: " + c.jid()}
	if !c.inRoster {
		lines = append(lines, "not in your roster (use \"add "+c.jid()+"\" to add)")
	} else {
		name := c.name()
		if name == "" {
			name = "(none)"
		}
		lines = append(lines, "roster name: "+cleanText(name))
		if groups := c.groups.list(); len(groups) > 0 {
			lines = append(lines, "groups: "+cleanText(strings.Join(groups, ", ")))
		}
		sub := c.sub.state()
		if c.sub&subPending != 0 {
			sub += " (subscription request pending)"
		}
		lines = append(lines, "subscription: "+sub)
	}
	rs := c.sortedResources()
	if len(rs) == 0 {
		lines = append(lines, "offline")
	}
	for _, res := range rs {
		line := "resource " + cleanText(res.name()) + ": " + showName(res.show())
		if status := res.status(); status != "" {
			line += " (" + cleanText(status) + ")"
		}
		line += ", priority " + strconv.Itoa(int(res.priority))
		if client := res.clientNode(); client != "" {
			line += ", client " + cleanText(client)
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
	name := r.Msg.Params[0]
	if b.isRoomChannel(name) && b.roomByChannel(name) == nil {
		// A room the gateway is not in is no channel it knows.
		return errNoSuchChannel(name)
	}
	ch, err := b.shownChannel(name)
	if err != nil {
		return err
	}
	if len(r.Msg.Params) > 1 {
		return ch.setTopic(r.Msg.Params[1])
	}
	for _, m := range ch.topicReplies(s.d, true) {
		r.Reply(m)
	}
	return nil
}

// shownChannel returns the channel name refers to, or the error for a
// command about a channel the clients were not shown.
func (b *Bridge) shownChannel(name string) (channel, error) {
	ch := b.channel(name)
	switch {
	case ch == nil:
		return nil, errNoSuchChannel(name)
	case !ch.shown():
		return nil, errNotOnChannel(name)
	}
	return ch, nil
}

// MODE <channel> [<modes> [<args>...]]: ircd answers the user's own
// modes; only channels come here.
func (b *Bridge) handleMode(s *session, r *ircd.Request) error {
	ch, err := b.shownChannel(r.Msg.Params[0])
	if err != nil {
		return err
	}
	name := ch.name()
	if len(r.Msg.Params) == 1 {
		modes, created := ch.modes()
		r.Numeric(irc.RPL_CHANNELMODEIS, name, modes)
		if !created.IsZero() {
			r.Numeric(ircd.RPL_CREATIONTIME, name, strconv.FormatInt(created.Unix(), 10))
		}
		return nil
	}
	// The lists are asked for by clients on join; the gateway keeps none.
	switch strings.TrimLeft(r.Msg.Params[1], "+") {
	case "b":
		r.Numeric(irc.RPL_ENDOFBANLIST, name, "End of channel ban list")
		return nil
	case "e":
		r.Numeric(irc.RPL_ENDOFEXCEPTLIST, name, "End of channel exception list")
		return nil
	case "I":
		r.Numeric(irc.RPL_ENDOFINVITELIST, name, "End of channel invite list")
		return nil
	}
	return ch.setModes(r, r.Msg.Params[1], r.Msg.Params[2:])
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
	for _, ch := range b.shownChannels() {
		if want(ch.name()) {
			users, topic := ch.listing()
			r.Numeric(irc.RPL_LIST, ch.name(), strconv.Itoa(users), topic)
		}
	}
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
	ch, err := b.shownChannel(r.Msg.Param(1))
	if err != nil {
		return err
	}
	return ch.invite(r, r.Msg.Param(0))
}

// KICK <channel> <nick> [<reason>]
func (b *Bridge) handleKick(s *session, r *ircd.Request) error {
	ch, err := b.shownChannel(r.Msg.Params[0])
	if err != nil {
		return err
	}
	return ch.kick(r.Msg.Param(1), r.Msg.Param(2))
}
