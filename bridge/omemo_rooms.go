package bridge

import "xircd/xmpp"

// OMEMO in group chats (XEP-0384 0.3, like one-to-one chats): a message
// to a room is encrypted for every device of every occupant, with the same
// sessions as one-to-one chats. Decrypting it needs the sender's real JID,
// which the room tells in the occupant's presence only when it reveals
// real JIDs (a non-anonymous room, or to a moderator of a semi-anonymous
// one). The same holds for a private message through a room.

// omemoFrom is who sent an OMEMO message.
type omemoFrom struct {
	// speaker names the sender as the message does, the same live and in
	// history: a chat's sender by bare JID, a room's occupant as room/nick.
	speaker string
	// jid is the bare JID whose sessions decrypt the message, "" when it
	// is not known: why says why.
	jid, why string
	// own: the user's account sent it, maybe from xircd's own device.
	own bool
}

// omemoSender is who sent m: the sender of a chat message, or the room
// occupant who sent it, with their real JID when the room reveals it.
func (b *Bridge) omemoSender(m *xmpp.Message) omemoFrom {
	r := b.roomByJID(m.From)
	if r == nil {
		from := omemoFrom{speaker: xmpp.BareJID(m.From), jid: xmpp.BareJID(m.From), own: b.isOwnJID(m.From)}
		if m.Type == "groupchat" {
			from.jid, from.why = "", "it comes from a room xircd is not in"
		}
		return from
	}
	_, nick := splitResource(m.From)
	from := omemoFrom{speaker: r.key + "/" + nick}
	o := r.occupants[nick]
	switch {
	case nick == "":
		from.why = "it comes from the room itself"
	case nick == r.nick:
		// Reflected: the user sent it from another device of the account.
		from.jid, from.own = b.ownKey(), true
	case o == nil:
		from.why = "its sender is no longer in the room, so xircd does not know their real JID, which OMEMO needs"
	case o.jid == "":
		from.why = "the room does not reveal its occupants' real JIDs to xircd, which OMEMO needs"
	default:
		from.jid = o.jid
	}
	return from
}
