package bridge

import (
	"errors"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// roomByJID finds the room of a bare or full JID.
func (b *Bridge) roomByJID(jid string) *room {
	if b.rooms.byKey == nil {
		return nil
	}
	return b.rooms.byKey[xmpp.BareJID(jid)]
}

// rememberRoomSent notes the id of a message we sent to r, to recognise
// its reflection.
func (r *room) rememberSent(id string) {
	if id == "" {
		return
	}
	r.sent.put(id, struct{}{})
}

// recentKey identifies a message for spotting history repeats after a
// rejoin (the room's history has no ids we could rely on).
func recentKey(nick, body string) string { return nick + "\x00" + body }

func (r *room) rememberRecent(key string, at time.Time) {
	r.recent.put(key, struct{}{})
	if at.After(r.lastAt) {
		r.lastAt = at
	}
}

// roomMessage handles a groupchat message: a subject change or a message
// (live or history).
func (b *Bridge) roomMessage(m *xmpp.Message) {
	_, nick := splitResource(m.From)
	r := b.roomByJID(m.From)
	if r == nil {
		return
	}
	if m.HasSubject && m.Body == "" {
		b.roomSubject(r, nick, m)
		return
	}
	own := nick != "" && nick == r.nick
	if m.Reactions != nil {
		// The reflection of the user's own set changes nothing: not shown.
		s := b.roomShown(r, nick, m)
		b.showReactions(m, own, &s)
		return
	}
	if m.Body == "" {
		return
	}
	sentID := m.ID
	if m.OriginID != "" && r.sent.has(m.OriginID) {
		sentID = m.OriginID
	}
	if own && r.sent.has(sentID) {
		// The reflection of what we sent with id sentID (the echo's
		// msgid) reveals the room's stanza-id that references need.
		b.rememberRef(sentID, xmppRefFor(m))
		b.noteReflection(sentID, m)
		r.sent.remove(m.ID)
		r.sent.remove(m.OriginID)
		r.rememberRecent(recentKey(nick, m.Body), b.now())
		b.redactReflected(r, sentID)
		return
	}
	at, delayed := m.Delay, !m.Delay.IsZero()
	key := recentKey(nick, m.Body)
	if delayed && r.recent.has(key) && !at.After(r.lastAt.Add(2*time.Second)) {
		return // history we showed before a rejoin
	}
	if !delayed {
		at = b.now()
	}
	r.rememberRecent(key, at)
	s := b.roomShown(r, nick, m)
	b.show(m, own, &s)
}

// roomShown is how a message m of r from the occupant nick ("": the room
// itself) shows on IRC, live and in history.
func (b *Bridge) roomShown(r *room, nick string, m *xmpp.Message) shown {
	s := shown{target: r.channel, body: m.Body}
	switch {
	case nick == "":
		s.from, s.notice = b.servicePrefix(), true
	case nick == r.nick:
		s.from = b.ownPrefix()
	default:
		s.from, s.account = b.strangerPrefix(r, nick), b.occupantAccount(r, nick)
	}
	return s
}

// roomSubject handles a subject message: the topic shown on join, or a
// change.
func (b *Bridge) roomSubject(r *room, nick string, m *xmpp.Message) {
	first := !r.subjectOK
	r.subjectOK, r.inHistory = true, false
	text := m.Subject
	if first && text == r.subject {
		return // the same topic again after a rejoin
	}
	setter := r.jid
	var from *irc.Prefix
	if nick != "" {
		from = b.strangerPrefix(r, nick)
		if nick == r.nick {
			from = b.ownPrefix()
		}
		setter = from.String()
	}
	at := m.Delay
	if at.IsZero() {
		at = b.now()
	}
	hadTopic := r.subject != ""
	r.subject, r.subjectBy, r.subjectAt = text, setter, at
	if !r.shown {
		return
	}
	if first && !hadTopic {
		// Part of the join: clients get it as the channel's topic.
		for _, s := range b.sessions {
			for _, t := range b.channelOf(r).topicReplies(s.d, false) {
				s.send(t)
			}
		}
		return
	}
	if from == nil {
		from = b.servicePrefix()
	}
	b.sessions.send(&irc.Message{Prefix: from, Command: "TOPIC", Params: []string{r.channel, r.topic()}})
}

// roomPrivate handles a chat message through a room: a private message
// from an occupant (or, as a carbon, from the user to one), peer.
func (b *Bridge) roomPrivate(r *room, m *xmpp.Message, peer string) {
	_, nick := splitResource(peer)
	if m.Body == "" || nick == "" {
		return
	}
	own := m.Carbon == xmpp.CarbonSent
	var s shown
	b.chatShown(&s, b.strangerPrefix(r, nick), b.occupantAccount(r, nick), m, own, false)
	b.show(m, own, &s)
}

// roomErrorMessage handles an error message from a room, e.g. a refused
// message or subject change.
func (b *Bridge) roomErrorMessage(r *room, m *xmpp.Message) {
	reason := "unknown error"
	if m.Error != nil {
		reason = oneLine(m.Error.Error())
	}
	what := "The room refused a request"
	if r.sent.has(m.ID) {
		r.sent.remove(m.ID)
		what = "Your message was not delivered"
	}
	if !r.shown {
		b.announce(r.channel+": "+what+": "+reason, true)
		return
	}
	b.roomNotice(r, what+": "+reason)
}

// roomPrivmsg sends the user's PRIVMSG/NOTICE to a room.
func (b *Bridge) roomPrivmsg(s *session, req *ircd.Request, ch, text string) error {
	r := b.roomByChannel(ch)
	if r == nil || !r.shown {
		return &ircd.Error{Code: irc.ERR_CANNOTSENDTOCHAN, Params: []string{ch, "You are not in that room: JOIN it first"}}
	}
	body, ok := ircToBody(text)
	if !ok || strings.TrimSpace(body) == "" || body == "/me " {
		return nil
	}
	out := xmpp.OutMessage{ID: b.x.NewID(), To: r.jid, Type: "groupchat", Body: body}
	corrected, ok := b.outRefs(req, strings.ToLower(r.jid), r.channel, &out, func(sender string) string {
		if sender == ownSender {
			return r.jid + "/" + r.nick
		}
		return sender
	})
	if !ok {
		return nil
	}
	if corrected {
		text = correctedMark + out.Body
	}
	out.OOBURL = fileLink(out.Body)
	b.echo(s, req, out.ID, r.channel, text)
	if !b.connected || r.joining {
		if len(r.pending) >= maxRoomPending {
			b.roomNotice(r, "XMPP is not connected and the queue is full; NOT sent: "+excerpt(body))
			return nil
		}
		r.pending = append(r.pending, out)
		b.roomNotice(r, "Not in the room at the moment; message queued, it will be sent on rejoin: "+excerpt(body))
		return nil
	}
	b.sendRoomMessage(r, out)
	return nil
}

// sendRoomMessage sends the user's message to r, with the id its echo
// carried as msgid.
func (b *Bridge) sendRoomMessage(r *room, out xmpp.OutMessage) {
	id, err := b.x.SendMessage(out)
	if err != nil {
		if errors.Is(err, xmpp.ErrNotConnected) && len(r.pending) < maxRoomPending {
			r.pending = append(r.pending, out)
			b.roomNotice(r, "XMPP is not connected; message queued: "+excerpt(out.Body))
			return
		}
		b.roomNotice(r, "message NOT sent ("+oneLine(err.Error())+"): "+excerpt(out.Body))
		return
	}
	r.rememberSent(id)
	b.noteOwnSent(strings.ToLower(r.jid), &out, "")
}

// occupantPrivmsg sends a private message to a room occupant.
func (b *Bridge) occupantPrivmsg(s *session, req *ircd.Request, o *occupant, r *room, text string) error {
	body, ok := ircToBody(text)
	if !ok || strings.TrimSpace(body) == "" || body == "/me " {
		return nil
	}
	id := b.x.NewID()
	b.echo(s, req, id, o.irc, text)
	_, err := b.x.SendMessage(xmpp.OutMessage{ID: id, To: r.jid + "/" + o.nick, Type: "chat", Body: body, ChatState: "active", OOBURL: fileLink(body)})
	if err == nil {
		b.rememberRef(id, id)
	} else {
		req.Reply(b.stamped(&irc.Message{Prefix: b.occupantPrefix(r, o), Command: "NOTICE", Params: []string{b.userNick(), "[" + b.cfg.ServiceNick + "] message NOT sent (" + oneLine(err.Error()) + "): " + excerpt(body)}}))
	}
	return nil
}

// inviteHint tells the user how to accept an invitation.
func (b *Bridge) inviteHint(inv *xmpp.MUCInvite) string {
	if !xmpp.ValidJID(inv.Room) || strings.Contains(inv.Room, "/") || strings.ContainsAny(inv.Room, ",\a") {
		return "The room address is not usable."
	}
	cmd := "/join " + b.channelForRoom(inv.Room)
	if inv.Password != "" {
		cmd += " " + oneLine(inv.Password)
	}
	return "Type \"" + cmd + "\" to accept."
}
