package bridge

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// MUC status codes (XEP-0045 §15.6).
const (
	mucSelf       = 110
	mucCreated    = 201
	mucBanned     = 301
	mucNewNick    = 303
	mucKicked     = 307
	mucAffilLost  = 321
	mucMembersOff = 322
	mucShutdown   = 332
	mucErrorKick  = 333
)

func hasCode(p xmpp.Presence, code int) bool {
	return p.MUC != nil && slices.Contains(p.MUC.Codes, code)
}

// joinRoom joins the room behind channel ch with the room password key.
// The JOIN is shown once the room accepts us.
func (b *Bridge) joinRoom(ch, key string) error {
	b.rooms.init()
	if r := b.roomByChannel(ch); r != nil {
		if key != "" {
			r.password = key
		}
		return nil
	}
	jid, err := b.roomJIDForChannel(ch)
	if err != nil {
		return err
	}
	if len(b.rooms.byKey) >= b.cfg.MaxRooms {
		return &ircd.Error{Code: irc.ERR_TOOMANYCHANNELS, Params: []string{ch, "You have joined too many rooms"}}
	}
	nick := b.userNick()
	if nick == "*" {
		nick = b.cfg.ServiceNick
	}
	r := &room{
		jid: jid, key: xmpp.BareJID(jid), channel: ch, password: key, nick: nick,
		occupants: make(map[string]*occupant),
		sent:      newBounded[struct{}](maxRoomSent),
		recent:    newBounded[struct{}](maxRoomRecent),
	}
	b.rooms.byKey[r.key] = r
	if !b.connected {
		b.announce("XMPP is not connected; "+ch+" will be joined once it is.", false)
		return nil
	}
	return b.sendJoin(r)
}

// sendJoin sends our presence to r: on the first join, after a nick
// conflict and after a reconnect.
func (b *Bridge) sendJoin(r *room) error {
	for _, o := range r.occupants {
		o.stale = true
	}
	r.joining, r.subjectOK = true, false
	hist, since := -1, time.Time{}
	if !r.lastAt.IsZero() {
		since = r.lastAt
	}
	err := b.x.JoinRoom(r.jid, r.nick, r.password, hist, since)
	if err == nil || errors.Is(err, xmpp.ErrNotConnected) {
		return nil
	}
	b.dropRoom(r, "cannot join: "+oneLine(err.Error()))
	return &ircd.Error{Code: irc.ERR_NOSUCHCHANNEL, Params: []string{r.channel, "Cannot join: " + oneLine(err.Error())}}
}

// leaveRoom leaves r at the user's request.
func (b *Bridge) leaveRoom(r *room, reason string) {
	if b.connected {
		if err := b.x.LeaveRoom(r.jid, reason); err != nil {
			b.log.Debug("leaving room", "room", r.jid, "err", err)
		}
	}
	b.dropRoom(r, reason)
}

// dropRoom forgets r and, when clients were shown it, parts them.
func (b *Bridge) dropRoom(r *room, reason string) {
	params := []string{r.channel}
	if reason != "" {
		params = append(params, reason)
	}
	b.sessions.sendEachIn(b.channelOf(r), func(s *session) *irc.Message {
		return &irc.Message{Prefix: userPrefix(s.d), Command: "PART", Params: params}
	})
	b.forgetRoom(r)
}

func (b *Bridge) forgetRoom(r *room) {
	b.answerWaiters(r)
	for _, o := range r.occupants {
		b.releaseNick(o)
	}
	delete(b.rooms.byKey, r.key)
}

// roomsResumed sends what was queued for the rooms while the stream was
// down: a resumed stream is still in every room it had joined.
func (b *Bridge) roomsResumed() {
	for _, r := range b.sortedRooms() {
		if !r.joining {
			b.flushRoomPending(r)
		}
	}
}

// roomsConnected rejoins every room after (re)connecting.
func (b *Bridge) roomsConnected() {
	for _, r := range b.sortedRooms() {
		if err := b.sendJoin(r); err != nil {
			b.log.Info("rejoin failed", "room", r.jid, "err", err)
		}
	}
}

