package xmpp

import (
	"context"
	"encoding/xml"
	"strings"
)

const (
	nsPubSub       = "http://jabber.org/protocol/pubsub"
	nsBookmarks    = "urn:xmpp:bookmarks:1"
	nsPrivate      = "jabber:iq:private"
	nsOldBookmarks = "storage:bookmarks"
)

// Bookmark is a saved group chat (XEP-0402, or XEP-0048 on older servers).
type Bookmark struct {
	JID      string // room bare JID
	Name     string
	Nick     string
	Password string
	Autojoin bool
}

type xmlConference struct {
	JID      string `xml:"jid,attr"`
	Name     string `xml:"name,attr"`
	Autojoin string `xml:"autojoin,attr"`
	Nick     string `xml:"nick"`
	Password string `xml:"password"`
}

func (c xmlConference) toBookmark(jid string) Bookmark {
	return Bookmark{
		JID:      BareJID(jid),
		Name:     CleanText(c.Name),
		Nick:     CleanText(strings.TrimSpace(c.Nick)),
		Password: c.Password,
		Autojoin: c.Autojoin == "true" || c.Autojoin == "1",
	}
}

// Bookmarks asks for the account's bookmarked rooms: the XEP-0402 PEP
// node when the server has it, else XEP-0048 private storage. Its answer
// is a BookmarkList.
func (s *Session) Bookmarks(ctx context.Context) (string, error) {
	return s.startRequest(func(c *conn, id string) Event {
		list, err := c.bookmarks(ctx)
		return BookmarkList{ID: id, Bookmarks: list, Err: err}
	})
}

func (c *conn) bookmarks(ctx context.Context) ([]Bookmark, error) {
	res, err := c.iq(ctx, "", "get", "<pubsub xmlns='"+nsPubSub+"'><items node='"+nsBookmarks+"'/></pubsub>")
	if err != nil {
		return nil, err
	}
	if res.Type == "result" {
		var r struct {
			Items []struct {
				ID         string        `xml:"id,attr"`
				Conference xmlConference `xml:"urn:xmpp:bookmarks:1 conference"`
			} `xml:"http://jabber.org/protocol/pubsub pubsub>items>item"`
		}
		if err := unmarshalInner(res.Payload, &r); err != nil {
			return nil, err
		}
		var out []Bookmark
		for _, it := range r.Items {
			if ValidJID(it.ID) {
				out = append(out, it.Conference.toBookmark(it.ID))
			}
		}
		return out, nil
	}
	// No XEP-0402 node (or no PEP at all): try the older storage.
	res, err = c.iq(ctx, "", "get", "<query xmlns='"+nsPrivate+"'><storage xmlns='"+nsOldBookmarks+"'/></query>")
	if err := iqError(res, err); err != nil {
		return nil, err
	}
	var r struct {
		Conferences []xmlConference `xml:"jabber:iq:private query>storage>conference"`
	}
	if err := unmarshalInner(res.Payload, &r); err != nil {
		return nil, err
	}
	var out []Bookmark
	for _, c := range r.Conferences {
		if ValidJID(c.JID) {
			out = append(out, c.toBookmark(c.JID))
		}
	}
	return out, nil
}

// unmarshalInner decodes the inner XML of an IQ into v, whose paths start
// at the IQ's child.
func unmarshalInner(inner []byte, v any) error {
	b := make([]byte, 0, len(inner)+7)
	b = append(b, "<x>"...)
	b = append(b, inner...)
	b = append(b, "</x>"...)
	return xml.Unmarshal(b, v)
}
