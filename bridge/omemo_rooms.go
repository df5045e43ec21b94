package bridge

import "xircd/xmpp"

// OMEMO in group chats (XEP-0384 0.3, like one-to-one chats): a message
// to a room is encrypted for every device of every occupant, with the same
// sessions as one-to-one chats. Decrypting it needs the sender's real JID,
// which the room tells in the occupant's presence only when it reveals
// real JIDs (a non-anonymous room, or to a moderator of a semi-anonymous
// one). The same holds for a private message through a room.

// omemoSender is the bare JID whose sessions decrypt m: the sender of a
// chat message, or the real JID of the room occupant who sent it. When it
// is not known, why says why.
func (b *Bridge) omemoSender(m xmpp.Message) (jid, why string) {
	r := b.roomByJID(m.From)
	if r == nil {
		if m.Type == "groupchat" {
			return "", "it comes from a room xircd is not in"
		}
		return xmpp.BareJID(m.From), ""
	}
	_, nick := splitResource(m.From)
	if nick == "" {
		return "", "it comes from the room itself"
	}
	if nick == r.nick {
		// Reflected: the user sent it from another device of the account.
		return b.ownBareJID(), ""
	}
	o := r.occupants[nick]
	switch {
	case o == nil:
		return "", "its sender is no longer in the room, so xircd does not know their real JID, which OMEMO needs"
	case o.jid == "":
		return "", "the room does not reveal its occupants' real JIDs to xircd, which OMEMO needs"
	}
	return o.jid, ""
}
