package bridge

import (
	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Group chats (MUC) live here. Room state is kept apart from the contacts
// and the control channel: every '#' channel maps to one room.

// isRoomChannel reports whether name is a group chat channel (not the
// control channel).
func (b *Bridge) isRoomChannel(name string) bool {
	return len(name) > 1 && name[0] == '#' && ircd.Casefold(name) != ircd.Casefold(b.cfg.ControlChannel)
}

// errNoRooms answers any command about a group chat channel.
func errNoRooms(channel string) error {
	return &ircd.Error{Code: irc.ERR_NOSUCHCHANNEL, Params: []string{channel, "Group chats are not supported yet"}}
}

// roomPresence handles an occupant's presence.
func (b *Bridge) roomPresence(p xmpp.Presence) {
	b.log.Debug("ignoring room presence", "from", p.From)
}

// roomMessage handles a groupchat message.
func (b *Bridge) roomMessage(m xmpp.Message) {
	b.log.Debug("ignoring groupchat message", "from", m.From)
}
