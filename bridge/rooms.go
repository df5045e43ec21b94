package bridge

import (
	"slices"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Group chats (MUC, XEP-0045) as '#' channels.
//
// A room is a channel named "#" + its bare JID, or "#" + its localpart when
// the room lives on Config.MUCService. The room is joined once for the
// gateway: every attached client is in it, PART from any client leaves it.
//
// Occupant nicks share the server's one nick namespace with the user,
// the service nick and the contacts:
//   - the user's own occupant is the user's IRC nick, whatever the room
//     calls it;
//   - an occupant whose real JID the room reveals and who is a roster
//     contact is that contact's nick;
//   - any other occupant gets its room nick made valid (as for contacts),
//     with "_2", "_3"… when that nick is already held by anyone (contact,
//     user, service, an occupant of any room). Contacts cannot take a nick
//     an occupant holds while it is there; the user can, and the occupant
//     moves to a suffix (see nickSpace).

// Limits and timings of group chats.
const (
	maxRooms       = 100 // rooms joined at once, unless Config.MaxRooms says otherwise
	maxOccupants   = 2000
	maxRoomSent    = 64 // ids of our own messages awaiting reflection, per room
	maxRoomRecent  = 64 // recent messages remembered to drop history repeats after a rejoin
	maxRoomPending = 50 // messages queued while XMPP is down, per room
	maxJoinTries   = 5  // nick conflicts tolerated before giving up
)

// room is one group chat the user is in or joining.
type room struct {
	jid      string // bare JID as the user typed it (case kept)
	key      string // xmpp.BareJID(jid)
	channel  string // IRC channel name
	password string
	nick     string // our nick in the room (wanted, then as the room says)
	tries    int    // join attempts with another nick after a conflict

	joining bool // presence sent, our own occupant presence not yet back
	shown   bool // clients were sent the JOIN
	// inHistory: between our own presence and the subject, when the room
	// replays its history.
	inHistory bool
	subjectOK bool // the subject arrived since the last (re)join

	occupants map[string]*occupant // by room nick
	subject   string
	subjectBy string
	subjectAt time.Time

	sent    *bounded[struct{}] // ids of our messages not yet reflected
	recent  *bounded[struct{}] // keys of recently shown messages (see recentKey)
	lastAt  time.Time          // time of the last message shown
	pending []xmpp.OutMessage  // messages the user sent while XMPP was down
	// redacts are REDACTs of the user's messages here that wait for
	// their reflection (see awaitReflection).
	redacts []heldRedact
	// waiters are the JOIN commands answered once the room lets us in.
	waiters []*heldCommand
}

// out is where a message about r for s goes: into the answer of the JOIN
// s is waiting for, else to the client.
func (r *room) out(s *session) func(*irc.Message) {
	for _, h := range r.waiters {
		if h.s == s && h.waiting > 0 {
			return h.reply
		}
	}
	return s.send
}

// answerWaiters answers the JOIN commands waiting for r.
func (b *Bridge) answerWaiters(r *room) {
	for _, h := range r.waiters {
		b.release(h)
	}
	r.waiters = nil
}

// topic is the room's subject on one line, as IRC shows it.
func (r *room) topic() string { return strings.Join(strings.Fields(cleanText(r.subject)), " ") }

// occupant is someone in a room.
type occupant struct {
	nick        string // room nick
	irc         string // IRC nick, for occupants that are not the user or a contact
	jid         string // real bare JID when the room reveals it
	affiliation string
	role        string
	self        bool
	stale       bool  // not seen again since a rejoin
	room        *room // the room it is in
}

// roomSet is the group chat state of the bridge, owned by Run.
type roomSet struct {
	byKey map[string]*room // by xmpp.BareJID
	// autojoined: the bookmarks were fetched once; later connections
	// rejoin the rooms the user is in instead.
	autojoined bool
}

func (rs *roomSet) init() {
	if rs.byKey == nil {
		rs.byKey = make(map[string]*room)
	}
}

// isRoomChannel reports whether name is a group chat channel (not the
// control channel).
func (b *Bridge) isRoomChannel(name string) bool {
	return len(name) > 1 && name[0] == '#' && ircd.Casefold(name) != ircd.Casefold(b.cfg.ControlChannel)
}

// roomJIDForChannel resolves a channel name to a room's bare JID.
func (b *Bridge) roomJIDForChannel(ch string) (string, error) {
	name := strings.TrimPrefix(ch, "#")
	if !strings.Contains(name, "@") {
		if b.cfg.MUCService == "" {
			return "", &ircd.Error{Code: irc.ERR_NOSUCHCHANNEL, Params: []string{ch, "No default conference service (xmpp.muc_service) is configured: use #room@conference.example.org"}}
		}
		name += "@" + b.cfg.MUCService
	}
	if !xmpp.ValidJID(name) || strings.Contains(name, "/") || strings.ContainsAny(name, ",\a") {
		return "", &ircd.Error{Code: irc.ERR_NOSUCHCHANNEL, Params: []string{ch, "Not a valid room address"}}
	}
	local, _ := splitJID(name)
	if local == "" {
		return "", &ircd.Error{Code: irc.ERR_NOSUCHCHANNEL, Params: []string{ch, "Not a valid room address"}}
	}
	return name, nil
}

// channelForRoom is the channel name of a room joined without a typed
// name (bookmarks): short on the default service.
func (b *Bridge) channelForRoom(jid string) string {
	local, domain := splitJID(jid)
	if b.cfg.MUCService != "" && strings.EqualFold(domain, b.cfg.MUCService) {
		return "#" + local
	}
	return "#" + jid
}

// roomByChannel finds the room a channel name refers to, nil when none.
func (b *Bridge) roomByChannel(ch string) *room {
	b.rooms.init()
	f := ircd.Casefold(ch)
	for _, r := range b.rooms.byKey {
		if ircd.Casefold(r.channel) == f {
			return r
		}
	}
	if jid, err := b.roomJIDForChannel(ch); err == nil {
		return b.rooms.byKey[xmpp.BareJID(jid)]
	}
	return nil
}

// sortedRooms returns the rooms ordered by channel name.
func (b *Bridge) sortedRooms() []*room {
	b.rooms.init()
	rs := make([]*room, 0, len(b.rooms.byKey))
	for _, r := range b.rooms.byKey {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b *room) int { return ircd.CompareFolded(a.channel, b.channel) })
	return rs
}