// roomsDisconnected notes that no room is joined any more.
func (b *Bridge) roomsDisconnected() {
	for _, r := range b.rooms.byKey {
		r.joining = false
		b.answerWaiters(r) // the JOIN shows once the room is rejoined
	}
}

// roomPresence handles an occupant's presence.
func (b *Bridge) roomPresence(p xmpp.Presence) {
	bare, nick := splitResource(p.From)
	r := b.rooms.byKey[xmpp.BareJID(bare)]
	if r == nil {
		return
	}
	if p.Type == "error" {
		b.roomJoinError(r, p)
		return
	}
	if nick == "" || p.MUC == nil {
		return
	}
	self := hasCode(p, mucSelf)
	if p.Type == "unavailable" {
		b.occupantLeft(r, nick, self, p)
		return
	}
	if p.Type != "" {
		return
	}
	o := r.occupants[nick]
	isNew := o == nil
	if isNew {
		if len(r.occupants) >= maxOccupants && !self {
			return
		}
		o = &occupant{nick: nick, room: r}
		r.occupants[nick] = o
	}
	o.stale = false
	old := prefixes(o, true)
	if j := p.MUC.JID; j != "" && xmpp.ValidJID(j) {
		o.jid = xmpp.BareJID(j)
	}
	o.affiliation, o.role, o.self = p.MUC.Affiliation, p.MUC.Role, self
	if isNew {
		b.assignNick(o)
	}
	if r.shown && !(self && r.joining) {
		if isNew && !self {
			b.sessions.sendEach(func(s *session) *irc.Message {
				return joinOf(s.d, r.channel, b.occupantPrefix(r, o), o.jid, b.occupantRealname(s, o))
			})
			old = ""
		}
		b.roomModes(r, o, old)
	}
	if self {
		if hasCode(p, mucCreated) {
			b.createInstantRoom(r)
		}
		b.selfJoined(r, nick)
	}
}

// createInstantRoom accepts the default configuration of a room the user
// just created: until then the room is locked and nobody else can join.
func (b *Bridge) createInstantRoom(r *room) {
	err := b.startRequest(request{kind: requestOpenRoom, room: r.key}, func(ctx context.Context) (string, error) {
		return b.x.AcceptRoomDefaults(ctx, r.jid)
	})
	if err != nil {
		b.onRoomOpened(request{room: r.key}, err)
	}
}

// onRoomOpened tells when a new room could not be opened to others.
func (b *Bridge) onRoomOpened(req request, err error) {
	if r := b.rooms.byKey[req.room]; r != nil && err != nil {
		b.roomNotice(r, "The new room could not be opened to others: "+oneLine(err.Error()))
	}
}

// roomModes shows o's prefix changes as MODE.
func (b *Bridge) roomModes(r *room, o *occupant, old string) {
	changes := modeChanges(old, prefixes(o, true))
	if len(changes) == 0 {
		return
	}
	modes, args := "", []string{}
	sign := byte(0)
	for _, c := range changes {
		if c[0] != sign {
			sign = c[0]
			modes += string(sign)
		}
		modes += c[1:]
		args = append(args, b.ircNick(o))
	}
	b.sessions.send(&irc.Message{Prefix: b.serverPrefix(), Command: "MODE", Params: append([]string{r.channel, modes}, args...)})
}

// selfJoined completes a join when the room sends our own presence.
func (b *Bridge) selfJoined(r *room, nick string) {
	r.nick = nick
	if !r.joining {
		return
	}
	r.joining, r.tries = false, 0
	r.inHistory = true
	if !r.shown {
		r.shown = true
		for _, s := range b.sessions {
			b.showChannel(s, b.channelOf(r), r.out(s))
		}
		b.answerWaiters(r)
		if !strings.EqualFold(nick, b.userNick()) {
			b.roomNotice(r, "Your nick in this room is \""+oneLine(nick)+"\".")
		}
	} else {
		// After a rejoin: whoever left meanwhile leaves now.
		for _, o := range b.sortedOccupants(r) {
			if o.stale && !o.self {
				b.sessions.send(&irc.Message{Prefix: b.occupantPrefix(r, o), Command: "PART", Params: []string{r.channel, "left while the gateway was disconnected"}})
				b.releaseNick(o)
				delete(r.occupants, o.nick)
			}
		}
	}
	b.flushRoomPending(r)
}

