package bridge

import (
	"context"
	"errors"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Deleting messages: XEP-0424 retractions and XEP-0425 moderation in
// rooms <-> IRCv3 REDACT (draft/message-redaction).
//
// Every message shown (and every one the user sends) is remembered,
// bounded, with the XMPP id a retraction names (retractable). A
// retraction from XMPP is shown as REDACT of the msgid the client saw to
// clients with the capability, and as a NOTICE saying which message was
// deleted to the others. Only the message's sender may retract it (XEP-0424:
// anything else is ignored); in a room the room itself may, for a
// moderator (XEP-0425). A retraction of a message no longer remembered is
// told as a notice without a quote: a message cannot be named that way,
// but the user learns that the contact took something back.
//
// From IRC, REDACT of the user's own message sends a retraction (with the
// XEP's fallback body) naming the origin-id in a chat or the room's
// stanza-id in a room; REDACT of another's message in a room where the user
// is a moderator asks the room to moderate it, and the room's retraction,
// when it comes, is shown like any other.

// capRedaction is the IRCv3 capability of REDACT.
const capRedaction = "draft/message-redaction"

// maxRetractable bounds the messages remembered for retractions.
const maxRetractable = maxMsgRefs

// retractable is a shown message as a retraction finds it.
type retractable struct {
	conv   string // the contact's bare JID, or the room's key
	room   bool
	sender string // chats: the sender's bare JID; rooms: its room nick
	own    bool   // the user sent it
	ref    string // the id a retraction names (xmppRefFor)
	who    string // the sender's nick as shown
	quote  string // the start of its text (excerpt)
}

// retractions are the remembered messages, by msgid and by conversation
// and XMPP id, and the room retractions the user sent, whose reflection
// is not shown again (by conversation and XMPP id).
type retractions struct {
	byMsgID *bounded[retractable]
	byRef   *bounded[string]
	sent    *bounded[struct{}]
}

func newRetractions() retractions {
	return retractions{byMsgID: newBounded[retractable](maxRetractable), byRef: newBounded[string](maxRetractable),
		sent: newBounded[struct{}](maxRoomSent)}
}

func refKey(conv, ref string) string { return conv + "\x00" + ref }

// noteRetractable remembers the message shown as msgid.
func (b *Bridge) noteRetractable(msgid string, t retractable) {
	if msgid == "" || t.ref == "" {
		return
	}
	b.retract.byMsgID.put(msgid, t)
	b.retract.byRef.put(refKey(t.conv, t.ref), msgid)
}

// noteShown remembers m, shown as s (own: sent by the user).
func (b *Bridge) noteShown(m xmpp.Message, own bool, s shown) {
	t := retractable{own: own, ref: xmppRefFor(m), who: s.from.Name, quote: excerpt(m.Body)}
	if m.Type == "groupchat" {
		t.conv, t.room = xmpp.BareJID(m.From), true
		_, t.sender = splitResource(m.From)
	} else {
		peer := m.From
		if m.Carbon == xmpp.CarbonSent {
			peer = m.To
		}
		t.conv, t.sender = xmpp.BareJID(peer), xmpp.BareJID(m.From)
	}
	b.noteRetractable(s.msgid, t)
}

// forgetRetractable forgets msgid once deleted.
func (b *Bridge) forgetRetractable(msgid string, t retractable) {
	b.retract.byMsgID.remove(msgid)
	b.retract.byRef.remove(refKey(t.conv, t.ref))
}

// redaction is a deletion as clients see it.
type redaction struct {
	from     *irc.Prefix // who deleted it
	fromUser bool        // the user did: each client sees its own hostmask
	target   string      // where the message was: a channel, a contact's nick, or the user's nick
	toUser   bool        // target is the user's nick
	msgid    string
	reason   string
	note     shown // the NOTICE for clients without the capability
}

// deliverRedaction sends rd to every attached client: REDACT to those
// with the capability, the notice to the others. Without a client, the
// notice is kept for the next one.
func (b *Bridge) deliverRedaction(rd redaction) {
	rd.note.msgid, rd.note.at = b.newMsgID(), b.now()
	if len(b.sessions) == 0 || b.only != nil {
		b.deliver(rd.note)
		return
	}
	rd.note.toUser = rd.note.target == b.userNick()
	for _, s := range b.sessions {
		if !s.d.HasCap(capRedaction) {
			sendShown(s, rd.note, viewerOf(s))
			continue
		}
		from, target := rd.from, rd.target
		if rd.fromUser {
			from = userPrefix(s.d)
		}
		if rd.toUser {
			target = s.d.Nick()
		}
		params := []string{target, rd.msgid}
		if rd.reason != "" {
			params = append(params, rd.reason)
		}
		// To the client whose REDACT this is, it is the command's reply
		// (session.send), which labeled-response labels.
		s.send(&irc.Message{Tags: irc.Tags{"time": serverTime(rd.note.at)}, Prefix: from, Command: "REDACT", Params: params})
	}
}

// onRetraction shows a retraction (or a moderation) from XMPP.
func (b *Bridge) onRetraction(m xmpp.Message) {
	if m.Type == "groupchat" {
		b.onRoomRetraction(m)
		return
	}
	own := m.Carbon == xmpp.CarbonSent
	peer := m.From
	if own {
		peer = m.To
	}
	c := b.contacts[xmpp.BareJID(peer)]
	if c == nil || m.Retract.Moderated {
		b.log.Info("retraction ignored: not from a contact", "from", m.From)
		return
	}
	msgid, known := b.retract.byRef.get(refKey(c.key, m.Retract.ID))
	t, _ := b.retract.byMsgID.get(msgid)
	if known && t.own != own {
		b.log.Warn("retraction ignored: not by the message's sender", "from", m.From, "id", m.Retract.ID)
		return
	}
	who := c.nick
	if own {
		who = "you"
	}
	if !known {
		b.unknownRetraction(m, func() { b.queryNotice(c, who+" deleted a message that xircd no longer remembers.") })
		return
	}
	b.forgetRetractable(msgid, t)
	rd := redaction{from: c.prefix(), target: b.userNick(), toUser: true, msgid: msgid}
	if own {
		rd = redaction{fromUser: true, target: c.nick, msgid: msgid}
	}
	rd.note = shown{from: c.prefix(), target: b.userNick(), notice: true,
		body: "[" + b.cfg.ServiceNick + "] " + who + " deleted the message " + t.quote}
	b.deliverRedaction(rd)
}

// onRoomRetraction shows an occupant's retraction of its own message, or
// the room's moderation of anyone's.
func (b *Bridge) onRoomRetraction(m xmpp.Message) {
	r := b.roomByJID(m.From)
	if r == nil {
		return
	}
	rt := m.Retract
	_, nick := splitResource(m.From)
	if sent := refKey(r.key, rt.ID); nick == r.nick && b.retract.sent.has(sent) {
		b.retract.sent.remove(sent) // the reflection of the user's REDACT
		return
	}
	if rt.Moderated != (nick == "") {
		b.log.Warn("room retraction ignored: a moderation must come from the room, a retraction from an occupant", "from", m.From)
		return
	}
	msgid, known := b.retract.byRef.get(refKey(r.key, rt.ID))
	t, _ := b.retract.byMsgID.get(msgid)
	if known && !rt.Moderated && t.sender != nick {
		b.log.Warn("room retraction ignored: not by the message's sender", "from", m.From, "id", rt.ID)
		return
	}
	var from *irc.Prefix
	who := nick
	if rt.Moderated {
		_, who = splitResource(rt.By)
		from = b.servicePrefix()
		if who != "" {
			from = b.strangerPrefix(r, who)
		}
	} else {
		from = b.strangerPrefix(r, nick)
	}
	fromUser := who != "" && who == r.nick
	if fromUser {
		from, who = b.ownPrefix(), "you"
	} else if who == "" {
		who = "a moderator"
	} else {
		who = from.Name
	}
	text := who + " deleted "
	switch {
	case !known:
		text += "a message that xircd no longer remembers"
	case rt.Moderated && t.own:
		text += "your message " + t.quote
	case rt.Moderated:
		text += t.who + "'s message " + t.quote
	default:
		text += "the message " + t.quote
	}
	if rt.Reason != "" {
		text += " (" + oneLine(rt.Reason) + ")"
	}
	note := shown{from: b.servicePrefix(), target: r.channel, notice: true, body: text}
	if !known {
		b.unknownRetraction(m, func() { b.showGateway(note) })
		return
	}
	b.forgetRetractable(msgid, t)
	b.deliverRedaction(redaction{from: from, fromUser: fromUser, target: r.channel, msgid: msgid, reason: rt.Reason, note: note})
}

// unknownRetraction handles a retraction of a message not remembered:
// told when live, as the user may have seen the message; a delayed one
// (room history after a rejoin, offline storage) is only logged, as it
// would be told again on every rejoin.
func (b *Bridge) unknownRetraction(m xmpp.Message, tell func()) {
	if !m.Delay.IsZero() {
		b.log.Debug("delayed retraction of an unknown message ignored", "from", m.From, "id", m.Retract.ID)
		return
	}
	tell()
}

// REDACT <target> <msgid> [<reason>]
func (b *Bridge) handleRedact(s *session, r *ircd.Request) error {
	target, msgid := r.Msg.Params[0], r.Msg.Params[1]
	reason := ""
	if len(r.Msg.Params) > 2 {
		reason = r.Msg.Params[2]
	}
	fail := func(code, text string) { r.Fail(code, []string{target, msgid}, text) }
	var conv string
	room := b.roomByChannel(target)
	if room != nil {
		conv = room.key
	} else if c := b.contactByRef(target); c != nil {
		conv = c.key
	} else {
		r.Fail("INVALID_TARGET", []string{target}, "No such channel or contact")
		return nil
	}
	t, known := b.retract.byMsgID.get(msgid)
	if !known {
		msgid = baseMsgID(msgid)
		t, known = b.retract.byMsgID.get(msgid)
	}
	if !known || t.conv != conv {
		fail("UNKNOWN_MSGID", "This message is not known (or no longer remembered) here")
		return nil
	}
	switch {
	case t.own:
		to, typ := t.conv, "chat"
		if t.room {
			to, typ = room.jid, "groupchat"
		} else if c := b.contacts[t.conv]; c != nil {
			to = c.target()
		}
		if err := b.x.SendRetraction(to, typ, t.ref); err != nil {
			fail("TEMPORARILY_UNAVAILABLE", "Not deleted: "+oneLine(err.Error()))
			return nil
		}
		if t.room {
			b.retract.sent.put(refKey(t.conv, t.ref), struct{}{})
		}
		b.forgetRetractable(msgid, t)
		rd := redaction{fromUser: true, target: target, msgid: msgid, reason: reason,
			note: shown{from: b.servicePrefix(), target: target, notice: true, body: "you deleted your message " + t.quote}}
		if !t.room {
			c := b.contacts[t.conv]
			rd.target = c.nick
			rd.note = shown{from: c.prefix(), target: b.userNick(), notice: true, body: "[" + b.cfg.ServiceNick + "] you deleted your message " + t.quote}
		}
		b.deliverRedaction(rd)
	case t.room && b.isModerator(room):
		err := b.startRequest(request{kind: requestModerate, s: s, room: room.key, what: target, msgid: msgid}, func(ctx context.Context) (string, error) {
			return b.x.ModerateMessage(ctx, room.jid, t.ref, reason)
		})
		if err != nil {
			fail("TEMPORARILY_UNAVAILABLE", "Not deleted: "+oneLine(err.Error()))
		}
	case t.room:
		fail("REDACT_FORBIDDEN", "Only the sender or a moderator of the room may delete this message")
	default:
		fail("REDACT_FORBIDDEN", "Only the sender may delete a message in a chat")
	}
	return nil
}

// isModerator reports whether the user is a moderator of r.
func (b *Bridge) isModerator(r *room) bool {
	o := r.occupants[r.nick]
	return o != nil && o.role == "moderator"
}

// onModerated tells the client that asked for a moderation the room's
// refusal; its success shows as the room's retraction.
func (b *Bridge) onModerated(req request, err error) {
	if err == nil || req.s == nil {
		return
	}
	text := "The room refused to delete the message: " + oneLine(err.Error())
	var se *xmpp.StanzaError
	if errors.As(err, &se) && (se.Condition == "feature-not-implemented" || se.Condition == "service-unavailable") {
		text = "The room does not support deleting messages (XEP-0425)"
	}
	req.s.send(&irc.Message{Prefix: b.serverPrefix(), Command: "FAIL", Params: []string{"REDACT", "REDACT_FORBIDDEN", req.what, req.msgid, text}})
}