// occupantByNick finds a non-contact occupant by IRC nick, with its room.
func (b *Bridge) occupantByNick(nick string) (*occupant, *room) {
	o := b.nicks.occupant(nick)
	if o == nil {
		return nil, nil
	}
	return o, o.room
}

// occupantContact is the roster contact an occupant is, if any.
func (b *Bridge) occupantContact(o *occupant) *contact {
	if o.jid == "" || o.self {
		return nil
	}
	if c := b.contacts.get(xmpp.BareJID(o.jid)); c != nil && c.inRoster {
		return c
	}
	return nil
}

// contactInShownRoom reports whether c is an occupant of a room the
// clients have joined.
func (b *Bridge) contactInShownRoom(c *contact) bool {
	for _, r := range b.rooms.byKey {
		if !r.shown {
			continue
		}
		for _, o := range r.occupants {
			if !o.self && b.occupantContact(o) == c {
				return true
			}
		}
	}
	return false
}

// ircNick is the occupant's IRC nick.
func (b *Bridge) ircNick(o *occupant) string {
	if o.self {
		return b.userNick()
	}
	if c := b.occupantContact(o); c != nil {
		return c.nick
	}
	if o.irc == "" {
		// A contact who left the roster while in the room.
		b.assignNick(o)
	}
	return o.irc
}

// occupantPrefix is the occupant's hostmask: a contact's own, else
// nick!room@conference.service.
func (b *Bridge) occupantPrefix(r *room, o *occupant) *irc.Prefix {
	if o.self {
		return b.ownPrefix()
	}
	if c := b.occupantContact(o); c != nil {
		return c.prefix()
	}
	local, domain := splitJID(r.jid)
	return &irc.Prefix{Name: b.ircNick(o), User: maskPart(local), Host: maskPart(domain)}
}

// occupantRealname is an occupant's real name as s shows it: the user's
// own, a contact's, else the room nick.
func (b *Bridge) occupantRealname(s *session, o *occupant) string {
	if o.self {
		return b.userRealname(s)
	}
	if c := b.occupantContact(o); c != nil {
		return c.realname()
	}
	return cleanText(o.nick)
}

