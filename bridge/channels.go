package bridge

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// channel is an IRC channel the gateway shows: the control channel
// (controlChannel) or a group chat (roomChannel). The channel commands
// (PRIVMSG, JOIN, PART, NAMES, WHO, TOPIC, MODE, INVITE, KICK) are each
// written once, in handlers.go, and reach what differs through these
// methods; a new kind of channel is a new implementation.
type channel interface {
	// name is the channel's name as clients know it.
	name() string
	// shown reports whether the clients were shown the channel, so that
	// NAMES, WHO, TOPIC, MODE, INVITE and KICK make sense for it.
	shown() bool
	// sees reports whether s is in the channel and gets its traffic.
	sees(s *session) bool
	// join and part run JOIN and PART of the channel for s.
	join(s *session, r *ircd.Request, key string) error
	part(s *session, r *ircd.Request, reason string) error
	// privmsg sends the user's PRIVMSG or NOTICE to the channel.
	privmsg(s *session, r *ircd.Request, text string, notice bool) error

	// The methods below are called only once shown is true.

	// names are d's NAMES entries, membership prefixes included.
	names(d ircd.Downstream) []string
	// who are s's WHO entries for the channel.
	who(s *session) []whoEntry
	// topicReplies are 332/333 for d; explicit is a TOPIC query, which
	// gets 331 when there is no topic.
	topicReplies(d ircd.Downstream, explicit bool) []*irc.Message
	// modes are the channel modes and, when known, when it was created.
	modes() (string, time.Time)
	// listing is the channel's LIST entry: how many are in it, and its
	// topic.
	listing() (users int, topic string)
	// setTopic asks for a new topic.
	setTopic(text string) error
	// setModes runs MODE with changes (modes and their arguments).
	setModes(r *ircd.Request, modes string, args []string) error
	// invite invites nick; kick kicks nick.
	invite(r *ircd.Request, nick string) error
	kick(nick, reason string) error
}

// channel returns the channel name refers to, nil when name is none the
// gateway could show. A group chat the gateway is not in is a channel
// too: JOIN joins it, and the other commands say the user is not in it.
func (b *Bridge) channel(name string) channel {
	switch {
	case b.isControl(name):
		return b.control()
	case b.isRoomChannel(name):
		return roomChannel{b: b, typed: name, r: b.roomByChannel(name)}
	}
	return nil
}

// shownChannels are the channels the clients were shown: the control
// channel, then the group chats by name.
func (b *Bridge) shownChannels() []channel {
	chs := []channel{b.control()}
	for _, r := range b.sortedRooms() {
		if r.shown {
			chs = append(chs, b.channelOf(r))
		}
	}
	return chs
}

// isChannelName reports whether name is a channel name rather than a
// nick.
func isChannelName(name string) bool {
	return len(name) > 0 && (name[0] == '&' || name[0] == '#')
}

// showChannel sends s the JOIN, topic and names of ch (no names for a
// client with no-implicit-names) through send.
func (b *Bridge) showChannel(s *session, ch channel, send func(*irc.Message)) {
	send(joinOf(s.d, ch.name(), userPrefix(s.d), "", b.userRealname(s)))
	for _, m := range ch.topicReplies(s.d, false) {
		send(m)
	}
	b.markOnJoin(s, ch.name(), send)
	if s.d.HasCap("no-implicit-names") {
		return
	}
	for _, m := range b.namesReplies(s.d, ch) {
		send(m)
	}
}

// namesReplies are 353/366 for ch.
func (b *Bridge) namesReplies(d ircd.Downstream, ch channel) []*irc.Message {
	return ircd.NamesReplies(d, ch.name(), ch.names(d))
}

// whoEntry is one user as WHO and USERHOST see it.
type whoEntry struct {
	prefix   *irc.Prefix
	away     bool
	chanPfx  string // membership prefixes shown in WHO's flags
	realname string
	inChan   bool // in the control channel (see everyone)
}

// controlChannel is the channel of the contacts and the control
// commands. Each client joins and parts it on its own; the user and the
// service are its operators, contacts are voiced when available.
type controlChannel struct{ b *Bridge }

func (b *Bridge) control() controlChannel { return controlChannel{b: b} }

// isControl reports whether name is the control channel's.
func (b *Bridge) isControl(name string) bool {
	return ircd.Casefold(name) == ircd.Casefold(b.cfg.ControlChannel)
}

// topic is the control channel's fixed topic.
func (c controlChannel) topic() string {
	jid := c.b.ownJID
	if jid == "" {
		jid = c.b.x.JID()
	}
	return "XMPP contacts of " + jid + " — type \"help\" here for commands"
}