// flushRoomPending sends what the user wrote to r while it was not joined.
func (b *Bridge) flushRoomPending(r *room) {
	pending := r.pending
	r.pending = nil
	for _, out := range pending {
		b.sendRoomMessage(r, out)
		b.roomNotice(r, "queued message sent: "+excerpt(out.Body))
	}
}

// occupantLeft handles an unavailable presence: a leave, kick, ban or
// nick change.
func (b *Bridge) occupantLeft(r *room, nick string, self bool, p xmpp.Presence) {
	o := r.occupants[nick]
	if hasCode(p, mucNewNick) && p.MUC.Nick != "" {
		if o == nil {
			return
		}
		delete(r.occupants, nick)
		o.nick = p.MUC.Nick
		r.occupants[o.nick] = o
		if self || o.self {
			r.nick = o.nick
			b.roomNotice(r, "Your nick in this room is now \""+oneLine(o.nick)+"\".")
			return
		}
		if b.occupantContact(o) != nil {
			return
		}
		old := b.occupantPrefix(r, o)
		b.assignNick(o)
		if r.shown && old.Name != o.irc {
			b.sessions.send(&irc.Message{Prefix: old, Command: "NICK", Params: []string{o.irc}})
		}
		return
	}
	reason := oneLine(p.Status)
	kicked, banned := hasCode(p, mucKicked), hasCode(p, mucBanned)
	if kicked || banned {
		reason = oneLine(p.MUC.Reason)
		what := "kicked"
		if banned {
			what = "banned"
		}
		if a := oneLine(p.MUC.Actor); a != "" {
			what += " by " + a
		}
		if reason != "" {
			reason = what + ": " + reason
		} else {
			reason = what
		}
	}
	if self || (o != nil && o.self) {
		if r.joining {
			return // our old presence going away during a rejoin
		}
		if hasCode(p, mucErrorKick) {
			// Removed over an error of delivery, not by anyone: typically
			// the server bouncing what it could not deliver to a stream that
			// is going down (stream management does so on shutdown). The
			// room is joined again, now or on reconnect.
			if b.connected {
				b.sendJoin(r)
			}
			return
		}
		switch {
		case hasCode(p, mucShutdown):
			reason = "the room service is shutting down"
		case hasCode(p, mucAffilLost), hasCode(p, mucMembersOff):
			reason = "removed from the room: membership required"
		}
		if r.shown && (kicked || banned) {
			b.sessions.sendEach(func(s *session) *irc.Message {
				return &irc.Message{Prefix: b.servicePrefix(), Command: "KICK", Params: []string{r.channel, s.d.Nick(), reason}}
			})
			r.shown = false
		}
		if reason == "" {
			reason = "left the room"
		}
		b.dropRoom(r, reason)
		return
	}
	if o == nil {
		return
	}
	if r.shown {
		if kicked || banned {
			b.sessions.send(&irc.Message{Prefix: b.servicePrefix(), Command: "KICK", Params: []string{r.channel, b.ircNick(o), reason}})
		} else {
			params := []string{r.channel}
			if reason != "" {
				params = append(params, reason)
			}
			b.sessions.send(&irc.Message{Prefix: b.occupantPrefix(r, o), Command: "PART", Params: params})
		}
	}
	b.releaseNick(o)
	delete(r.occupants, nick)
}

