package bridge

import (
	"context"
	"time"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// XMPP is the XMPP session the bridge drives; *xmpp.Session satisfies it and
// tests use a fake. Every request returns at once, with xmpp.ErrNotConnected
// while the stream is down.
//
// A request whose answer matters returns an id, and its answer arrives
// later through NextEvent as exactly one event carrying that id (xmpp.RequestDone,
// ArchivePage, DiscoInfo, RoomList or BookmarkList), also when the server refuses,
// ctx ends first or the stream is lost. Run handles it like any other
// event (requests.go). A message the server bounces comes back as a
// Message of type "error" with the id SendMessage returned.
type XMPP interface {
	// EventsReady holds a token while events wait, and from the session's
	// end on; NextEvent takes the oldest, one per token: everything that
	// happens on the session, in order. Its ok is false once the session
	// has ended (after Close) and every event was taken.
	EventsReady() <-chan struct{}
	NextEvent() (ev xmpp.Event, ok bool)
	// NotifyEvents has wake called each time EventsReady gets a token
	// for a new event or the end, from then on; wake must not block.
	NotifyEvents(wake func())
	// SendMessage sends a message and returns the stanza id it used (also
	// used as its XEP-0359 origin-id): m.ID, or a new one.
	SendMessage(m xmpp.OutMessage) (id string, err error)
	// NewID returns a new stanza id, for a message whose id must be known
	// before it is sent (its echo on IRC carries it).
	NewID() string
	// SetPresence sets the user's own presence: show is "" (available),
	// "away", "xa", "dnd" or "chat". The session remembers it (even when the
	// call fails while the stream is down) and sends it again after every
	// reconnect.
	SetPresence(show, status string) error
	// RosterSet adds or updates a roster item (name, groups); RosterRemove
	// removes it (which also cancels subscriptions both ways). Answer:
	// RequestDone.
	RosterSet(item xmpp.RosterItem) (id string, err error)
	RosterRemove(jid string) (id string, err error)
	// Subscribe asks jid for its presence; Approve and Deny answer a request
	// of jid's; Unsubscribe stops receiving jid's presence.
	Subscribe(jid string) error
	Approve(jid string) error
	Deny(jid string) error
	Unsubscribe(jid string) error
	// QueryArchive asks for one page of the account's archive (XEP-0313).
	// Answer: ArchivePage.
	QueryArchive(ctx context.Context, q xmpp.ArchiveQuery) (id string, err error)
	// DiscoFeatures asks jid ("" for the account) what it offers
	// (XEP-0030). Answer: DiscoInfo.
	DiscoFeatures(ctx context.Context, jid string) (id string, err error)

	// JoinRoom joins a group chat as nick (historyMaxStanzas < 0: as much
	// history as the room gives; since: only after that time); the room
	// answers with presences. A JoinRoom to a room already joined with
	// another nick is a nick change. LeaveRoom leaves it.
	JoinRoom(room, nick, password string, historyMaxStanzas int, since time.Time) error
	LeaveRoom(room, status string) error
	// InviteToRoom sends a mediated invitation through the room; a refusal
	// comes back as an error message from the room.
	InviteToRoom(room, to, reason string) error
	// SetRole changes an occupant's role ("none" kicks it), and
	// AcceptRoomDefaults opens a room the user just created. Answer:
	// RequestDone.
	SetRole(ctx context.Context, room, nick, role, reason string) (id string, err error)
	AcceptRoomDefaults(ctx context.Context, room string) (id string, err error)
	// RoomItems asks a conference service for its public rooms. Answer:
	// RoomList.
	RoomItems(ctx context.Context, service string) (id string, err error)
	// Bookmarks asks for the account's bookmarked rooms (answer:
	// BookmarkList); SetBookmark and RemoveBookmark change them (answer:
	// RequestDone).
	Bookmarks(ctx context.Context) (id string, err error)
	SetBookmark(ctx context.Context, bm xmpp.Bookmark) (id string, err error)
	RemoveBookmark(ctx context.Context, room string) (id string, err error)

	// DisplayedMarkers asks for the account's read markers of every chat
	// (XEP-0490; answer: DisplayedList); PublishDisplayed publishes one
	// (answer: RequestDone). Other clients' markers arrive as Displayed.
	DisplayedMarkers(ctx context.Context) (id string, err error)
	PublishDisplayed(ctx context.Context, chat, stanzaID, by string) (id string, err error)
	// SendDisplayed sends a contact a XEP-0333 displayed chat marker for
	// the message with the given id.
	SendDisplayed(to, id string) error

	// SendRetraction retracts the user's message id sent to to (XEP-0424;
	// typ "chat" or "groupchat"); ModerateMessage asks a room to retract
	// anyone's message (XEP-0425; answer: RequestDone).
	SendRetraction(to, typ, id string) error
	ModerateMessage(ctx context.Context, room, stanzaID, reason string) (id string, err error)
	// SendReceipt confirms the delivery of a contact's message id
	// (XEP-0184).
	SendReceipt(to, id string) error
	// GetBlockList asks for the account's block list (XEP-0191; answer:
	// BlockList); Block and Unblock change it (answer: RequestDone).
	// Changes made elsewhere arrive as BlockPush.
	GetBlockList(ctx context.Context) (id string, err error)
	Block(ctx context.Context, jid string) (id string, err error)
	Unblock(ctx context.Context, jid string) (id string, err error)
	// OMEMODevices asks for the OMEMO device list of jid ("" for the
	// account; answer: OMEMODeviceList); PublishOMEMODevices replaces the
	// account's and PublishOMEMOBundle publishes a device's bundle
	// (answer: RequestDone).
	OMEMODevices(ctx context.Context, jid string) (id string, err error)
	PublishOMEMODevices(ctx context.Context, ids []uint32) (id string, err error)
	PublishOMEMOBundle(ctx context.Context, b omemo.Bundle) (id string, err error)
	// OMEMOBundle asks for the bundle of one of jid's OMEMO devices
	// (answer: OMEMOBundle; xmpp.ErrNoOMEMOBundle when it has none).
	// Device lists are also pushed, as OMEMODeviceList without id.
	OMEMOBundle(ctx context.Context, jid string, device uint32) (id string, err error)

	// JID is the bare JID of the account.
	JID() string
	// Close ends the session; it returns within a bounded time.
	Close() error
}
