package xmpp

import (
	"context"
	"encoding/xml"
	"fmt"
	"strings"
	"time"

	"xircd/xmpp/omemo"
)

// SendMessage sends a message and returns the stanza id it used (m.ID, or
// a new one), which is also its XEP-0359 origin-id. The body and subject
// follow the body rule of the package documentation.
func (s *Session) SendMessage(m OutMessage) (string, error) {
	typ, err := checkOut(&m)
	if err != nil {
		return "", err
	}
	id := m.ID
	if id == "" {
		id = newID()
	}
	var modern strings.Builder
	if m.OMEMO != nil && m.Reply != nil {
		r := *m.Reply
		r.Quote = "" // the quote would be in clear beside the encrypted text
		m.Reply = &r
	}
	body := writeModern(&modern, &m)
	if m.OMEMO != nil {
		body = OMEMOFallback
		fmt.Fprintf(&modern, "%s<encryption xmlns='%s' namespace='%s' name='OMEMO'/><store xmlns='%s'/>", m.OMEMO, nsEME, omemo.Namespace, nsHints)
	}
	stanza := messageStanza(&m, typ, id, body, modern.String())
	c, err := s.current()
	if err != nil {
		return "", err
	}
	m.ID, m.Type = id, typ
	if err := c.sendItem(outItem{text: stanza, msg: &m}); err != nil {
		return "", err
	}
	return id, nil
}

// messageStanza is the stanza of m with the given type, id, body and
// modern elements. Written piece by piece rather than with fmt: this runs
// on the caller's goroutine for every message, and fmt's frames would make
// its stack deeper. The pieces are escaped first, so that the builder is
// grown once, to the stanza's size, instead of once per doubling.
func messageStanza(m *OutMessage, typ, id, body, modern string) string {
	to, eid := escapeAttr(m.To), escapeAttr(id)
	var text, subject, oob string
	if body != "" {
		text = escapeText(body)
	}
	if m.HasSubject {
		subject = escapeText(m.Subject)
	}
	if m.OOBURL != "" {
		oob = oobElement(m.OOBURL)
	}
	var b strings.Builder
	b.Grow(len(to) + len(typ) + 2*len(eid) + len(text) + len(modern) + len(subject) + len(oob) + len(m.ChatState) + stanzaMarkup)
	b.WriteString("<message to='")
	b.WriteString(to)
	b.WriteString("' type='")
	b.WriteString(typ)
	b.WriteString("' id='")
	b.WriteString(eid)
	b.WriteString("'>")
	if body != "" {
		b.WriteString("<body>")
		b.WriteString(text)
		b.WriteString("</body>")
	}
	b.WriteString(modern)
	if m.HasSubject {
		b.WriteString("<subject>")
		b.WriteString(subject)
		b.WriteString("</subject>")
	}
	b.WriteString(oob)
	if m.ChatState != "" {
		b.WriteString("<")
		b.WriteString(m.ChatState)
		b.WriteString(" xmlns='")
		b.WriteString(nsChatStates)
		b.WriteString("'/>")
	}
	if m.Body == "" && !m.HasSubject && m.Reactions == nil {
		// A pure chat-state notification is not worth storing.
		b.WriteString("<no-store xmlns='urn:xmpp:hints'/>")
	}
	b.WriteString("<origin-id xmlns='")
	b.WriteString(nsSID)
	b.WriteString("' id='")
	b.WriteString(eid)
	b.WriteString("'/></message>")
	return b.String()
}

// stanzaMarkup is what messageStanza writes around the pieces it is
// given, at most.
const stanzaMarkup = len("<message to='' type='' id=''><body></body><subject></subject>< xmlns='" + nsChatStates + "'/><no-store xmlns='urn:xmpp:hints'/><origin-id xmlns='" + nsSID + "' id=''/></message>")

// checkOut checks m's recipient, type and chat state; typ is its type,
// "chat" when it has none.
func checkOut(m *OutMessage) (typ string, err error) {
	if !ValidJID(m.To) {
		return "", fmt.Errorf("xmpp: invalid recipient %q", m.To)
	}
	typ = m.Type
	switch typ {
	case "":
		typ = "chat"
	case "chat", "groupchat", "normal", "headline":
	default:
		return "", fmt.Errorf("xmpp: invalid message type %q", m.Type)
	}
	switch m.ChatState {
	case "", "active", "composing", "paused", "inactive", "gone":
	default:
		return "", fmt.Errorf("xmpp: invalid chat state %q", m.ChatState)
	}
	return typ, nil
}