func (c controlChannel) name() string         { return c.b.cfg.ControlChannel }
func (c controlChannel) shown() bool          { return true }
func (c controlChannel) sees(s *session) bool { return s.inControl }

func (c controlChannel) names(d ircd.Downstream) []string {
	uh := d.HasCap("userhost-in-names")
	name := func(prefix string, p *irc.Prefix) string {
		if uh {
			return prefix + p.String()
		}
		return prefix + p.Name
	}
	names := []string{name("@", userPrefix(d)), name("@", c.b.servicePrefix())}
	for _, ct := range c.b.sortedContacts() {
		if !ct.view.shown {
			continue
		}
		pfx := ""
		if ct.view.voiced {
			pfx = "+"
		}
		names = append(names, name(pfx, ct.prefix()))
	}
	return names
}

func (c controlChannel) who(s *session) []whoEntry {
	var out []whoEntry
	for _, e := range c.b.everyone(s) {
		if e.inChan {
			out = append(out, e)
		}
	}
	return out
}

func (c controlChannel) topicReplies(d ircd.Downstream, explicit bool) []*irc.Message {
	b, ch := c.b, c.name()
	return []*irc.Message{
		{Prefix: b.serverPrefix(), Command: irc.RPL_TOPIC, Params: []string{d.Nick(), ch, c.topic()}},
		{Prefix: b.serverPrefix(), Command: ircd.RPL_TOPICWHOTIME, Params: []string{d.Nick(), ch, b.servicePrefix().String(), strconv.FormatInt(b.start, 10)}},
	}
}

func (c controlChannel) modes() (string, time.Time) { return "+nt", time.Unix(c.b.start, 0) }

// listing counts the user, the service and the contacts shown.
func (c controlChannel) listing() (int, string) {
	n := 2
	for _, ct := range c.b.contacts.all() {
		if ct.view.shown {
			n++
		}
	}
	return n, c.topic()
}

func (c controlChannel) join(s *session, r *ircd.Request, key string) error {
	if !s.inControl {
		c.b.joinControl(s, r)
	}
	return nil
}

// joinControl sends s the control channel's JOIN, topic and names. r is
// the request to reply through, nil at attach.
func (b *Bridge) joinControl(s *session, r *ircd.Request) {
	s.inControl = true
	send := s.d.Send
	if r != nil {
		send = r.Reply
	}
	b.showChannel(s, b.control(), send)
}

func (c controlChannel) part(s *session, r *ircd.Request, reason string) error {
	if !s.inControl {
		return errNotOnChannel(c.name())
	}
	s.inControl = false
	params := []string{c.name()}
	if reason != "" {
		params = append(params, reason)
	}
	r.Reply(&irc.Message{Prefix: userPrefix(s.d), Command: "PART", Params: params})
	return nil
}

// privmsg: the user's text is a control command, or "nick: text" to a
// contact.
func (c controlChannel) privmsg(s *session, r *ircd.Request, text string, notice bool) error {
	b := c.b
	ct, rest := b.addressedContact(text)
	msgid := b.newMsgID()
	if ct != nil {
		msgid = b.x.NewID()
	}
	b.echo(s, r, msgid, c.name(), text)
	if notice {
		return nil
	}
	if _, isCTCP := parseCTCP(text); isCTCP {
		return nil
	}
	if ct != nil {
		if body, ok := ircToBody(rest); ok && strings.TrimSpace(body) != "" {
			b.sendChat(ct, &xmpp.OutMessage{ID: msgid, Body: body})
		}
		return nil
	}
	b.runCommand(s, r, c.name(), text)
	return nil
}

func (c controlChannel) setTopic(string) error {
	return errChanOp(c.name(), "The control channel's topic is fixed")
}

func (c controlChannel) setModes(*ircd.Request, string, []string) error {
	return errChanOp(c.name(), "The control channel's modes follow XMPP presence and cannot be changed")
}

func (c controlChannel) invite(*ircd.Request, string) error {
	return errChanOp(c.name(), "Contacts join the control channel by being in your roster: use \"add JID\"")
}

func (c controlChannel) kick(string, string) error {
	return errChanOp(c.name(), "Use \"remove nick\" to remove a contact from your roster")
}

func errChanOp(ch, text string) error {
	return &ircd.Error{Code: irc.ERR_CHANOPRIVSNEEDED, Params: []string{ch, text}}
}

func errNotOnChannel(ch string) error {
	return &ircd.Error{Code: irc.ERR_NOTONCHANNEL, Params: []string{ch, "You're not on that channel"}}
}
