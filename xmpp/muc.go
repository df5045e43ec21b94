package xmpp

import "fmt"

// InviteToRoom sends a XEP-0045 mediated invitation: the room (bare JID)
// forwards it to the invitee, adding the password if the room has one.
func (s *Session) InviteToRoom(room, to, reason string) error {
	room, to = bareJID(room), bareJID(to)
	if !validJID(room) || !validJID(to) {
		return fmt.Errorf("xmpp: invalid room %q or invitee %q", room, to)
	}
	r := ""
	if reason != "" {
		r = "<reason>" + escapeText(reason) + "</reason>"
	}
	return s.send(fmt.Sprintf("<message to='%s' id='%s'><x xmlns='%s'><invite to='%s'>%s</invite></x></message>",
		escapeAttr(room), newID(), nsMUCUser, escapeAttr(to), r))
}
