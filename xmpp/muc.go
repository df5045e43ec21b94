package xmpp

import (
	"context"
	"fmt"
	"strings"
)

// InviteToRoom sends a XEP-0045 mediated invitation: the room (bare JID)
// forwards it to the invitee, adding the password if the room has one.
func (s *Session) InviteToRoom(room, to, reason string) error {
	room, to = BareJID(room), BareJID(to)
	if !ValidJID(room) || !ValidJID(to) {
		return fmt.Errorf("xmpp: invalid room %q or invitee %q", room, to)
	}
	r := ""
	if reason != "" {
		r = "<reason>" + escapeText(reason) + "</reason>"
	}
	return s.send(fmt.Sprintf("<message to='%s' id='%s'><x xmlns='%s'><invite to='%s'>%s</invite></x></message>",
		escapeAttr(room), newID(), nsMUCUser, escapeAttr(to), r))
}

// conferenceXML is a bookmark as a XEP-0402 or XEP-0048 conference element
// (xmlns is "" inside XEP-0048 storage).
func conferenceXML(bm Bookmark, xmlns, jidAttr string) string {
	var b strings.Builder
	b.WriteString("<conference")
	if xmlns != "" {
		fmt.Fprintf(&b, " xmlns='%s'", xmlns)
	}
	if jidAttr != "" {
		fmt.Fprintf(&b, " jid='%s'", escapeAttr(jidAttr))
	}
	if bm.Name != "" {
		fmt.Fprintf(&b, " name='%s'", escapeAttr(bm.Name))
	}
	fmt.Fprintf(&b, " autojoin='%t'>", bm.Autojoin)
	if bm.Nick != "" {
		fmt.Fprintf(&b, "<nick>%s</nick>", escapeText(bm.Nick))
	}
	if bm.Password != "" {
		fmt.Fprintf(&b, "<password>%s</password>", escapeText(bm.Password))
	}
	b.WriteString("</conference>")
	return b.String()
}

// SetBookmark adds or replaces the bookmark of bm.JID: in the XEP-0402 PEP
// node (private to the account), else in XEP-0048 private storage. Its
// answer is a RequestDone{Op: "set-bookmark"}.
func (s *Session) SetBookmark(ctx context.Context, bm Bookmark) (string, error) {
	bm.JID = BareJID(bm.JID)
	if !ValidJID(bm.JID) || !strings.Contains(bm.JID, "@") {
		return "", fmt.Errorf("xmpp: invalid room %q", bm.JID)
	}
	return s.startRequest(func(c *conn, id string) Event {
		return RequestDone{ID: id, Op: "set-bookmark", Err: c.setBookmark(ctx, bm)}
	})
}

func (c *conn) setBookmark(ctx context.Context, bm Bookmark) error {
	res, err := c.iq(ctx, "", "set", "<pubsub xmlns='"+nsPubSub+"'><publish node='"+nsBookmarks+"'><item id='"+escapeAttr(bm.JID)+"'>"+
		conferenceXML(bm, nsBookmarks, "")+"</item></publish>"+
		"<publish-options><x xmlns='jabber:x:data' type='submit'>"+
		"<field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field>"+
		"<field var='pubsub#persist_items'><value>true</value></field>"+
		"<field var='pubsub#max_items'><value>max</value></field>"+
		"<field var='pubsub#send_last_published_item'><value>never</value></field>"+
		"<field var='pubsub#access_model'><value>whitelist</value></field>"+
		"</x></publish-options></pubsub>")
	if err != nil {
		return err
	}
	if res.Type == "result" {
		return nil
	}
	return c.editOldBookmarks(ctx, bm.JID, &bm)
}

// RemoveBookmark removes the bookmark of room from wherever it is kept.
// Its answer is a RequestDone{Op: "remove-bookmark"}.
func (s *Session) RemoveBookmark(ctx context.Context, room string) (string, error) {
	room = BareJID(room)
	if !ValidJID(room) {
		return "", fmt.Errorf("xmpp: invalid room %q", room)
	}
	return s.startRequest(func(c *conn, id string) Event {
		return RequestDone{ID: id, Op: "remove-bookmark", Err: c.removeBookmark(ctx, room)}
	})
}

func (c *conn) removeBookmark(ctx context.Context, room string) error {
	res, err := c.iq(ctx, "", "set", "<pubsub xmlns='"+nsPubSub+"'><retract node='"+nsBookmarks+"' notify='true'><item id='"+escapeAttr(room)+"'/></retract></pubsub>")
	if err != nil {
		return err
	}
	if res.Type == "result" {
		return nil
	}
	return c.editOldBookmarks(ctx, room, nil)
}

// editOldBookmarks replaces (bm != nil) or removes the conference of room
// in XEP-0048 private storage.
func (c *conn) editOldBookmarks(ctx context.Context, room string, bm *Bookmark) error {
	res, err := c.iq(ctx, "", "get", "<query xmlns='"+nsPrivate+"'><storage xmlns='"+nsOldBookmarks+"'/></query>")
	if err := iqError(res, err); err != nil {
		return err
	}
	var r struct {
		Conferences []xmlConference `xml:"jabber:iq:private query>storage>conference"`
	}
	if err := unmarshalInner(res.Payload, &r); err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("<query xmlns='" + nsPrivate + "'><storage xmlns='" + nsOldBookmarks + "'>")
	for _, c := range r.Conferences {
		if !ValidJID(c.JID) || BareJID(c.JID) == room {
			continue
		}
		b.WriteString(conferenceXML(c.toBookmark(c.JID), "", c.JID))
	}
	if bm != nil {
		b.WriteString(conferenceXML(*bm, "", bm.JID))
	}
	b.WriteString("</storage></query>")
	return iqError(c.iq(ctx, "", "set", b.String()))
}
