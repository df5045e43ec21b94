package bridge

import (
	"fmt"
	"strings"

	"xircd/xmpp"
)

// Bounds of the OMEMO sessions xircd keeps. Anyone can start a session
// with a pre-key message from a device id of their choosing, and each
// session is kept in memory and in state_dir: a flood of invented devices
// would grow both without end. Past a bound, a pre-key message that would
// start one more session is refused (shown as a notice, xircd's pre-keys
// untouched); the sessions already there keep working. Strangers (JIDs
// outside the roster, room occupants included) share a part of the
// sessions, so that they cannot take the place of contacts' new devices.
const (
	maxOMEMOSessionsPerContact = 32
	maxOMEMOSessions           = 1000
	maxOMEMOStrangerSessions   = 500
)

// omemoUnwanted reports whether m is a stranger's chat message the
// strangers setting does not show: it is not decrypted, as starting a
// session and using a pre-key for it would be for nothing.
func (b *Bridge) omemoUnwanted(m *xmpp.Message) bool {
	return m.Type != "groupchat" && b.roomByJID(m.From) == nil && b.cfg.Strangers != strangersAccept && b.omemoStranger(m.From)
}

// omemoStranger reports whether jid is outside the roster and not the
// user's own account.
func (b *Bridge) omemoStranger(jid string) bool {
	c := b.contacts.get(xmpp.BareJID(jid))
	return (c == nil || !c.inRoster) && !b.isOwnJID(jid)
}

// admitOMEMOSession tells why xircd starts no new session with a device
// of jid (a bare JID), nil when it may.
func (b *Bridge) admitOMEMOSession(jid string) error {
	sessions := b.omemo.sessions
	if len(sessions) >= maxOMEMOSessions {
		return fmt.Errorf("xircd keeps at most %d OMEMO sessions and has them: it starts no new one", maxOMEMOSessions)
	}
	stranger := b.omemoStranger(jid)
	ofJID, ofStrangers := 0, 0
	for key := range sessions {
		owner, _, _ := strings.Cut(key, " ")
		if owner == jid {
			ofJID++
		}
		if stranger && b.omemoStranger(owner) {
			ofStrangers++
		}
	}
	if ofJID >= maxOMEMOSessionsPerContact {
		return fmt.Errorf("xircd keeps at most %d OMEMO sessions per contact and has them with %s: it starts none with another device", maxOMEMOSessionsPerContact, jid)
	}
	if ofStrangers >= maxOMEMOStrangerSessions {
		return fmt.Errorf("xircd keeps at most %d OMEMO sessions with people outside your contacts and has them: it starts no new one", maxOMEMOStrangerSessions)
	}
	return nil
}
