package bridge

import (
	"context"
	"strconv"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// maxPublicRooms bounds the public rooms LIST shows.
const maxPublicRooms = 500

// occupantByIRCNick finds an occupant of r by its IRC nick.
func (b *Bridge) occupantByIRCNick(r *room, nick string) *occupant {
	f := ircd.Casefold(nick)
	for _, o := range r.occupants {
		if ircd.Casefold(b.ircNick(o)) == f {
			return o
		}
	}
	return nil
}

// moderate asks r to change an occupant's role (or, with role "none", to
// kick it). A refusal, when the room answers, is shown in the channel.
func (b *Bridge) moderate(r *room, o *occupant, role, reason, what string) error {
	if !b.connected {
		return &ircd.Error{Code: irc.ERR_CHANOPRIVSNEEDED, Params: []string{r.channel, "XMPP is not connected"}}
	}
	err := b.startRequest(request{kind: requestSetRole, room: r.key, what: what}, func(ctx context.Context) (string, error) {
		return b.x.SetRole(ctx, r.jid, o.nick, role, reason)
	})
	if err != nil {
		return &ircd.Error{Code: irc.ERR_CHANOPRIVSNEEDED, Params: []string{r.channel, "Cannot ask the room to " + what + ": " + oneLine(err.Error())}}
	}
	return nil
}

// onSetRole shows the room's refusal of a role change.
func (b *Bridge) onSetRole(req request, err error) {
	if r := b.rooms.byKey[req.room]; r != nil && err != nil {
		b.roomNumeric(irc.ERR_CHANOPRIVSNEEDED, r, "The room refused to "+req.what+": "+oneLine(err.Error()))
	}
}

// listPublicRooms asks the conference service for its public rooms; the
// LIST is answered once the service has answered (listPublicRoomsDone). It
// returns false when there is no service to ask (the caller ends the
// LIST).
func (b *Bridge) listPublicRooms(s *session, want func(string) bool) bool {
	if b.cfg.MUCService == "" || !b.connected {
		return false
	}
	h := b.hold()
	err := b.startRequest(request{kind: requestList, s: s, want: want, held: h}, func(ctx context.Context) (string, error) {
		return b.x.RoomItems(ctx, b.cfg.MUCService)
	})
	if err != nil {
		b.release(h)
		return false
	}
	return true
}

// listPublicRoomsDone ends the LIST r asked for with the rooms the service
// listed (none when it failed to answer).
func (b *Bridge) listPublicRoomsDone(r request, ev xmpp.RoomList) {
	defer b.release(r.held)
	s, h := r.s, r.held
	items := ev.Rooms
	if len(items) > maxPublicRooms {
		items = items[:maxPublicRooms]
	}
	for _, it := range items {
		// A comma or BEL would break the channel name on IRC.
		if !xmpp.ValidJID(it.JID) || strings.ContainsAny(it.JID, ",\a") {
			continue
		}
		ch := b.channelForRoom(it.JID)
		if room := b.roomByJID(it.JID); (room != nil && room.shown) || !r.want(ch) {
			continue
		}
		name := it.Name
		if name == "" {
			name = it.JID
		}
		h.reply(&irc.Message{Prefix: b.serverPrefix(), Command: irc.RPL_LIST, Params: []string{s.d.Nick(), ch, "0", oneLine(name)}})
	}
	h.reply(&irc.Message{Prefix: b.serverPrefix(), Command: irc.RPL_LISTEND, Params: []string{s.d.Nick(), "End of /LIST"}})
}

// cmdJoin is the control command "join ROOM [PASSWORD]".
func (b *Bridge) cmdJoin(out func(string), args []string) {
	ch := args[0]
	if !strings.HasPrefix(ch, "#") {
		ch = "#" + ch
	}
	key := ""
	if len(args) > 1 {
		key = args[1]
	}
	if err := b.joinRoom(ch, key); err != nil {
		out("Cannot join " + ch + ": " + errText(err))
		return
	}
	out("Joining " + ch + "…")
}

// cmdRooms is the control command "rooms": the rooms the gateway is in.
func (b *Bridge) cmdRooms(out func(string), args []string) {
	rs := b.sortedRooms()
	if len(rs) == 0 {
		out("You are in no group chat. Use \"/join #room@conference.example.org\" (or \"join ROOM\" here).")
		return
	}
	for _, r := range rs {
		state := "joined"
		switch {
		case r.joining:
			state = "joining"
		case !r.shown:
			state = "waiting for XMPP"
		case !b.connected:
			state = "rejoins on reconnect"
		}
		out(r.channel + " = " + r.jid + " as \"" + oneLine(r.nick) + "\", " + state + ", " + itoa(len(r.occupants)) + " occupants")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// cmdBookmark is the control command "bookmark list|add|remove"; the
// outcome is announced when the server answers.
func (b *Bridge) cmdBookmark(out func(string), args []string) {
	if !b.connected {
		out("XMPP is not connected; try again once it is.")
		return
	}
	verb := strings.ToLower(args[0])
	if (verb != "list" && verb != "add" && verb != "remove") || (verb != "list" && len(args) < 2) {
		out("Usage: " + controlCommands["bookmark"].usage)
		return
	}
	var bm xmpp.Bookmark
	if verb != "list" {
		ch := args[1]
		if !strings.HasPrefix(ch, "#") {
			ch = "#" + ch
		}
		jid, err := b.roomJIDForChannel(ch)
		if err != nil {
			out(errText(err))
			return
		}
		bm = xmpp.Bookmark{JID: jid, Autojoin: true}
		if r := b.roomByChannel(ch); r != nil {
			bm.Password = r.password
		}
		if len(args) > 2 && strings.EqualFold(args[2], "noautojoin") {
			bm.Autojoin = false
		}
	}
	var err error
	switch verb {
	case "list":
		err = b.startRequest(request{kind: requestBookmarkList}, b.x.Bookmarks)
	case "add":
		err = b.startRequest(request{kind: requestBookmarkAdd, bm: bm}, func(ctx context.Context) (string, error) {
			return b.x.SetBookmark(ctx, bm)
		})
	case "remove":
		err = b.startRequest(request{kind: requestBookmarkRemove, bm: bm}, func(ctx context.Context) (string, error) {
			return b.x.RemoveBookmark(ctx, bm.JID)
		})
	}
	if err != nil {
		out("Bookmarks not " + map[string]string{"list": "fetched", "add": "saved", "remove": "removed"}[verb] + ": " + oneLine(err.Error()))
	}
}

// showBookmarks announces the bookmarks "bookmark list" asked for.
func (b *Bridge) showBookmarks(list []xmpp.Bookmark, err error) {
	if err != nil {
		b.announce("Bookmarks not fetched: "+oneLine(err.Error()), true)
		return
	}
	if len(list) == 0 {
		b.announce("No bookmarks.", true)
		return
	}
	var lines []string
	for _, x := range list {
		line := b.channelForRoom(x.JID) + " = " + x.JID
		if x.Name != "" {
			line += " (" + x.Name + ")"
		}
		if x.Autojoin {
			line += ", autojoin"
		}
		lines = append(lines, oneLine(line))
	}
	b.announce("Bookmarks: "+strings.Join(lines, "; "), true)
}

// onBookmarkChanged announces the outcome of "bookmark add" or "remove".
func (b *Bridge) onBookmarkChanged(r request, err error) {
	bm := r.bm
	switch {
	case r.kind == requestBookmarkAdd && err != nil:
		b.announce("Bookmark for "+bm.JID+" not saved: "+oneLine(err.Error()), true)
	case r.kind == requestBookmarkAdd:
		b.announce("Bookmarked "+bm.JID+map[bool]string{true: " (joined at connect)", false: ""}[bm.Autojoin]+".", true)
	case err != nil:
		b.announce("Bookmark for "+bm.JID+" not removed: "+oneLine(err.Error()), true)
	default:
		b.announce("Bookmark for "+bm.JID+" removed.", true)
	}
}

// whoisOccupant answers WHOIS for an occupant who is not a contact; false
// when nick is none.
func (b *Bridge) whoisOccupant(req *ircd.Request, nick string) bool {
	o, r := b.occupantByNick(nick)
	if o == nil {
		return false
	}
	p := b.occupantPrefix(r, o)
	req.Numeric(irc.RPL_WHOISUSER, p.Name, p.User, p.Host, "*", cleanText(o.nick))
	req.Numeric(irc.RPL_WHOISCHANNELS, p.Name, prefixes(o, false)+r.channel)
	req.Numeric(irc.RPL_WHOISSERVER, p.Name, b.cfg.ServerName, "XMPP group chat occupant")
	if o.jid != "" {
		req.Numeric(ircd.RPL_WHOISACCOUNT, p.Name, o.jid, "is logged in as")
	}
	req.Numeric(ircd.RPL_WHOISSPECIAL, p.Name, "room "+r.jid+", nick "+oneLine(o.nick))
	if o.jid != "" {
		req.Numeric(ircd.RPL_WHOISSPECIAL, p.Name, "JID: "+o.jid)
	}
	req.Numeric(ircd.RPL_WHOISSPECIAL, p.Name, "affiliation: "+nonEmpty(o.affiliation)+", role: "+nonEmpty(o.role))
	return true
}

func nonEmpty(s string) string {
	if s == "" {
		return "none"
	}
	return oneLine(s)
}

// roomChannel is a group chat as a channel (see channel). Every client is
// in it once the room accepted the user; r is nil when the gateway is not
// in the room.
type roomChannel struct {
	b     *Bridge
	typed string // the channel name as the client typed it
	r     *room
}

// channelOf is the channel of r.
func (b *Bridge) channelOf(r *room) roomChannel {
	return roomChannel{b: b, typed: r.channel, r: r}
}

func (c roomChannel) name() string {
	if c.r != nil {
		return c.r.channel
	}
	return c.typed
}

func (c roomChannel) shown() bool        { return c.r != nil && c.r.shown }
func (c roomChannel) sees(*session) bool { return c.shown() }

// names lists the occupants with their membership prefixes, the user
// last when the room has not sent the user's own presence yet.
func (c roomChannel) names(d ircd.Downstream) []string {
	b, r := c.b, c.r
	multi, uh := d.HasCap("multi-prefix"), d.HasCap("userhost-in-names")
	var names []string
	selfSeen := false
	for _, o := range b.sortedOccupants(r) {
		p := b.occupantPrefix(r, o)
		if o.self {
			p = userPrefix(d)
			selfSeen = true
		}
		n := p.Name
		if uh {
			n = p.String()
		}
		names = append(names, prefixes(o, multi)+n)
	}
	if !selfSeen {
		names = append(names, userPrefix(d).Name)
	}
	return names
}

// who lists the occupants.
func (c roomChannel) who(s *session) []whoEntry {
	b, r := c.b, c.r
	multi := s.d.HasCap("multi-prefix")
	var out []whoEntry
	for _, o := range b.sortedOccupants(r) {
		p := b.occupantPrefix(r, o)
		if o.self {
			p = userPrefix(s.d)
		}
		out = append(out, whoEntry{prefix: p, away: o.self && b.away != "", chanPfx: prefixes(o, multi), realname: b.occupantRealname(s, o)})
	}
	return out
}

// topicReplies show the room's subject, who set it and when.
func (c roomChannel) topicReplies(d ircd.Downstream, explicit bool) []*irc.Message {
	b, r := c.b, c.r
	if r.subject == "" {
		if !explicit {
			return nil
		}
		return []*irc.Message{{Prefix: b.serverPrefix(), Command: irc.RPL_NOTOPIC, Params: []string{d.Nick(), r.channel, "No topic is set"}}}
	}
	text := r.topic()
	setter := r.subjectBy
	if setter == "" {
		setter = r.jid
	}
	at := r.subjectAt
	if at.IsZero() {
		at = b.now()
	}
	return []*irc.Message{
		{Prefix: b.serverPrefix(), Command: irc.RPL_TOPIC, Params: []string{d.Nick(), r.channel, text}},
		{Prefix: b.serverPrefix(), Command: ircd.RPL_TOPICWHOTIME, Params: []string{d.Nick(), r.channel, setter, strconv.FormatInt(at.Unix(), 10)}},
	}
}

func (c roomChannel) modes() (string, time.Time) {
	if c.r.password != "" {
		return "+ntk", time.Time{}
	}
	return "+nt", time.Time{}
}

func (c roomChannel) listing() (int, string) {
	return len(c.r.occupants), c.r.topic()
}

// join joins the room; the JOIN is shown, and the command answered,
// once the room lets the user in (see heldCommand).
func (c roomChannel) join(s *session, r *ircd.Request, key string) error {
	b := c.b
	if err := b.joinRoom(c.typed, key); err != nil {
		return err
	}
	if room := b.roomByChannel(c.typed); room != nil && room.joining && !room.shown {
		room.waiters = append(room.waiters, b.hold())
	}
	return nil
}

// part leaves the room, for every client.
func (c roomChannel) part(s *session, r *ircd.Request, reason string) error {
	if c.r == nil {
		return errNotOnChannel(c.typed)
	}
	c.b.leaveRoom(c.r, cleanText(reason))
	return nil
}

func (c roomChannel) privmsg(s *session, r *ircd.Request, text string, notice bool) error {
	return c.b.roomPrivmsg(s, r, c.typed, text)
}

// setTopic asks the room to change its subject.
func (c roomChannel) setTopic(text string) error {
	b := c.b
	if !b.connected {
		return errChanOp(c.typed, "XMPP is not connected")
	}
	_, err := b.x.SendMessage(xmpp.OutMessage{To: c.r.jid, Type: "groupchat", Subject: cleanText(text), HasSubject: true})
	if err != nil {
		return errChanOp(c.typed, "Topic not sent: "+oneLine(err.Error()))
	}
	return nil
}

// setModes turns +o/-o/+v/-v into role changes (moderator, participant,
// visitor).
func (c roomChannel) setModes(req *ircd.Request, modes string, args []string) error {
	add := true
	for _, m := range modes {
		switch m {
		case '+':
			add = true
		case '-':
			add = false
		case 'o', 'v':
			if len(args) == 0 {
				return &ircd.Error{Code: irc.ERR_NEEDMOREPARAMS, Params: []string{"MODE", "Not enough parameters"}}
			}
			nick := args[0]
			args = args[1:]
			o := c.b.occupantByIRCNick(c.r, nick)
			if o == nil {
				numericErr(req, errNotInChannel(nick, c.typed))
				continue
			}
			role := map[string]string{"+o": "moderator", "-o": "participant", "+v": "participant", "-v": "visitor"}[map[bool]string{true: "+", false: "-"}[add]+string(m)]
			if err := c.b.moderate(c.r, o, role, "", "make "+nick+" a "+role); err != nil {
				return err
			}
		default:
			numericErr(req, &ircd.Error{Code: irc.ERR_UNKNOWNMODE, Params: []string{string(m), "is not a mode this gateway can set in a group chat (only +o/-o/+v/-v)"}})
		}
	}
	return nil
}

// invite sends a mediated invitation through the room to the contact or
// occupant nick (or to a JID given instead of a nick).
func (c roomChannel) invite(req *ircd.Request, nick string) error {
	b, r := c.b, c.r
	jid := ""
	switch h := b.nicks.holder(nick).(type) {
	case *contact:
		jid = h.jid()
	case *occupant:
		jid = h.jid
	}
	if jid == "" && strings.Contains(nick, "@") && validBareJID(nick) {
		jid = nick
	}
	if jid == "" {
		return errNoSuchNick(nick)
	}
	if err := b.x.InviteToRoom(r.jid, jid, ""); err != nil {
		return errChanOp(c.typed, "Invitation not sent: "+oneLine(err.Error()))
	}
	req.Numeric(irc.RPL_INVITING, nick, r.channel)
	return nil
}

// kick asks the room to kick the occupant.
func (c roomChannel) kick(nick, reason string) error {
	o := c.b.occupantByIRCNick(c.r, nick)
	if o == nil {
		return errNotInChannel(nick, c.typed)
	}
	return c.b.moderate(c.r, o, "none", reason, "kick "+nick)
}

func errNotInChannel(nick, ch string) error {
	return &ircd.Error{Code: irc.ERR_USERNOTINCHANNEL, Params: []string{nick, ch, "They aren't on that channel"}}
}