// occupantAccount is the account of the room nick's occupant: its real
// bare JID when the room reveals it, else "".
func (b *Bridge) occupantAccount(r *room, nick string) string {
	if o := r.occupants[nick]; o != nil && !o.self {
		return o.jid
	}
	return ""
}

// strangerPrefix is the hostmask for a room nick that is not (or no
// longer) an occupant, e.g. the author of a history message. Its nick is
// never one another user holds, so it cannot be mistaken for them.
func (b *Bridge) strangerPrefix(r *room, nick string) *irc.Prefix {
	if o := r.occupants[nick]; o != nil {
		return b.occupantPrefix(r, o)
	}
	base := sanitizeNick(nick)
	if base == "" {
		base = "occupant"
	}
	name := b.nicks.unique(base, nil)
	local, domain := splitJID(r.jid)
	return &irc.Prefix{Name: name, User: maskPart(local), Host: maskPart(domain)}
}

// assignNick gives a non-contact occupant an IRC nick and registers it.
func (b *Bridge) assignNick(o *occupant) {
	b.releaseNick(o)
	if o.self || b.occupantContact(o) != nil {
		return
	}
	base := sanitizeNick(o.nick)
	if base == "" {
		base = "occupant"
	}
	o.irc = b.nicks.unique(base, o)
	b.nicks.hold(o, "", o.irc)
}

// releaseNick frees the occupant's IRC nick.
func (b *Bridge) releaseNick(o *occupant) {
	b.nicks.release(o, o.irc)
	o.irc = ""
}

// prefixes is the channel membership prefix of o: all of them with
// multi-prefix, else the highest.
func prefixes(o *occupant, multi bool) string {
	var p string
	switch o.affiliation {
	case "owner":
		p += "~"
	case "admin":
		p += "&"
	}
	switch o.role {
	case "moderator":
		p += "@"
	case "participant":
		p += "+"
	}
	if !multi && len(p) > 1 {
		p = p[:1]
	}
	return p
}

// The channel membership prefixes (ISUPPORT PREFIX): modes and their
// symbols, in rank order.
const (
	prefixModes   = "qaohv"
	prefixSymbols = "~&@%+"
)

// modeLetter is the channel mode of a membership prefix symbol.
func modeLetter(sym byte) string {
	i := strings.IndexByte(prefixSymbols, sym)
	return prefixModes[i : i+1]
}

// modeChanges returns the MODE changes ("+o", "-v", …) from old to new
// prefixes.
func modeChanges(old, now string) []string {
	var out []string
	for _, sym := range []byte("~&@+") {
		had, has := strings.IndexByte(old, sym) >= 0, strings.IndexByte(now, sym) >= 0
		switch {
		case has && !had:
			out = append(out, "+"+modeLetter(sym))
		case had && !has:
			out = append(out, "-"+modeLetter(sym))
		}
	}
	return out
}

// joinRooms shows a newly attached client the rooms the gateway is in.
func (b *Bridge) joinRooms(s *session) {
	for _, r := range b.sortedRooms() {
		if r.shown {
			b.showChannel(s, b.channelOf(r), s.send)
		}
	}
}

// sortedOccupants returns r's occupants ordered by IRC nick.
func (b *Bridge) sortedOccupants(r *room) []*occupant {
	os := make([]*occupant, 0, len(r.occupants))
	for _, o := range r.occupants {
		os = append(os, o)
	}
	slices.SortFunc(os, func(x, y *occupant) int { return ircd.CompareFolded(b.ircNick(x), b.ircNick(y)) })
	return os
}

// roomNumeric sends a numeric about r to every client.
func (b *Bridge) roomNumeric(code string, r *room, text string) {
	for _, s := range b.sessions {
		r.out(s)(&irc.Message{Prefix: b.serverPrefix(), Command: code, Params: []string{s.d.Nick(), r.channel, text}})
	}
}

// roomNotice is a NOTICE from the service in r's channel.
func (b *Bridge) roomNotice(r *room, text string) {
	if !r.shown {
		b.announce(r.channel+": "+text, true)
		return
	}
	b.showGateway(shown{from: b.servicePrefix(), target: r.channel, notice: true, body: text})
}
