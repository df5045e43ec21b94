package bridge

import (
	"context"
	"errors"
	"slices"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Deleting messages: XEP-0424 retractions and XEP-0425 moderation in
// rooms <-> IRCv3 REDACT (draft/message-redaction).
//
// Retractions find the messages they name among those the references of
// replies.go keep (bounded): by the XMPP id, by the msgid a client quotes.
// A retraction from XMPP is shown as REDACT of the msgid the client saw to
// clients with the capability, and as a NOTICE saying which message was
// deleted to the others. Only the message's sender may retract it
// (XEP-0424: anything else is ignored and logged); in a room the room
// itself may, for a moderator (XEP-0425). A live retraction of a message
// no longer remembered is told as a notice without a quote: the user
// learns that the contact took something back; a delayed one (room
// history after a rejoin, offline storage) is only logged, as it would be
// told again on every rejoin.
//
// From IRC, REDACT of the user's own message sends a retraction (with the
// XEP's fallback body) naming the origin-id in a chat or the room's
// stanza-id in a room; REDACT of another's message in a room where the user
// is a moderator asks the room to moderate it, and the room's retraction,
// when it comes, is shown like any other.

// capRedaction is the IRCv3 capability of REDACT.
const capRedaction = "draft/message-redaction"

// retractKey is the key of a retraction of the user's in conv naming
// ref, remembered so that the room's reflection of it is not shown again.
func retractKey(conv, ref string) string { return conv + " " + ref }

// retractionID is the id a retraction of k names (XEP-0424): the room's
// stanza-id in a room, else the origin-id (the stanza's id when it has
// none).
func retractionID(k *knownMessage, room bool) string {
	switch {
	case room:
		return k.ref()
	case k.origin() != "":
		return k.origin()
	}
	return k.id()
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
		b.deliver(&rd.note)
		return
	}
	rd.note.toUser = rd.note.target == b.userNick()
	for _, s := range b.sessions {
		if !s.d.HasCap(capRedaction) {
			sendShown(s, &rd.note, viewerOf(s))
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
func (b *Bridge) onRetraction(m *xmpp.Message) {
	if m.Type == "groupchat" {
		b.onRoomRetraction(m)
		return
	}
	own := m.Carbon == xmpp.CarbonSent
	peer := m.From
	if own {
		peer = m.To
	}
	c := b.contacts.get(xmpp.BareJID(peer))
	if c == nil || m.Retract.Moderated {
		b.log.Info("retraction ignored: not from a contact", "from", m.From)
		return
	}
	k := b.msgs.byXMPP(convOf(m, own), m.Retract.ID)
	known := k != nil
	if known && k.sender() != senderOf(m, own) {
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
	b.msgs.forget(k)
	rd := redaction{from: c.prefix(), target: b.userNick(), toUser: true, msgid: k.msgid()}
	if own {
		rd = redaction{fromUser: true, target: c.nick, msgid: k.msgid()}
	}
	rd.note = shown{from: c.prefix(), target: b.userNick(), notice: true,
		body: "[" + b.cfg.ServiceNick + "] " + who + " deleted the message " + excerpt(k.text())}
	b.deliverRedaction(rd)
}

// onRoomRetraction shows an occupant's retraction of its own message, or
// the room's moderation of anyone's.
func (b *Bridge) onRoomRetraction(m *xmpp.Message) {
	r := b.roomByJID(m.From)
	if r == nil {
		return
	}
	rt := m.Retract
	_, nick := splitResource(m.From)
	own := nick != "" && nick == r.nick
	if sent := retractKey(r.key, rt.ID); own && b.retracted.has(sent) {
		b.retracted.remove(sent) // the reflection of the user's REDACT
		return
	}
	if rt.Moderated != (nick == "") {
		b.log.Warn("room retraction ignored: a moderation must come from the room, a retraction from an occupant", "from", m.From)
		return
	}
	k := b.msgs.byXMPP(r.key, rt.ID)
	known := k != nil
	if known && !rt.Moderated && k.sender() != senderOf(m, own) {
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
	case rt.Moderated && k.sender() == ownSender:
		text += "your message " + excerpt(k.text())
	case rt.Moderated:
		text += k.nick() + "'s message " + excerpt(k.text())
	default:
		text += "the message " + excerpt(k.text())
	}
	if rt.Reason != "" {
		text += " (" + oneLine(rt.Reason) + ")"
	}
	note := shown{from: b.servicePrefix(), target: r.channel, notice: true, body: text}
	if !known {
		b.unknownRetraction(m, func() { b.showGateway(note) })
		return
	}
	b.msgs.forget(k)
	b.deliverRedaction(redaction{from: from, fromUser: fromUser, target: r.channel, msgid: k.msgid(), reason: rt.Reason, note: note})
}

// unknownRetraction handles a retraction of a message not remembered:
// told when live, as the user may have seen the message; a delayed one
// (room history after a rejoin, offline storage) is only logged, as it
// would be told again on every rejoin.
func (b *Bridge) unknownRetraction(m *xmpp.Message, tell func()) {
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
		if room.sent.has(msgid) {
			b.awaitReflection(room, r)
			return nil
		}
	} else if c := b.contactByRef(target); c != nil {
		conv = c.key()
	} else {
		r.Fail("INVALID_TARGET", []string{target}, "No such channel or contact")
		return nil
	}
	k := b.resolve(r, conv, target, msgid)
	if k == nil {
		return nil
	}
	switch {
	case k.sender() == ownSender:
		var c *contact
		to, typ := "", "groupchat"
		if room != nil {
			to = room.jid
		} else {
			c = b.contacts.get(conv)
			to, typ = b.target(c), "chat"
		}
		id := retractionID(k, room != nil)
		if err := b.x.SendRetraction(to, typ, id); err != nil {
			fail("TEMPORARILY_UNAVAILABLE", "Not deleted: "+oneLine(err.Error()))
			return nil
		}
		b.msgs.forget(k)
		rd := redaction{fromUser: true, target: target, msgid: k.msgid(), reason: reason,
			note: shown{from: b.servicePrefix(), target: target, notice: true, body: "you deleted your message " + excerpt(k.text())}}
		if c != nil {
			rd.target = c.nick
			rd.note = shown{from: c.prefix(), target: b.userNick(), notice: true, body: "[" + b.cfg.ServiceNick + "] you deleted your message " + excerpt(k.text())}
		} else {
			b.retracted.put(retractKey(conv, id), struct{}{})
		}
		b.deliverRedaction(rd)
	case room != nil && b.isModerator(room):
		err := b.startRequest(request{kind: requestModerate, s: s, room: room.key, what: target, msgid: k.msgid()}, func(ctx context.Context) (string, error) {
			return b.x.ModerateMessage(ctx, room.jid, k.ref(), reason)
		})
		if err != nil {
			fail("TEMPORARILY_UNAVAILABLE", "Not deleted: "+oneLine(err.Error()))
		}
	case room != nil:
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

// heldRedact is a REDACT of the user's message in a room, held until the
// room reflects the message.
type heldRedact struct {
	msgid string
	h     *heldCommand // its command, and the client that sent it
}

// awaitReflection holds r, a REDACT of a message the user sent to room
// that the room has not reflected yet: a retraction names a room's
// message by the id the room gives it (XEP-0424), which comes with the
// reflection. The command is carried out once it comes
// (redactReflected); after maxHold without it, nothing is deleted and
// the answer says so. Where commands are not held, the command is
// answered at once and carried out when the reflection comes.
func (b *Bridge) awaitReflection(room *room, r *ircd.Request) {
	// One whose message the room forgot unreflected waits no more.
	room.redacts = slices.DeleteFunc(room.redacts, func(o heldRedact) bool { return !room.sent.has(o.msgid) })
	w := heldRedact{msgid: r.Msg.Params[1], h: b.hold()}
	w.h.expired = func() {
		room.redacts = slices.DeleteFunc(room.redacts, func(o heldRedact) bool { return o.h == w.h })
		r.Fail("TEMPORARILY_UNAVAILABLE", []string{r.Msg.Params[0], w.msgid}, "Not deleted: the room has not confirmed the message yet")
	}
	room.redacts = append(room.redacts, w)
}

// redactReflected handles the REDACTs that waited for the reflection of
// msgid in room, as the answers of their commands.
func (b *Bridge) redactReflected(room *room, msgid string) {
	for i := 0; i < len(room.redacts); {
		w := room.redacts[i]
		if w.msgid != msgid {
			i++
			continue
		}
		room.redacts = slices.Delete(room.redacts, i, i+1)
		switch {
		case w.h.s.detached:
		case w.h.waiting > 0:
			b.asAnswer(w.h, func() {
				b.safely("REDACT", func() { b.handleRedact(w.h.s, w.h.r) })
			})
		default:
			// Answered already (commands are not held): what it says
			// goes to the client on its own.
			r := &ircd.Request{Msg: w.h.r.Msg, Client: w.h.r.Client}
			b.safely("REDACT", func() { b.handleRedact(w.h.s, r) })
			for _, m := range r.Replies() {
				w.h.s.send(m)
			}
		}
		b.release(w.h)
	}
}
