package bridge

import (
	"context"
	"strconv"
	"strings"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// maxPublicRooms bounds the public rooms LIST shows.
const maxPublicRooms = 500

// partRoom runs PART for a room channel.
func (b *Bridge) partRoom(ch, reason string) error {
	r := b.roomByChannel(ch)
	if r == nil {
		return errNotInRoom(ch)
	}
	b.leaveRoom(r, cleanText(reason))
	return nil
}

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

// roomKick runs KICK: the room is asked to kick the occupant.
func (b *Bridge) roomKick(s *session, req *ircd.Request, ch, nick, reason string) error {
	r := b.roomByChannel(ch)
	if r == nil || !r.shown {
		return errNotInRoom(ch)
	}
	o := b.occupantByIRCNick(r, nick)
	if o == nil {
		return &ircd.Error{Code: irc.ERR_USERNOTINCHANNEL, Params: []string{nick, ch, "They aren't on that channel"}}
	}
	return b.moderate(r, o, "none", reason, "kick "+nick)
}

// roomMode runs MODE for a room: shows the modes, or turns +o/-o/+v/-v
// into role changes (moderator, participant, visitor).
func (b *Bridge) roomMode(s *session, req *ircd.Request, ch string) error {
	r := b.roomByChannel(ch)
	if r == nil || !r.shown {
		return errNotInRoom(ch)
	}
	if len(req.Msg.Params) == 1 {
		modes := "+nt"
		if r.password != "" {
			modes += "k"
		}
		req.Numeric(irc.RPL_CHANNELMODEIS, r.channel, modes)
		return nil
	}
	switch strings.TrimLeft(req.Msg.Params[1], "+") {
	case "b":
		req.Numeric(irc.RPL_ENDOFBANLIST, r.channel, "End of channel ban list")
		return nil
	case "e":
		req.Numeric(irc.RPL_ENDOFEXCEPTLIST, r.channel, "End of channel exception list")
		return nil
	case "I":
		req.Numeric(irc.RPL_ENDOFINVITELIST, r.channel, "End of channel invite list")
		return nil
	}
	args := req.Msg.Params[2:]
	add := true
	for _, m := range req.Msg.Params[1] {
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
			o := b.occupantByIRCNick(r, nick)
			if o == nil {
				numericErr(req, &ircd.Error{Code: irc.ERR_USERNOTINCHANNEL, Params: []string{nick, ch, "They aren't on that channel"}})
				continue
			}
			role := map[string]string{"+o": "moderator", "-o": "participant", "+v": "participant", "-v": "visitor"}[map[bool]string{true: "+", false: "-"}[add]+string(m)]
			if err := b.moderate(r, o, role, "", "make "+nick+" a "+role); err != nil {
				return err
			}
		default:
			numericErr(req, &ircd.Error{Code: irc.ERR_UNKNOWNMODE, Params: []string{string(m), "is not a mode this gateway can set in a group chat (only +o/-o/+v/-v)"}})
		}
	}
	return nil
}

// roomInvite runs INVITE nick #room: a mediated invitation through the
// room to the contact (or to a JID given instead of a nick).
func (b *Bridge) roomInvite(s *session, req *ircd.Request, nick, ch string) error {
	r := b.roomByChannel(ch)
	if r == nil || !r.shown {
		return errNotInRoom(ch)
	}
	jid := ""
	if c := b.contactByNick(nick); c != nil {
		jid = c.jid
	} else if o, _ := b.occupantByNick(nick); o != nil && o.jid != "" {
		jid = o.jid
	} else if strings.Contains(nick, "@") && validJID(nick) {
		jid = nick
	}
	if jid == "" {
		return errNoSuchNick(nick)
	}
	if err := b.x.InviteToRoom(r.jid, jid, ""); err != nil {
		return &ircd.Error{Code: irc.ERR_CHANOPRIVSNEEDED, Params: []string{ch, "Invitation not sent: " + oneLine(err.Error())}}
	}
	req.Numeric(irc.RPL_INVITING, nick, r.channel)
	return nil
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
		if !jidOK(it.JID) || strings.ContainsAny(it.JID, ",\a") {
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

// whoRoom answers WHO #room with its occupants.
func (b *Bridge) whoRoom(s *session, req *ircd.Request, ch string) {
	if r := b.roomByChannel(ch); r != nil && r.shown {
		multi := s.d.HasCap("multi-prefix")
		for _, o := range b.sortedOccupants(r) {
			p := b.occupantPrefix(r, o)
			if o.self {
				p = userPrefix(s.d)
			}
			flags := "H"
			if o.self && b.away != "" {
				flags = "G"
			}
			req.Numeric(irc.RPL_WHOREPLY, r.channel, p.User, p.Host, b.cfg.ServerName, p.Name, flags+prefixes(o, multi), "0 "+b.occupantRealname(s, o))
		}
	}
	req.Numeric(irc.RPL_ENDOFWHO, ch, "End of /WHO list")
}