// SetPresence sets the user's own presence, to the server and to every
// joined room: show is "" (available), "away", "xa", "dnd" or "chat". It
// is remembered and sent again after a reconnect.
func (s *Session) SetPresence(show, status string) error {
	switch show {
	case "", "away", "xa", "dnd", "chat":
	default:
		return fmt.Errorf("xmpp: invalid show %q", show)
	}
	s.mu.Lock()
	s.show, s.status = show, status
	rooms := make(map[string]string, len(s.rooms))
	for r, n := range s.rooms {
		rooms[r] = n
	}
	s.mu.Unlock()
	if err := s.send(s.presenceStanza("", "", show, status)); err != nil {
		return err
	}
	for room, nick := range rooms {
		s.send(s.presenceStanza(room+"/"+nick, "", show, status))
	}
	return nil
}

// presenceStanza builds an available presence (with our priority) to the
// given address ("" = broadcast); extra is raw XML appended inside.
func (s *Session) presenceStanza(to, extra, show, status string) string {
	var b strings.Builder
	b.WriteString("<presence")
	if to != "" {
		fmt.Fprintf(&b, " to='%s'", escapeAttr(to))
	}
	b.WriteString(">")
	if show != "" {
		fmt.Fprintf(&b, "<show>%s</show>", show)
	}
	if status != "" {
		fmt.Fprintf(&b, "<status>%s</status>", escapeText(status))
	}
	fmt.Fprintf(&b, "<priority>%d</priority><c xmlns='%s' hash='sha-1' node='%s' ver='%s'/>%s</presence>",
		s.cfg.Priority, nsCaps, capsNode, s.capsVer, extra)
	return b.String()
}

