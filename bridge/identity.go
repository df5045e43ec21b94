package bridge

import (
	"strconv"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/xmpp"
)

// Message identity: every PRIVMSG, NOTICE and TAGMSG carries a msgid and a
// time tag, the same wherever the same message is shown again (live, echo,
// backlog, archive, room history, after a restart).
//
// The msgid of a message from someone else is the stanza-id its archive gave
// it (the user's server for chats, the room for group chats), else its
// origin-id. The msgid of the user's own message is its origin-id: the
// gateway chooses it before sending (so the echo carries it), and every copy
// of it (carbon, reflection, archive, room history) carries it too. Anything
// else gets a generated id.

// maxMsgRefs bounds the msgids remembered for resolving them back to XMPP.
const maxMsgRefs = 2000

// msgIDFor is the msgid of m (own: sent by the user), "" when m carries
// no usable id.
func msgIDFor(m xmpp.Message, own bool) string {
	switch {
	case own && m.OriginID != "":
		return m.OriginID
	case m.StanzaID != "":
		return m.StanzaID
	}
	return m.OriginID
}

// xmppRefFor is the id by which XMPP extensions (replies, reactions,
// retractions) refer to m: the room's stanza-id in a group chat, else the
// origin-id or the stanza's id.
func xmppRefFor(m xmpp.Message) string {
	switch {
	case m.Type == "groupchat":
		return m.StanzaID
	case m.OriginID != "":
		return m.OriginID
	}
	return m.ID
}

// lineMsgID is the msgid of the n-th IRC line (from 0) of a message whose
// body takes several lines: each line is an IRC message of its own.
func lineMsgID(msgid string, n int) string {
	if n == 0 {
		return msgid
	}
	return msgid + "/" + strconv.Itoa(n+1)
}

// rememberRef notes which XMPP id the message shown as msgid has.
func (b *Bridge) rememberRef(msgid, ref string) {
	if msgid != "" && ref != "" {
		b.refs.put(msgid, ref)
	}
}

// xmppRef resolves a msgid a client quotes (of any line of a message) to
// the XMPP id of the message; ok is false when it is unknown or forgotten.
func (b *Bridge) xmppRef(msgid string) (ref string, ok bool) {
	if ref, ok := b.refs.get(msgid); ok {
		return ref, true
	}
	if i := strings.LastIndexByte(msgid, '/'); i > 0 {
		if _, err := strconv.Atoi(msgid[i+1:]); err == nil {
			return b.refs.get(msgid[:i])
		}
	}
	return "", false
}

// shown is a message from XMPP as IRC shows it, as a handler decided it.
type shown struct {
	from    *irc.Prefix
	target  string // the user's nick, a contact's nick or a channel
	notice  bool
	body    string
	account string // of the sender, "" when not known
	msgid   string
	at      time.Time
}

// ircLines translates s into IRC messages, one per line of its body (split
// to fit), tagged with msgid, time and account.
func ircLines(s shown) []*irc.Message {
	command := "PRIVMSG"
	if s.notice {
		command = "NOTICE"
	}
	var out []*irc.Message
	for i, line := range bodyToIRC(s.body, lineBudget(s.from, s.target)) {
		text := line.Wire()
		if s.notice {
			text = line.Text // no CTCP in a NOTICE
		}
		tags := irc.Tags{"msgid": lineMsgID(s.msgid, i), "time": serverTime(s.at)}
		if s.account != "" {
			tags["account"] = s.account
		}
		out = append(out, &irc.Message{Tags: tags, Prefix: s.from, Command: command, Params: []string{s.target, text}})
	}
	return out
}

// show gives m its identity (own: sent by the user) and delivers it as s.
func (b *Bridge) show(m xmpp.Message, own bool, s shown) {
	s.msgid = msgIDFor(m, own)
	if s.msgid == "" {
		s.msgid = b.newMsgID()
	}
	s.at = m.Delay
	if s.at.IsZero() {
		s.at = b.now()
	}
	b.rememberRef(s.msgid, xmppRefFor(m))
	for _, line := range ircLines(s) {
		b.deliver(line, !m.Delay.IsZero())
	}
}

// stamped gives m (a message of the gateway's own) a new msgid and the
// current time, unless it has them.
func (b *Bridge) stamped(m *irc.Message) *irc.Message {
	switch m.Command {
	case "PRIVMSG", "NOTICE", "TAGMSG":
	default:
		return m
	}
	if m.Tags["msgid"] != "" && m.Tags["time"] != "" {
		return m
	}
	mm := m.Copy()
	if mm.Tags == nil {
		mm.Tags = irc.Tags{}
	}
	if mm.Tags["msgid"] == "" {
		mm.Tags["msgid"] = b.newMsgID()
	}
	if mm.Tags["time"] == "" {
		mm.Tags["time"] = serverTime(b.now())
	}
	return mm
}

// tagTime is the time of a message stamped with a time tag.
func tagTime(m *irc.Message) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, m.Tags["time"])
	return t
}
