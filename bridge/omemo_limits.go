package bridge

import (
	"fmt"
	"strings"
)

// Bounds of the OMEMO sessions xircd keeps. Anyone can start a session
// with a pre-key message from a device id of their choosing, and each
// session is kept in memory and in state_dir: a flood of invented devices
// would grow both without end. Past a bound, a pre-key message that would
// start one more session is refused (shown as a notice, xircd's pre-keys
// untouched); the sessions already there keep working.
const (
	maxOMEMOSessionsPerContact = 32
	maxOMEMOSessions           = 1000
)

// roomForSession tells why xircd starts no new session with a device of
// jid (a bare JID), nil when it may.
func (st *omemoState) roomForSession(jid string) error {
	if len(st.sessions) >= maxOMEMOSessions {
		return fmt.Errorf("xircd keeps at most %d OMEMO sessions and has them: it starts no new one", maxOMEMOSessions)
	}
	n := 0
	for key := range st.sessions {
		if strings.HasPrefix(key, jid+" ") {
			n++
		}
	}
	if n >= maxOMEMOSessionsPerContact {
		return fmt.Errorf("xircd keeps at most %d OMEMO sessions per contact and has them with %s: it starts none with another device", maxOMEMOSessionsPerContact, jid)
	}
	return nil
}
