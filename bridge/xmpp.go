package bridge

import "xircd/xmpp"

// XMPP is the XMPP session the bridge drives; *xmpp.Session satisfies it and
// tests use a fake. Every request is asynchronous: it is queued to the
// session's writer and returns at once, with xmpp.ErrNotConnected while the
// stream is down. Failures reported by the server arrive later as events
// (a Message of type "error" carrying the id, or xmpp.RequestFailed).
type XMPP interface {
	// Events delivers everything that happens on the session, in order. The
	// channel is closed after Close.
	Events() <-chan xmpp.Event
	// SendMessage sends a message and returns the stanza id it used (also
	// used as its XEP-0359 origin-id).
	SendMessage(m xmpp.OutMessage) (id string, err error)
	// SetPresence sets the user's own presence: show is "" (available),
	// "away", "xa", "dnd" or "chat". The session remembers it (even when the
	// call fails while the stream is down) and sends it again after every
	// reconnect.
	SetPresence(show, status string) error
	// RosterSet adds or updates a roster item (name, groups); RosterRemove
	// removes it (which also cancels subscriptions both ways).
	RosterSet(item xmpp.RosterItem) (id string, err error)
	RosterRemove(jid string) (id string, err error)
	// Subscribe asks jid for its presence; Approve and Deny answer a request
	// of jid's; Unsubscribe stops receiving jid's presence.
	Subscribe(jid string) error
	Approve(jid string) error
	Deny(jid string) error
	Unsubscribe(jid string) error
	// JID is the bare JID of the account.
	JID() string
	// Close ends the session; it returns within a bounded time.
	Close() error
}