// RosterSet adds or updates a roster item (name, groups). Its answer is a
// RequestDone{Op: "roster-set"}.
func (s *Session) RosterSet(item RosterItem) (string, error) {
	if !ValidJID(item.JID) || strings.Contains(item.JID, "/") {
		return "", fmt.Errorf("xmpp: invalid roster JID %q", item.JID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<query xmlns='%s'><item jid='%s'", nsRoster, escapeAttr(item.JID))
	if item.Name != "" {
		fmt.Fprintf(&b, " name='%s'", escapeAttr(item.Name))
	}
	b.WriteString(">")
	for _, g := range item.Groups {
		if g != "" {
			fmt.Fprintf(&b, "<group>%s</group>", escapeText(g))
		}
	}
	b.WriteString("</item></query>")
	return s.requestDone(context.Background(), "roster-set", "", "set", b.String())
}

// RosterRemove removes a contact, which also cancels the subscriptions
// both ways. Its answer is a RequestDone{Op: "roster-remove"}.
func (s *Session) RosterRemove(jid string) (string, error) {
	if !ValidJID(jid) {
		return "", fmt.Errorf("xmpp: invalid roster JID %q", jid)
	}
	return s.requestDone(context.Background(), "roster-remove", "", "set",
		fmt.Sprintf("<query xmlns='%s'><item jid='%s' subscription='remove'/></query>", nsRoster, escapeAttr(BareJID(jid))))
}

// startRequest starts a request whose answer comes later (see
// RequestDone): do runs in its own goroutine with the current stream and
// the request's id, and the event it returns is emitted. The stream waits
// for its requests before it reports Disconnected, so their failures come
// first.
func (s *Session) startRequest(do func(c *conn, id string) Event) (string, error) {
	c, err := s.current()
	if err != nil {
		return "", err
	}
	c.mu.Lock()
	if c.ended {
		c.mu.Unlock()
		return "", ErrNotConnected
	}
	c.requests.Add(1)
	c.mu.Unlock()
	id := newID()
	go func() {
		defer c.requests.Done()
		s.emit(do(c, id))
	}()
	return id, nil
}

// requestDone starts a request of one IQ whose answer is a RequestDone.
func (s *Session) requestDone(ctx context.Context, op, to, typ, payload string) (string, error) {
	return s.startRequest(func(c *conn, id string) Event {
		return RequestDone{ID: id, Op: op, Err: iqError(c.iq(ctx, to, typ, payload))}
	})
}

// Subscribe asks jid for its presence.
func (s *Session) Subscribe(jid string) error { return s.subscription(jid, "subscribe") }

// Approve accepts jid's subscription request.
func (s *Session) Approve(jid string) error { return s.subscription(jid, "subscribed") }

// Deny refuses jid's subscription request (or revokes an approval).
func (s *Session) Deny(jid string) error { return s.subscription(jid, "unsubscribed") }

// Unsubscribe stops receiving jid's presence.
func (s *Session) Unsubscribe(jid string) error { return s.subscription(jid, "unsubscribe") }

func (s *Session) subscription(jid, typ string) error {
	if !ValidJID(jid) {
		return fmt.Errorf("xmpp: invalid JID %q", jid)
	}
	return s.send(fmt.Sprintf("<presence to='%s' type='%s'/>", escapeAttr(BareJID(jid)), typ))
}

// JoinRoom joins a XEP-0045 room (bare JID) as nick, with the room
// password if any. History: historyMaxStanzas < 0 leaves the amount to the
// room, 0 asks for none, n > 0 for at most n messages; a non-zero since asks
// only for messages after that time. The room answers with presences
// (status 110 marks our own) or an error presence. Joined rooms are
// forgotten when the connection drops: rejoin after Connected.
func (s *Session) JoinRoom(room, nick, password string, historyMaxStanzas int, since time.Time) error {
	room = BareJID(room)
	if !ValidJID(room) || !strings.Contains(room, "@") || nick == "" || !ValidJID(room+"/"+nick) {
		return fmt.Errorf("xmpp: invalid room %q or nick %q", room, nick)
	}
	var x strings.Builder
	fmt.Fprintf(&x, "<x xmlns='%s'>", nsMUC)
	if password != "" {
		fmt.Fprintf(&x, "<password>%s</password>", escapeText(password))
	}
	if historyMaxStanzas >= 0 || !since.IsZero() {
		x.WriteString("<history")
		if historyMaxStanzas >= 0 {
			fmt.Fprintf(&x, " maxstanzas='%d'", historyMaxStanzas)
		}
		if !since.IsZero() {
			fmt.Fprintf(&x, " since='%s'", since.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
		x.WriteString("/>")
	}
	x.WriteString("</x>")
	s.mu.Lock()
	show, status := s.show, s.status
	s.mu.Unlock()
	if err := s.send(s.presenceStanza(room+"/"+nick, x.String(), show, status)); err != nil {
		return err
	}
	s.mu.Lock()
	s.rooms[room] = nick
	s.mu.Unlock()
	return nil
}

// LeaveRoom leaves a room given by its bare JID (our nick is remembered
// from JoinRoom) or by our occupant JID, with an optional status message.
func (s *Session) LeaveRoom(room, status string) error {
	bare := BareJID(room)
	s.mu.Lock()
	nick, joined := s.rooms[bare]
	delete(s.rooms, bare)
	s.mu.Unlock()
	to := room
	if !strings.Contains(room, "/") {
		if !joined {
			return fmt.Errorf("xmpp: not in room %q", room)
		}
		to = room + "/" + nick
	}
	if !ValidJID(to) {
		return fmt.Errorf("xmpp: invalid room %q", room)
	}
	st := ""
	if status != "" {
		st = "<status>" + escapeText(status) + "</status>"
	}
	return s.send(fmt.Sprintf("<presence to='%s' type='unavailable'>%s</presence>", escapeAttr(to), st))
}

// IQResult is the answer to SendIQ.
type IQResult struct {
	From    string
	Type    string       // "result" or "error"
	Payload []byte       // inner XML of the answer
	Err     *StanzaError // Type == "error"
}

// SendIQ sends an IQ of type get or set to to ("" = the account) with
// payload as its child and waits for the answer. payload is raw XML that the
// caller must build well-formed and escaped; it is checked for
// well-formedness before sending. The answer must come from to (or, for "",
// from the account or its server); anything else is ignored.
func (s *Session) SendIQ(ctx context.Context, to, typ, payload string) (*IQResult, error) {
	if typ != "get" && typ != "set" {
		return nil, fmt.Errorf("xmpp: invalid iq type %q", typ)
	}
	if to != "" && !ValidJID(to) {
		return nil, fmt.Errorf("xmpp: invalid JID %q", to)
	}
	if err := checkWellFormed(payload); err != nil {
		return nil, fmt.Errorf("xmpp: iq payload: %w", err)
	}
	c, err := s.current()
	if err != nil {
		return nil, err
	}
	return c.iq(ctx, to, typ, payload)
}

// iq sends an IQ on this stream and waits for the answer, until ctx ends
// or the stream is lost.
func (c *conn) iq(ctx context.Context, to, typ, payload string) (*IQResult, error) {
	reply := make(chan *xmlIQ, 1)
	id, err := c.requestIQ("iq", to, typ, payload, reply)
	if err != nil {
		return nil, err
	}
	iq, err := c.awaitIQ(ctx, id, reply)
	if err != nil {
		return nil, err
	}
	res := &IQResult{From: iq.From, Type: iq.Type, Payload: iq.Inner}
	if iq.Type == "error" {
		res.Err = iq.Error.errorOf()
	}
	return res, nil
}

// iqError turns an IQ answer into an error: nil for a result, the
// stanza error (or undefined-condition) for an error.
func iqError(res *IQResult, err error) error {
	switch {
	case err != nil:
		return err
	case res.Type == "error" && res.Err != nil:
		return res.Err
	case res.Type == "error":
		return &StanzaError{Condition: "undefined-condition"}
	}
	return nil
}

func checkWellFormed(payload string) error {
	d := xml.NewDecoder(strings.NewReader("<x>" + payload + "</x>"))
	for {
		_, err := d.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return nil
			}
			return err
		}
	}
}
