package bridge

import (
	"time"

	"xircd/xmpp"
)

// What becomes of a chat message from a stranger (a JID outside the
// roster), like BitlBee's handle_unknown: the setting "strangers"
// (Config.Strangers, "set strangers").
const (
	strangersAccept = "accept" // shown like any message (in the backlog with a smaller share)
	strangersNotice = "notice" // only a notice in the control channel that the stranger wrote
	strangersIgnore = "ignore" // dropped, logged at debug level
)

// strangerNoticeEvery is how often, at most, the user is told that the
// same stranger wrote while strangers is "notice": a flood is one notice.
const strangerNoticeEvery = 10 * time.Minute

func validStrangers(v string) bool {
	switch v {
	case strangersAccept, strangersNotice, strangersIgnore:
		return true
	}
	return false
}

// admitStranger reports whether the chat message m with peer is to be
// shown: always for a roster contact and for what the user sent (carbons),
// else as the strangers setting says.
func (b *Bridge) admitStranger(m *xmpp.Message, peer string) bool {
	if c := b.contacts.get(xmpp.BareJID(peer)); c != nil && c.inRoster || m.Carbon == xmpp.CarbonSent {
		return true
	}
	bare, _ := splitResource(peer)
	switch b.cfg.Strangers {
	case strangersNotice:
		key := xmpp.BareJID(bare)
		if at, ok := b.strangerAt.get(key); ok && b.now().Sub(at) < strangerNoticeEvery {
			return false
		}
		b.strangerAt.put(key, b.now())
		jid := oneLine(bare)
		b.announce(jid+", who is not in your contacts, wrote to you. Messages from strangers are set to \"notice\": to read them, \"add "+jid+"\" or \"set strangers accept\".", true)
		return false
	case strangersIgnore:
		b.log.Debug("message from a stranger ignored", "from", bare)
		return false
	}
	return true
}
