package xmpp

import "time"

// Event is something that happened on the XMPP session. Events are delivered
// in the order the server sent the stanzas, by Session.NextEvent.
type Event interface{ isEvent() }

// Connected: the session is online. JID is the full JID the server bound.
// Every Connected after the first follows a Disconnected.
//
// A fresh session (Resumed false) has requested the roster, then sent the
// initial presence: the receiver should expect a fresh Roster next, then
// contacts' presences, and must join its rooms again.
//
// A resumed one (Resumed true, XEP-0198) carries on the stream that was
// lost: the server kept the roster, presences and joined rooms, sends what
// it had not delivered and gets what it had not received; nothing needs to
// be loaded or joined again.
type Connected struct {
	JID       string
	Resumed   bool
	Mechanism string // the SASL mechanism of the login, e.g. "SCRAM-SHA-256"
}

// Unconfirmed: the stream was lost before the server confirmed that it
// received these messages (SendMessage returned no error): they may or may
// not have been delivered. It comes before the Disconnected. Only without
// stream management (XEP-0198): with it, such messages are sent again on
// the next stream, with their ids, instead.
type Unconfirmed struct {
	Messages []OutMessage
}

// Disconnected: the stream is gone. Err says why (nil after Close). When the
// supervisor will retry, RetryIn is the delay before the next attempt.
type Disconnected struct {
	Err     error
	RetryIn time.Duration
}

// RosterItem is one contact of the user's roster (RFC 6121).
type RosterItem struct {
	JID          string // bare JID
	Name         string
	Groups       []string
	Subscription string // "none" | "to" | "from" | "both" | "remove" (pushes only)
	Ask          string // "subscribe" when a request of ours is pending
}

// Roster is the whole roster, sent after every Connected.
type Roster struct {
	Items []RosterItem
}

// RosterPush is a change to one roster item pushed by the server (already
// acknowledged). Item.Subscription is "remove" when the contact was removed.
type RosterPush struct {
	Item RosterItem
}

// Presence is a presence stanza of type available, unavailable or error
// (subscription types arrive as Subscription). From is a full JID.
type Presence struct {
	From     string
	Type     string // "" (available) | "unavailable" | "error"
	Show     string // "" | "chat" | "away" | "xa" | "dnd"
	Status   string
	Priority int
	Error    *StanzaError // Type == "error"
	MUC      *MUCPresence // non-nil when the presence carries XEP-0045 muc#user data
	Client   string       // XEP-0115 caps node, when given
}

// MUCPresence is the muc#user payload of an occupant's presence.
type MUCPresence struct {
	Affiliation string // owner | admin | member | outcast | none
	Role        string // moderator | participant | visitor | none
	JID         string // occupant's real JID, when the room reveals it
	Nick        string // new nick on a nick change (status 303)
	Codes       []int  // status codes: 110 self, 201 created, 303 nick change, 307 kicked, 301 banned, ...
	Reason      string
	Actor       string
}

// Subscription is a subscription-related presence from a contact: Type is
// "subscribe" (a request: answer with Approve or Deny), "subscribed",
// "unsubscribe" or "unsubscribed". From is a bare JID.
type Subscription struct {
	From   string
	Type   string
	Status string
	Nick   string // XEP-0172 nick, when given
}

// CarbonDir tells whether a message is a XEP-0280 carbon and which way.
type CarbonDir int

const (
	NotCarbon      CarbonDir = iota
	CarbonSent               // the user sent it from another client of the account
	CarbonReceived           // a copy of a message another client of ours received
)

// Message is a message stanza, carbons already unwrapped.
type Message struct {
	ID         string // the stanza's id attribute
	OriginID   string // XEP-0359 origin-id
	StanzaID   string // XEP-0359 stanza-id: by the room for groupchat, else by the user's server
	From       string
	To         string
	Type       string // "chat" | "groupchat" | "normal" | "headline" | "error"
	Body       string // as received, after the body rule documented in xmpp's package doc
	Subject    string
	HasSubject bool // a <subject/> element was present (even empty: MUC subject clear)
	Thread     string
	Delay      time.Time // XEP-0203 stamp in UTC; zero when the message is live
	Carbon     CarbonDir
	ChatState  string       // XEP-0085: "" | active | composing | paused | inactive | gone
	Error      *StanzaError // Type == "error"
	Invite     *MUCInvite   // XEP-0045 mediated or XEP-0249 direct invitation
	Markable   bool         // XEP-0333: the sender asks to be told when it is displayed
	Reply      *Reply       // XEP-0461: the message answers another
	ReplyText  string       // Body without the reply's XEP-0428 fallback quote (Reply != nil)
	Reactions  *Reactions   // XEP-0444: the sender's reactions to another message
	Replace    string       // XEP-0308: the id of the message this one corrects
	OOB        []OOB        // XEP-0066 links (files), at most a few
	// Retract: the message retracts an earlier one (XEP-0424, XEP-0425);
	// its body is only a fallback.
	Retract *Retraction
	// Encryption names the end-to-end encryption of the message ("OMEMO",
	// "OpenPGP", ...; encryption.go), "" when it is not encrypted; its body
	// is then only a fallback.
	Encryption string
	// OMEMO is the message's OMEMO 0.3 <encrypted/> element (Encryption
	// "OMEMO"), for the caller to decrypt (omemo.UnmarshalEncrypted).
	OMEMO []byte
	// ReceiptRequest: the sender asks for a XEP-0184 receipt; ReceiptFor is
	// the id of the message a receipt confirms.
	ReceiptRequest bool
	ReceiptFor     string
}

