package xmpp

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"strings"
)

const (
	nsMUCAdmin  = "http://jabber.org/protocol/muc#admin"
	nsMUCOwner  = "http://jabber.org/protocol/muc#owner"
	nsDiscoItem = "http://jabber.org/protocol/disco#items"
)

// maxRoomItems bounds how many rooms RoomItems returns.
const maxRoomItems = 1000

// RoomItem is a room a conference service lists (disco#items).
type RoomItem struct {
	JID  string // bare room JID
	Name string
}

// SetRole asks room (a bare JID) to give the occupant with room nick nick
// the role "moderator", "participant", "visitor" or "none" (a kick),
// XEP-0045 §8 and §9. Its answer is a RequestDone{Op: "set-role"}; a
// refusal is a *StanzaError.
func (s *Session) SetRole(ctx context.Context, room, nick, role, reason string) (string, error) {
	switch role {
	case "moderator", "participant", "visitor", "none":
	default:
		return "", fmt.Errorf("xmpp: invalid role %q", role)
	}
	room = BareJID(room)
	if !ValidJID(room) || nick == "" {
		return "", fmt.Errorf("xmpp: invalid room %q or nick %q", room, nick)
	}
	r := ""
	if reason != "" {
		r = "<reason>" + escapeText(reason) + "</reason>"
	}
	payload := fmt.Sprintf("<query xmlns='%s'><item nick='%s' role='%s'>%s</item></query>",
		nsMUCAdmin, escapeAttr(nick), role, r)
	return s.requestDone(ctx, "set-role", room, "set", payload)
}

// AcceptRoomDefaults unlocks a room the user has just created with the
// service's default configuration (an "instant room", XEP-0045 §10.1.2);
// until then nobody else can enter it. Its answer is a
// RequestDone{Op: "accept-room-defaults"}.
func (s *Session) AcceptRoomDefaults(ctx context.Context, room string) (string, error) {
	room = BareJID(room)
	if !ValidJID(room) {
		return "", fmt.Errorf("xmpp: invalid room %q", room)
	}
	payload := "<query xmlns='" + nsMUCOwner + "'><x xmlns='jabber:x:data' type='submit'/></query>"
	return s.requestDone(ctx, "accept-room-defaults", room, "set", payload)
}

// RoomItems asks a conference service for its public rooms
// (disco#items). Its answer is a RoomList keeping only items that are
// usable bare room JIDs, at most maxRoomItems.
func (s *Session) RoomItems(ctx context.Context, service string) (string, error) {
	if !ValidJID(service) {
		return "", fmt.Errorf("xmpp: invalid service %q", service)
	}
	return s.startRequest(func(c *conn, id string) Event {
		res, err := c.iq(ctx, service, "get", "<query xmlns='"+nsDiscoItem+"'/>")
		if err := iqError(res, err); err != nil {
			return RoomList{ID: id, Service: service, Err: err}
		}
		return RoomList{ID: id, Service: service, Rooms: parseRoomItems(res.Payload)}
	})
}

func parseRoomItems(payload []byte) []RoomItem {
	var out []RoomItem
	d := xml.NewDecoder(bytes.NewReader(payload))
	for len(out) < maxRoomItems {
		tok, err := d.Token()
		if err != nil {
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok || se.Name.Local != "item" {
			continue
		}
		var it RoomItem
		for _, a := range se.Attr {
			switch a.Name.Local {
			case "jid":
				it.JID = a.Value
			case "name":
				it.Name = CleanText(a.Value)
			}
		}
		if strings.Contains(it.JID, "@") && !strings.Contains(it.JID, "/") && ValidJID(it.JID) {
			out = append(out, it)
		}
	}
	return out
}
