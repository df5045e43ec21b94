package bridge

import (
	"slices"
	"sync/atomic"

	"gopkg.in/irc.v4"

	"xircd/ircd"
)

// nickSpace is the gateway's one IRC nick namespace, and the only place
// that decides whether a nick is free. Its holders:
//   - the service nick, reserved: nobody else ever gets it;
//   - the user's nick, shared by every attached client (ircd asks for it,
//     session.Nick: this is its only copy): the user always
//     gets the nick they ask for, whoever held it is moved aside
//     (Bridge.takeUserNick), and a newcomer whose name it is gets a suffix;
//   - contacts (roster contacts and strangers who wrote) and the room
//     occupants that are neither the user nor a contact, one nick each.
//
// Nicks compare under ircd.Casefold.
type nickSpace struct {
	service string // the service nick as configured
	// user is the user's nick, "" until a client attaches. Only the Run
	// goroutine changes it (takeUserNick); ircd's connections read it.
	user atomic.Pointer[string]
	// contacts and occupants hold the other nicks. contacts are sorted
	// by nick under ircd.Casefold (ircd.CompareFolded) and searched by
	// halves: a slice of pointers takes a fraction of a map's room and no
	// folded copies of nicks, for what every user keeps for each contact.
	// occupants are by folded nick; a user in no room has no map.
	contacts  []*contact
	occupants map[string]*occupant
}

// nickHolder is a contact or an occupant: someone other than the user and
// the service who holds a nick.
type nickHolder interface{ holdsNick() }

func (*contact) holdsNick()  {}
func (*occupant) holdsNick() {}

func newNickSpace(service string) *nickSpace {
	return &nickSpace{service: service}
}

// userNick is the user's nick, "" until a client has attached.
func (ns *nickSpace) userNick() string {
	if p := ns.user.Load(); p != nil {
		return *p
	}
	return ""
}

// isService reports whether nick is the service nick.
func (ns *nickSpace) isService(nick string) bool {
	return ircd.Casefold(nick) == ircd.Casefold(ns.service)
}

// isUser reports whether nick is the user's.
func (ns *nickSpace) isUser(nick string) bool {
	user := ns.userNick()
	return user != "" && ircd.Casefold(nick) == ircd.Casefold(user)
}

// holder returns who other than the user and the service holds nick, or nil.
func (ns *nickSpace) holder(nick string) nickHolder {
	if c := ns.contact(nick); c != nil {
		return c
	}
	if o := ns.occupant(nick); o != nil {
		return o
	}
	return nil
}

// contact returns the contact holding nick, or nil.
func (ns *nickSpace) contact(nick string) *contact {
	if i, ok := ns.contactAt(nick); ok {
		return ns.contacts[i]
	}
	return nil
}

// contactAt returns where the contact holding nick is in contacts, or
// where one would go.
func (ns *nickSpace) contactAt(nick string) (int, bool) {
	return slices.BinarySearchFunc(ns.contacts, nick, func(c *contact, nick string) int { return ircd.CompareFolded(c.nick, nick) })
}

// occupant returns the occupant holding nick, or nil.
func (ns *nickSpace) occupant(nick string) *occupant {
	if ns.occupants == nil {
		return nil // and no folded copy of nick
	}
	return ns.occupants[ircd.Casefold(nick)]
}

// free reports whether h may take nick: it is not the service's, not the
// user's, and held by nobody but h. h may be nil.
func (ns *nickSpace) free(nick string, h nickHolder) bool {
	if ns.isService(nick) || ns.isUser(nick) {
		return false
	}
	held := ns.holder(nick)
	return held == nil || held == h
}

// unique returns the first of base, base_2, base_3… (see uniqueNick) that
// h may take. base must be a valid nick.
func (ns *nickSpace) unique(base string, h nickHolder) string {
	return uniqueNick(base, func(folded string) bool { return !ns.free(folded, h) })
}

// hold moves h from the nick old ("" for none) to nick; a contact's nick
// becomes nick (contacts are found by it). Callers check with free first.
func (ns *nickSpace) hold(h nickHolder, old, nick string) {
	ns.release(h, old)
	switch h := h.(type) {
	case *contact:
		if ns.occupants != nil {
			delete(ns.occupants, ircd.Casefold(nick))
		}
		h.nick = nick
		if i, ok := ns.contactAt(nick); ok {
			ns.contacts[i] = h
		} else {
			ns.contacts = slices.Insert(ns.contacts, i, h)
		}
	case *occupant:
		if i, ok := ns.contactAt(nick); ok {
			ns.contacts = slices.Delete(ns.contacts, i, i+1)
		}
		if ns.occupants == nil {
			ns.occupants = make(map[string]*occupant)
		}
		ns.occupants[ircd.Casefold(nick)] = h
	}
}

// release frees nick if h holds it.
func (ns *nickSpace) release(h nickHolder, nick string) {
	if nick == "" {
		return
	}
	switch h := h.(type) {
	case *contact:
		if i, ok := ns.contactAt(nick); ok && ns.contacts[i] == h {
			ns.contacts = slices.Delete(ns.contacts, i, i+1)
		}
	case *occupant:
		f := ircd.Casefold(nick)
		if ns.occupants[f] == h {
			delete(ns.occupants, f)
		}
	}
}

// takeUserNick makes nick the user's. A contact or occupant holding it is
// moved to the first free suffix of it; attached clients see it change
// nick (so callers take the nick before any client is shown as the user
// with it), and a contact's new nick is saved. It returns the notices that
// tell the user why.
func (b *Bridge) takeUserNick(nick string) []string {
	b.nicks.user.Store(&nick)
	why := ": " + nick + " is your own nick."
	switch h := b.nicks.holder(nick).(type) {
	case *contact:
		b.setNick(h, b.nicks.unique(h.nick, h))
		return []string{h.jid() + " is now " + h.nick + why}
	case *occupant:
		r := h.room
		old := b.occupantPrefix(r, h)
		b.assignNick(h)
		if r.shown {
			b.sessions.send(&irc.Message{Prefix: old, Command: "NICK", Params: []string{h.irc}})
		}
		return []string{oneLine(h.nick) + " in " + r.channel + " is now " + h.irc + why}
	}
	return nil
}
