package xmpp

import (
	"context"
	"fmt"
	"strings"
	"time"
)

const (
	nsMAM = "urn:xmpp:mam:2"
	nsRSM = "http://jabber.org/protocol/rsm"
)

// ArchiveQuery selects messages from a XEP-0313 archive.
type ArchiveQuery struct {
	Archive string    // "" for the account's archive, or a room's bare JID
	With    string    // only messages with this JID (account archive only)
	Start   time.Time // only messages at or after this time
	End     time.Time // only messages at or before this time
	After   string    // page after this archive id (ArchivePage.Last)
	Max     int       // page size; 0 means 100
	// Before asks for the page before this archive id (ArchivePage.First);
	// FromEnd with no Before asks for the newest page. Either way the page
	// still lists its messages oldest first.
	Before  string
	FromEnd bool
	// AfterID and BeforeID bound the messages by archive id (XEP-0313's
	// after-id and before-id fields, both exclusive), IDs selects messages
	// by archive id (XEP-0313's ids field): for servers that offer
	// urn:xmpp:mam:2#extended.
	AfterID  string
	BeforeID string
	IDs      []string
}

type xmlMAMResult struct {
	QueryID   string        `xml:"queryid,attr"`
	ID        string        `xml:"id,attr"`
	Forwarded *xmlForwarded `xml:"urn:xmpp:forward:0 forwarded"`
}

type xmlMAMFin struct {
	Complete string `xml:"complete,attr"`
	Set      struct {
		First string `xml:"first"`
		Last  string `xml:"last"`
	} `xml:"http://jabber.org/protocol/rsm set"`
}

// archiveCollector gathers the result messages of one query.
type archiveCollector struct {
	from string // the archive that must send them ("" = our account)
	msgs []Message
}

// QueryArchive asks for one page of archived messages. Its answer is an
// ArchivePage. Only messages sent by the queried archive itself are
// accepted.
func (s *Session) QueryArchive(ctx context.Context, q ArchiveQuery) (string, error) {
	if q.Archive != "" && !ValidJID(q.Archive) {
		return "", fmt.Errorf("xmpp: invalid archive %q", q.Archive)
	}
	if q.With != "" && !ValidJID(q.With) {
		return "", fmt.Errorf("xmpp: invalid JID %q", q.With)
	}
	return s.startRequest(func(c *conn, id string) Event {
		page, err := c.queryArchive(ctx, q)
		page.ID, page.Err = id, err
		return page
	})
}

func (c *conn) queryArchive(ctx context.Context, q ArchiveQuery) (ArchivePage, error) {
	max := q.Max
	if max <= 0 {
		max = 100
	}
	qid := newID()
	var b strings.Builder
	fmt.Fprintf(&b, "<query xmlns='%s' queryid='%s'><x xmlns='jabber:x:data' type='submit'>", nsMAM, qid)
	fmt.Fprintf(&b, "<field var='FORM_TYPE' type='hidden'><value>%s</value></field>", nsMAM)
	field := func(name, value string) {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", name, escapeText(value))
	}
	if q.With != "" {
		field("with", q.With)
	}
	if !q.Start.IsZero() {
		field("start", q.Start.UTC().Format(time.RFC3339Nano))
	}
	if !q.End.IsZero() {
		field("end", q.End.UTC().Format(time.RFC3339Nano))
	}
	if q.AfterID != "" {
		field("after-id", q.AfterID)
	}
	if q.BeforeID != "" {
		field("before-id", q.BeforeID)
	}
	if len(q.IDs) > 0 {
		b.WriteString("<field var='ids'>")
		for _, id := range q.IDs {
			fmt.Fprintf(&b, "<value>%s</value>", escapeText(id))
		}
		b.WriteString("</field>")
	}
	fmt.Fprintf(&b, "</x><set xmlns='%s'><max>%d</max>", nsRSM, max)
	switch {
	case q.After != "":
		fmt.Fprintf(&b, "<after>%s</after>", escapeText(q.After))
	case q.Before != "":
		fmt.Fprintf(&b, "<before>%s</before>", escapeText(q.Before))
	case q.FromEnd:
		b.WriteString("<before/>")
	}
	b.WriteString("</set></query>")

	col := &archiveCollector{from: BareJID(q.Archive)}
	c.mu.Lock()
	if c.archives == nil {
		c.archives = map[string]*archiveCollector{}
	}
	c.archives[qid] = col
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.archives, qid)
		c.mu.Unlock()
	}()

	res, err := c.iq(ctx, q.Archive, "set", b.String())
	if err := iqError(res, err); err != nil {
		return ArchivePage{}, err
	}
	var fin struct {
		Fin *xmlMAMFin `xml:"urn:xmpp:mam:2 fin"`
	}
	unmarshalInner(res.Payload, &fin)
	var page ArchivePage
	c.mu.Lock()
	page.Messages = col.msgs
	c.mu.Unlock()
	if fin.Fin != nil {
		page.Complete = fin.Fin.Complete == "true" || fin.Fin.Complete == "1"
		page.First, page.Last = fin.Fin.Set.First, fin.Fin.Set.Last
	}
	if len(page.Messages) > 0 {
		if page.First == "" {
			page.First = page.Messages[0].StanzaID
		}
		if page.Last == "" {
			page.Last = page.Messages[len(page.Messages)-1].StanzaID
		}
	}
	return page, nil
}

// archiveResult files a MAM result message; it reports whether m was one
// (results of unknown queries or from the wrong sender are dropped).
func (c *conn) archiveResult(m *xmlMessage) bool {
	if m.MAMResult == nil {
		return false
	}
	r := m.MAMResult
	c.mu.Lock()
	defer c.mu.Unlock()
	col := c.archives[r.QueryID]
	if col == nil || r.Forwarded == nil || r.Forwarded.Message == nil {
		return true
	}
	from := strings.ToLower(m.From)
	if col.from == "" {
		if from != "" && from != c.s.bare {
			return true
		}
	} else if from != col.from {
		return true
	}
	msg := r.Forwarded.Message.toMessage(c.s.bare, r.Forwarded.Delay)
	msg.StanzaID = r.ID
	col.msgs = append(col.msgs, msg)
	return true
}