// MUCInvite is an invitation to a room.
type MUCInvite struct {
	Room     string
	From     string
	Reason   string
	Password string
}

// StanzaError is the <error/> of an error stanza.
type StanzaError struct {
	Type      string // cancel | continue | modify | auth | wait
	Condition string // e.g. "service-unavailable", "item-not-found"
	Text      string
}

func (e *StanzaError) Error() string {
	if e.Text != "" {
		return e.Condition + ": " + e.Text
	}
	return e.Condition
}

func (Connected) isEvent()    {}
func (Disconnected) isEvent() {}
func (Unconfirmed) isEvent()  {}
func (Roster) isEvent()       {}
func (RosterPush) isEvent()   {}
func (Presence) isEvent()     {}
func (Subscription) isEvent() {}
func (Message) isEvent()      {}

// Requests whose answer comes later (RosterSet, RosterRemove,
// QueryArchive, DiscoFeatures, RoomItems, SetRole, AcceptRoomDefaults,
// Bookmarks, SetBookmark, RemoveBookmark) return an id at once, or an error when they
// could not be sent. Exactly one of the events below carrying that id
// follows: the answer, or the failure: refused by the server (Err is a
// *StanzaError), ctx ended first (ctx.Err()), or the stream was lost
// (ErrNotConnected, delivered before the Disconnected).

// RequestDone is the answer to a request that yields nothing but success
// or failure. Op names the request: "roster-set", "roster-remove",
// "set-role", "accept-room-defaults", "set-bookmark", "remove-bookmark",
// and "roster-get" for the roster the session asks for itself after
// connecting (only when it fails: success is the Roster).
type RequestDone struct {
	ID  string
	Op  string
	Err error // nil on success
}

// ArchivePage is the answer to QueryArchive: one page of archived
// messages, oldest first. Each Message has StanzaID set to its archive id
// and Delay to its archive time.
type ArchivePage struct {
	ID       string
	Messages []Message
	Complete bool   // the server says there is nothing more
	First    string // archive id of the first message, for the previous page's Before
	Last     string // archive id of the last message, for the next page's After
	Err      error
}

// DiscoInfo is the answer to DiscoFeatures: the features JID offers
// (XEP-0030).
type DiscoInfo struct {
	ID       string
	JID      string
	Features []string
	Err      error
}

// RoomList is the answer to RoomItems: the public rooms of Service.
type RoomList struct {
	ID      string
	Service string
	Rooms   []RoomItem
	Err     error
}

// BookmarkList is the answer to Bookmarks.
type BookmarkList struct {
	ID        string
	Bookmarks []Bookmark
	Err       error
}

func (RequestDone) isEvent()  {}
func (ArchivePage) isEvent()  {}
func (RoomList) isEvent()     {}
func (BookmarkList) isEvent() {}
func (DiscoInfo) isEvent()    {}

// OutMessage is a message the user sends.
type OutMessage struct {
	ID         string // stanza id and XEP-0359 origin-id; "" for a new one (see NewID)
	To         string // bare or full JID
	Type       string // "chat" (default) | "groupchat" | "normal"
	Body       string // may be empty for a pure chat-state notification
	ChatState  string // XEP-0085 state to include, "" for none
	Subject    string // groupchat subject change when HasSubject
	HasSubject bool
	Reply      *OutReply  // XEP-0461 reply, with its fallback quote
	Reactions  *Reactions // XEP-0444: the user's full set of reactions to a message
	Replace    string     // XEP-0308: the id of the message this one corrects
	OOBURL     string     // an XEP-0066 link to include, "" for none
	// OMEMO is an OMEMO 0.3 <encrypted/> element (omemo.MarshalEncrypted)
	// holding Body, nil for none. The stanza then carries OMEMOFallback as
	// its body (Body stays the gateway's), the XEP-0380 <encryption/> and
	// a XEP-0334 <store/> hint, and no reply quote.
	OMEMO []byte
}