// roomJoinError handles an error presence from r: while joining, a nick
// conflict is retried with another nick, anything else ends the join.
func (b *Bridge) roomJoinError(r *room, p xmpp.Presence) {
	if !r.joining {
		if p.Error == nil {
			return
		}
		if _, nick := splitResource(p.From); nick != "" && nick != r.nick {
			b.roomNotice(r, "The room refused the nick \""+oneLine(nick)+"\": "+oneLine(p.Error.Error()))
			// Our presence in the room (and the session's idea of our
			// nick there) goes back to the nick we still have.
			if b.connected {
				if err := b.x.JoinRoom(r.jid, r.nick, r.password, 0, time.Time{}); err != nil {
					b.log.Debug("restoring room nick", "room", r.jid, "err", err)
				}
			}
			return
		}
		b.roomNotice(r, "The room reports an error: "+oneLine(p.Error.Error()))
		return
	}
	cond, text := "", ""
	if p.Error != nil {
		cond, text = p.Error.Condition, oneLine(p.Error.Text)
	}
	if cond == "conflict" && r.tries < maxJoinTries {
		r.tries++
		base := b.userNick()
		next := base + "_" + strconv.Itoa(r.tries+1)
		b.roomNotice(r, "The nick \""+oneLine(r.nick)+"\" is taken in "+r.jid+"; trying \""+next+"\".")
		r.nick = next
		if err := b.sendJoin(r); err != nil {
			b.log.Info("rejoin with another nick failed", "room", r.jid, "err", err)
		}
		return
	}
	code, why := irc.ERR_NOSUCHCHANNEL, "Cannot join the room"
	switch cond {
	case "not-authorized":
		code, why = irc.ERR_BADCHANNELKEY, "Cannot join the room: password required or wrong (+k)"
	case "forbidden":
		code, why = irc.ERR_BANNEDFROMCHAN, "Cannot join the room: you are banned (+b)"
	case "registration-required":
		code, why = irc.ERR_INVITEONLYCHAN, "Cannot join the room: members only (+i)"
	case "service-unavailable":
		code, why = irc.ERR_CHANNELISFULL, "Cannot join the room: it is full (+l)"
	case "item-not-found", "not-allowed":
		why = "Cannot join the room: it does not exist and cannot be created"
	case "conflict":
		why = "Cannot join the room: every nick tried is taken"
	case "":
	default:
		why += ": " + cond
	}
	if text != "" {
		why += " (" + text + ")"
	}
	b.roomNumeric(code, r, why)
	b.dropRoom(r, why)
}

// roomsAutojoin asks for the bookmarks once; those marked autojoin are
// joined when they arrive (onBookmarks).
func (b *Bridge) roomsAutojoin() {
	if b.rooms.autojoined {
		return
	}
	b.rooms.autojoined = true
	if err := b.startRequest(request{kind: requestAutojoin}, b.x.Bookmarks); err != nil {
		b.onBookmarks(nil, err)
	}
}

func (b *Bridge) onBookmarks(list []xmpp.Bookmark, err error) {
	if err != nil {
		b.log.Info("bookmarks not fetched", "err", err)
		return
	}
	for _, bm := range list {
		if !bm.Autojoin || !xmpp.ValidJID(bm.JID) {
			continue
		}
		ch := b.channelForRoom(bm.JID)
		if err := b.joinRoom(ch, bm.Password); err != nil {
			b.announce("Bookmarked room "+oneLine(bm.JID)+" not joined: "+errText(err), true)
		}
	}
}

// errText is the text of an error, the last parameter of a numeric.
func errText(err error) string {
	var e *ircd.Error
	if errors.As(err, &e) && len(e.Params) > 0 {
		return e.Params[len(e.Params)-1]
	}
	return oneLine(err.Error())
}

// roomsNickChanged follows the user's new IRC nick in the rooms where the
// room nick was the old one (not one the room made us take instead).
func (b *Bridge) roomsNickChanged(old, nick string) {
	for _, r := range b.sortedRooms() {
		if !strings.EqualFold(r.nick, old) {
			continue
		}
		if !b.connected || !r.shown || r.joining {
			r.nick = nick // used by the next (re)join
			continue
		}
		// A presence to the new occupant JID is a nick change; the room
		// confirms with status 303 or refuses with an error.
		if err := b.x.JoinRoom(r.jid, nick, r.password, 0, time.Time{}); err != nil {
			b.log.Info("room nick change not sent", "room", r.jid, "err", err)
		}
	}
}
