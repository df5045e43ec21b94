package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	goxmpp "github.com/xmppo/go-xmpp"

	"xircd/xmpp"
)

// peer is a contact's XMPP client on the other side of the gateway. It
// shares no code with xircd's xmpp package, so that a bug of that package
// cannot hide itself by being on both sides: go-xmpp logs in, writes the
// stanzas and reads the socket, and the harness decodes every stanza it
// receives itself (encoding/xml, the raw* types below), because go-xmpp's
// parsed values drop what tests check (stanza ids, MUC status codes,
// archive results, error conditions). What it decodes is handed to tests as
// the plain data types of package xmpp (xmpp.Message, xmpp.Presence, ...)
// so that tests read alike on both sides.
//
// The peer does not reconnect: when its stream ends it records an
// xmpp.Disconnected, and a test that needs it again logs in anew.
type peer struct {
	t    *testing.T
	c    *goxmpp.Client
	jid  string // bare
	done chan struct{}

	closeOnce sync.Once

	mu      sync.Mutex
	cond    *sync.Cond
	events  []xmpp.Event
	pending map[string]func(rawStanza)   // IQ answers awaited, by id
	pages   map[string]*xmpp.ArchivePage // archive queries under way, by queryid
	rooms   map[string]string            // joined rooms and our nick there
}

const (
	nsStream      = "http://etherx.jabber.org/streams"
	nsClient      = "jabber:client"
	nsStanzas     = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsRoster      = "jabber:iq:roster"
	nsMAM         = "urn:xmpp:mam:2"
	nsMUCUser     = "http://jabber.org/protocol/muc#user"
	nsDiscoInfo   = "http://jabber.org/protocol/disco#info"
	nsForward     = "urn:xmpp:forward:0"
	nsDelay       = "urn:xmpp:delay"
	nsSID         = "urn:xmpp:sid:0"
	nsChatStates  = "http://jabber.org/protocol/chatstates"
	nsChatMarkers = "urn:xmpp:chat-markers:0"
	nsReply       = "urn:xmpp:reply:0"
	nsFallback    = "urn:xmpp:fallback:0"
	nsReactions   = "urn:xmpp:reactions:0"
	nsCorrect     = "urn:xmpp:message-correct:0"
)

// peer logs in as user (a contact account, or "me" for another client of
// the user's account) with resource, and waits for its roster.
func (e *env) peer(user, resource string) *peer {
	e.t.Helper()
	jid := user + "@" + e.srv.Domain
	p := &peer{t: e.t, jid: jid, done: make(chan struct{}),
		pending: map[string]func(rawStanza){}, pages: map[string]*xmpp.ArchivePage{}, rooms: map[string]string{}}
	p.cond = sync.NewCond(&p.mu)
	received, tap := io.Pipe()
	go p.decode(received)
	opts := e.goxmppOptions(user, resource)
	// The debug copy of the stream is how the harness sees each stanza
	// whole.
	opts.Debug, opts.DebugWriter = true, recvTap{tap}
	c, err := opts.NewClient()
	if err != nil {
		tap.CloseWithError(err)
		e.t.Fatalf("peer %s/%s: %v", user, resource, err)
	}
	p.c = c
	p.push(xmpp.Connected{JID: c.JID()})
	go func() {
		var err error
		for err == nil {
			_, err = c.Recv() // go-xmpp answers pings itself; all else is decoded from the tap
		}
		c.Close()
		tap.CloseWithError(err)
		p.push(xmpp.Disconnected{Err: err})
		close(p.done)
	}()
	// At the end of a test nothing waits for the stream to close: after a
	// flood the server may take longer than a test's timeout to get to it.
	e.t.Cleanup(func() { p.closeOnce.Do(func() { go p.c.SendOrg("</stream:stream>") }) })
	if err := c.Roster(); err != nil {
		e.t.Fatal(err)
	}
	p.expect(func(ev xmpp.Event) bool { _, ok := ev.(xmpp.Roster); return ok })
	return p
}

// goxmppOptions are the go-xmpp options to log in as user (a contact
// account, or "me") with resource: STARTTLS with the test CA.
func (e *env) goxmppOptions(user, resource string) goxmpp.Options {
	e.t.Helper()
	pem, err := os.ReadFile(e.srv.CAFile)
	if err != nil {
		e.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	pass := user + "-pass"
	if user == "me" {
		pass = userPass
	}
	return goxmpp.Options{
		Host:        e.srv.Addr,
		User:        user + "@" + e.srv.Domain,
		Password:    pass,
		Resource:    resource,
		NoTLS:       true,
		StartTLS:    true,
		TLSConfig:   &tls.Config{ServerName: e.srv.Domain, RootCAs: pool},
		DialTimeout: 10 * time.Second,
	}
}

// recvTap turns go-xmpp's debug output back into the bytes it received:
// each read arrives as one write, prefixed "RECV " and followed by a line
// feed when it did not end in one (a line feed that ends a read is thus
// lost; servers end reads at stanza boundaries, where it is only space).
type recvTap struct{ w *io.PipeWriter }

func (r recvTap) Write(b []byte) (int, error) {
	if read, ok := bytes.CutPrefix(b, []byte("RECV ")); ok {
		if _, err := r.w.Write(bytes.TrimSuffix(read, []byte("\n"))); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// rawStanza is a received stanza, or any element inside one.
type rawStanza struct {
	XMLName  xml.Name
	Attrs    []xml.Attr  `xml:",any,attr"`
	Text     string      `xml:",chardata"`
	Inner    []byte      `xml:",innerxml"`
	Children []rawStanza `xml:",any"`
}

func (s *rawStanza) attr(name string) string {
	for _, a := range s.Attrs {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// child is the first child element space/local ("" space: any), or nil.
func (s *rawStanza) child(space, local string) *rawStanza {
	for i, c := range s.Children {
		if (space == "" || c.XMLName.Space == space) && c.XMLName.Local == local {
			return &s.Children[i]
		}
	}
	return nil
}

// childText is the text of the child space/local, "" when absent.
func (s *rawStanza) childText(space, local string) string {
	if c := s.child(space, local); c != nil {
		return c.Text
	}
	return ""
}

// decode reads the received stream and handles each stanza. The stream is
// opened anew after STARTTLS and after the login; go-xmpp reads the login
// itself, so only stanzas (message, presence, iq) are handled.
func (p *peer) decode(r *io.PipeReader) {
	d := xml.NewDecoder(r)
	depth, stanzaDepth := 0, -1
	for {
		tok, err := d.Token()
		if err != nil {
			r.CloseWithError(err)
			return
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if t.Name.Space == nsStream && t.Name.Local == "stream" {
				stanzaDepth = depth + 1
				continue
			}
			if depth != stanzaDepth {
				continue
			}
			var st rawStanza
			if err := d.DecodeElement(&st, &t); err != nil {
				r.CloseWithError(fmt.Errorf("peer %s: decoding a stanza: %w", p.jid, err))
				return
			}
			depth--
			if st.XMLName.Space == nsClient {
				p.handle(st)
			}
		case xml.EndElement:
			depth--
		}
	}
}

func (p *peer) handle(st rawStanza) {
	switch st.XMLName.Local {
	case "message":
		if res := st.child(nsMAM, "result"); res != nil {
			p.archived(res)
			return
		}
		p.push(p.message(&st, nil))
	case "presence":
		switch typ := st.attr("type"); typ {
		case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
			p.push(xmpp.Subscription{From: bare(st.attr("from")), Type: typ, Status: st.childText("", "status"),
				Nick: st.childText("http://jabber.org/protocol/nick", "nick")})
		default:
			p.push(presenceOf(&st))
		}
	case "iq":
		p.iqReceived(st)
	}
}

func (p *peer) iqReceived(st rawStanza) {
	typ, id := st.attr("type"), st.attr("id")
	switch typ {
	case "result", "error":
		p.mu.Lock()
		answer := p.pending[id]
		delete(p.pending, id)
		p.mu.Unlock()
		if answer != nil {
			answer(st)
		} else if q := st.child(nsRoster, "query"); q != nil && typ == "result" {
			p.push(xmpp.Roster{Items: rosterItems(q)})
		}
		return
	}
	var payload rawStanza
	if len(st.Children) > 0 {
		payload = st.Children[0]
	}
	ns, name := payload.XMLName.Space, payload.XMLName.Local
	switch {
	case typ == "get" && (ns == "urn:xmpp:ping" || ns == "jabber:iq:version"):
		// go-xmpp answers these.
	case typ == "set" && ns == nsRoster && (st.attr("from") == "" || bare(st.attr("from")) == p.jid):
		p.reply(st, "result", "")
		for _, it := range rosterItems(&payload) {
			p.push(xmpp.RosterPush{Item: it})
		}
	case typ == "get" && ns == nsDiscoInfo && name == "query":
		p.reply(st, "result", "<query xmlns='"+nsDiscoInfo+"'><identity category='client' type='pc' name='e2e peer'/>"+
			"<feature var='"+nsDiscoInfo+"'/><feature var='urn:xmpp:ping'/></query>")
	default:
		p.reply(st, "error", "<error type='cancel'><service-unavailable xmlns='"+nsStanzas+"'/></error>")
	}
}

func (p *peer) reply(iq rawStanza, typ, payload string) {
	to := ""
	if from := iq.attr("from"); from != "" {
		to = " to='" + escape(from) + "'"
	}
	p.c.SendOrg(fmt.Sprintf("<iq type='%s' id='%s'%s>%s</iq>", typ, escape(iq.attr("id")), to, payload))
}

// message converts a message stanza; delay is the delay of the forward
// that wraps it, if any.
func (p *peer) message(st *rawStanza, delay *rawStanza) xmpp.Message {
	m := xmpp.Message{
		ID:     st.attr("id"),
		From:   st.attr("from"),
		To:     st.attr("to"),
		Type:   st.attr("type"),
		Body:   st.childText(nsClient, "body"),
		Thread: st.childText(nsClient, "thread"),
	}
	if m.Type == "" {
		m.Type = "normal"
	}
	if s := st.child(nsClient, "subject"); s != nil {
		m.Subject, m.HasSubject = s.Text, true
	}
	if o := st.child(nsSID, "origin-id"); o != nil {
		m.OriginID = o.attr("id")
	}
	// A room's message is known by the room's stanza-id, any other by
	// the one of our own server.
	by := p.jid
	if m.Type == "groupchat" {
		by = bare(m.From)
	}
	for _, c := range st.Children {
		switch {
		case c.XMLName.Space == nsSID && c.XMLName.Local == "stanza-id" && strings.EqualFold(c.attr("by"), by):
			m.StanzaID = c.attr("id")
		case c.XMLName.Space == nsChatStates:
			m.ChatState = c.XMLName.Local
		case c.XMLName.Space == nsChatMarkers && c.XMLName.Local == "markable":
			m.Markable = true
		case c.XMLName.Space == nsReply && c.XMLName.Local == "reply":
			m.Reply = &xmpp.Reply{To: c.attr("to"), ID: c.attr("id")}
			m.ReplyText = withoutFallback(m.Body, st)
		case c.XMLName.Space == nsReactions && c.XMLName.Local == "reactions":
			m.Reactions = &xmpp.Reactions{ID: c.attr("id"), Emojis: []string{}}
			for _, r := range c.Children {
				if r.XMLName.Local == "reaction" {
					m.Reactions.Emojis = append(m.Reactions.Emojis, r.Text)
				}
			}
		case c.XMLName.Space == nsCorrect && c.XMLName.Local == "replace":
			m.Replace = c.attr("id")
		}
	}
	if delay == nil {
		delay = st.child(nsDelay, "delay")
	}
	if delay != nil {
		m.Delay, _ = time.Parse(time.RFC3339Nano, delay.attr("stamp"))
		m.Delay = m.Delay.UTC()
	}
	if m.Type == "error" {
		m.Error = stanzaError(st)
	}
	if x := st.child(nsMUCUser, "x"); x != nil {
		if inv := x.child(nsMUCUser, "invite"); inv != nil {
			m.Invite = &xmpp.MUCInvite{Room: bare(m.From), From: inv.attr("from"), Reason: inv.childText(nsMUCUser, "reason"),
				Password: x.childText(nsMUCUser, "password")}
		}
	}
	if x := st.child("jabber:x:conference", "x"); x != nil && x.attr("jid") != "" {
		m.Invite = &xmpp.MUCInvite{Room: bare(x.attr("jid")), From: m.From, Reason: x.attr("reason"), Password: x.attr("password")}
	}
	return m
}

// withoutFallback is body without the ranges (in code points) that
// XEP-0428 fallback elements of msg mark as the quote of a reply.
func withoutFallback(body string, msg *rawStanza) string {
	runes := []rune(body)
	keep := make([]bool, len(runes))
	for i := range keep {
		keep[i] = true
	}
	for _, fb := range msg.Children {
		if fb.XMLName.Space != nsFallback || fb.attr("for") != nsReply {
			continue
		}
		for _, b := range fb.Children {
			if b.XMLName.Local != "body" {
				continue
			}
			start, end := 0, len(runes)
			if b.attr("start") != "" || b.attr("end") != "" {
				var err1, err2 error
				start, err1 = strconv.Atoi(b.attr("start"))
				end, err2 = strconv.Atoi(b.attr("end"))
				if err1 != nil || err2 != nil || start < 0 || end > len(runes) || start > end {
					continue
				}
			}
			for i := start; i < end; i++ {
				keep[i] = false
			}
		}
	}
	var out []rune
	for i, r := range runes {
		if keep[i] {
			out = append(out, r)
		}
	}
	return string(out)
}

func presenceOf(st *rawStanza) xmpp.Presence {
	pr := xmpp.Presence{
		From:   st.attr("from"),
		Type:   st.attr("type"),
		Show:   st.childText(nsClient, "show"),
		Status: st.childText(nsClient, "status"),
	}
	pr.Priority, _ = strconv.Atoi(strings.TrimSpace(st.childText(nsClient, "priority")))
	if pr.Type == "error" {
		pr.Error = stanzaError(st)
	}
	if c := st.child("http://jabber.org/protocol/caps", "c"); c != nil {
		pr.Client = c.attr("node")
	}
	if x := st.child(nsMUCUser, "x"); x != nil {
		muc := &xmpp.MUCPresence{}
		if it := x.child(nsMUCUser, "item"); it != nil {
			muc.Affiliation, muc.Role, muc.JID, muc.Nick = it.attr("affiliation"), it.attr("role"), it.attr("jid"), it.attr("nick")
			muc.Reason = it.childText(nsMUCUser, "reason")
			if a := it.child(nsMUCUser, "actor"); a != nil {
				muc.Actor = a.attr("nick")
			}
		}
		for _, s := range x.Children {
			if s.XMLName.Local == "status" {
				code, _ := strconv.Atoi(s.attr("code"))
				muc.Codes = append(muc.Codes, code)
			}
		}
		pr.MUC = muc
	}
	return pr
}

func stanzaError(st *rawStanza) *xmpp.StanzaError {
	e := st.child(nsClient, "error")
	if e == nil {
		return &xmpp.StanzaError{Condition: "undefined-condition"}
	}
	se := &xmpp.StanzaError{Type: e.attr("type"), Text: e.childText(nsStanzas, "text")}
	for _, c := range e.Children {
		if c.XMLName.Space == nsStanzas && c.XMLName.Local != "text" {
			se.Condition = c.XMLName.Local
		}
	}
	return se
}

func rosterItems(q *rawStanza) []xmpp.RosterItem {
	var items []xmpp.RosterItem
	for _, c := range q.Children {
		if c.XMLName.Local != "item" {
			continue
		}
		it := xmpp.RosterItem{JID: c.attr("jid"), Name: c.attr("name"), Subscription: c.attr("subscription"), Ask: c.attr("ask")}
		for _, g := range c.Children {
			if g.XMLName.Local == "group" {
				it.Groups = append(it.Groups, g.Text)
			}
		}
		items = append(items, it)
	}
	return items
}

// archived adds an archive result to the page of its query.
func (p *peer) archived(res *rawStanza) {
	fwd := res.child(nsForward, "forwarded")
	if fwd == nil {
		return
	}
	inner := fwd.child(nsClient, "message")
	if inner == nil {
		return
	}
	m := p.message(inner, fwd.child(nsDelay, "delay"))
	m.StanzaID = res.attr("id")
	p.mu.Lock()
	defer p.mu.Unlock()
	if page := p.pages[res.attr("queryid")]; page != nil {
		page.Messages = append(page.Messages, m)
	}
}

func (p *peer) push(ev xmpp.Event) {
	p.mu.Lock()
	p.events = append(p.events, ev)
	p.cond.Broadcast()
	p.mu.Unlock()
}

// expect waits for an event that matches and consumes it.
func (p *peer) expect(match func(xmpp.Event) bool) xmpp.Event {
	p.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	timer := time.AfterFunc(waitTimeout, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer timer.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		for i, ev := range p.events {
			if match(ev) {
				p.events = append(p.events[:i:i], p.events[i+1:]...)
				return ev
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: expected XMPP event not received; have %d events: %s", p.jid, len(p.events), summarize(p.events))
		}
		p.cond.Wait()
	}
}

// expectMessage waits for a chat message with a body from the user's account.
func (p *peer) expectMessage(body string) xmpp.Message {
	p.t.Helper()
	return p.expect(func(ev xmpp.Event) bool {
		m, ok := ev.(xmpp.Message)
		return ok && m.Body == body
	}).(xmpp.Message)
}

// send sends a chat message.
func (p *peer) send(to, body string) {
	p.t.Helper()
	if _, err := p.SendMessage(xmpp.OutMessage{To: to, Type: "chat", Body: body}); err != nil {
		p.t.Fatal(err)
	}
}

// SendMessage sends m, with its id as the XEP-0359 origin-id too, and
// returns that id.
func (p *peer) SendMessage(m xmpp.OutMessage) (string, error) {
	id := m.ID
	if id == "" {
		id = newPeerID()
	}
	typ := m.Type
	if typ == "" {
		typ = "chat"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "<message to='%s' type='%s' id='%s'>", escape(m.To), escape(typ), escape(id))
	body := m.Body
	if r := m.Reply; r != nil {
		fmt.Fprintf(&b, "<reply xmlns='%s' to='%s' id='%s'/>", nsReply, escape(r.To), escape(r.ID))
		if r.Quote != "" && body != "" {
			body = r.Quote + body
			fmt.Fprintf(&b, "<fallback xmlns='%s' for='%s'><body start='0' end='%d'/></fallback>", nsFallback, nsReply, utf8.RuneCountInString(r.Quote))
		}
	}
	if r := m.Reactions; r != nil {
		fmt.Fprintf(&b, "<reactions xmlns='%s' id='%s'>", nsReactions, escape(r.ID))
		for _, e := range r.Emojis {
			fmt.Fprintf(&b, "<reaction>%s</reaction>", escape(e))
		}
		b.WriteString("</reactions><store xmlns='urn:xmpp:hints'/>")
	}
	if m.Replace != "" {
		fmt.Fprintf(&b, "<replace xmlns='%s' id='%s'/>", nsCorrect, escape(m.Replace))
	}
	if body != "" {
		fmt.Fprintf(&b, "<body>%s</body>", escape(body))
	}
	if m.HasSubject {
		fmt.Fprintf(&b, "<subject>%s</subject>", escape(m.Subject))
	}
	if m.ChatState != "" {
		fmt.Fprintf(&b, "<%s xmlns='%s'/>", m.ChatState, nsChatStates)
	}
	fmt.Fprintf(&b, "<origin-id xmlns='%s' id='%s'/></message>", nsSID, escape(id))
	_, err := p.c.SendOrg(b.String())
	return id, err
}

// SetPresence sends the peer's presence to its contacts and its rooms.
func (p *peer) SetPresence(show, status string) error {
	p.mu.Lock()
	to := []string{""}
	for room, nick := range p.rooms {
		to = append(to, room+"/"+nick)
	}
	p.mu.Unlock()
	for _, to := range to {
		if _, err := p.c.SendPresence(goxmpp.Presence{To: to, Show: show, Status: status}); err != nil {
			return err
		}
	}
	return nil
}

// JoinRoom sends the peer's presence to room/nick with the XEP-0045 join
// element; the room answers with presences.
func (p *peer) JoinRoom(room, nick, password string, historyMaxStanzas int, since time.Time) error {
	var b strings.Builder
	fmt.Fprintf(&b, "<presence to='%s/%s'><x xmlns='http://jabber.org/protocol/muc'>", escape(room), escape(nick))
	if password != "" {
		fmt.Fprintf(&b, "<password>%s</password>", escape(password))
	}
	if historyMaxStanzas >= 0 || !since.IsZero() {
		b.WriteString("<history")
		if historyMaxStanzas >= 0 {
			fmt.Fprintf(&b, " maxstanzas='%d'", historyMaxStanzas)
		}
		if !since.IsZero() {
			fmt.Fprintf(&b, " since='%s'", since.UTC().Format(time.RFC3339Nano))
		}
		b.WriteString("/>")
	}
	b.WriteString("</x></presence>")
	if _, err := p.c.SendOrg(b.String()); err != nil {
		return err
	}
	p.mu.Lock()
	p.rooms[room] = nick
	p.mu.Unlock()
	return nil
}

// Subscribe asks jid for a subscription to its presence.
func (p *peer) Subscribe(jid string) error {
	p.c.RequestSubscription(jid)
	return nil
}

// Approve accepts jid's subscription request.
func (p *peer) Approve(jid string) error {
	p.c.ApproveSubscription(jid)
	return nil
}

// SendIQ sends an IQ of type get or set with payload (raw XML) to to (""
// for the account) and waits for the answer.
func (p *peer) SendIQ(ctx context.Context, to, typ, payload string) (*xmpp.IQResult, error) {
	answer := make(chan rawStanza, 1)
	id := newPeerID()
	if err := p.request(id, to, typ, payload, func(st rawStanza) { answer <- st }); err != nil {
		return nil, err
	}
	select {
	case st := <-answer:
		res := &xmpp.IQResult{From: st.attr("from"), Type: st.attr("type"), Payload: st.Inner}
		if res.Type == "error" {
			res.Err = stanzaError(&st)
		}
		return res, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, fmt.Errorf("peer %s: stream lost while waiting for iq %s", p.jid, id)
	}
}

// request sends an IQ with id and has answer called with its reply.
func (p *peer) request(id, to, typ, payload string, answer func(rawStanza)) error {
	attrTo := ""
	if to != "" {
		attrTo = " to='" + escape(to) + "'"
	}
	p.mu.Lock()
	p.pending[id] = answer
	p.mu.Unlock()
	if _, err := p.c.SendOrg(fmt.Sprintf("<iq type='%s' id='%s'%s>%s</iq>", escape(typ), id, attrTo, payload)); err != nil {
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
		return err
	}
	return nil
}

// RosterSet adds or changes a roster item; an xmpp.RequestDone with the
// returned id follows.
func (p *peer) RosterSet(item xmpp.RosterItem) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "<query xmlns='%s'><item jid='%s'", nsRoster, escape(item.JID))
	if item.Name != "" {
		fmt.Fprintf(&b, " name='%s'", escape(item.Name))
	}
	b.WriteString(">")
	for _, g := range item.Groups {
		fmt.Fprintf(&b, "<group>%s</group>", escape(g))
	}
	b.WriteString("</item></query>")
	id := newPeerID()
	err := p.request(id, "", "set", b.String(), func(st rawStanza) {
		done := xmpp.RequestDone{ID: id, Op: "roster-set"}
		if st.attr("type") == "error" {
			done.Err = stanzaError(&st)
		}
		p.push(done)
	})
	return id, err
}

// QueryArchive asks for one page of the account's archive (or a room's,
// q.Archive) with q.With, q.Start, q.End and q.Max; an xmpp.ArchivePage
// with the returned id follows. Other fields are refused.
func (p *peer) QueryArchive(ctx context.Context, q xmpp.ArchiveQuery) (string, error) {
	if q.After != "" || q.Before != "" || q.FromEnd || q.AfterID != "" || q.BeforeID != "" || len(q.IDs) > 0 {
		return "", errors.New("the e2e peer queries archives by with, start, end and max only")
	}
	max := q.Max
	if max <= 0 {
		max = 100
	}
	qid := newPeerID()
	var b strings.Builder
	fmt.Fprintf(&b, "<query xmlns='%s' queryid='%s'><x xmlns='jabber:x:data' type='submit'>", nsMAM, qid)
	fmt.Fprintf(&b, "<field var='FORM_TYPE' type='hidden'><value>%s</value></field>", nsMAM)
	field := func(name, value string) {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", name, escape(value))
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
	fmt.Fprintf(&b, "</x><set xmlns='http://jabber.org/protocol/rsm'><max>%d</max></set></query>", max)
	page := &xmpp.ArchivePage{ID: newPeerID()}
	p.mu.Lock()
	p.pages[qid] = page
	p.mu.Unlock()
	finish := func(fin *rawStanza, err error) {
		p.mu.Lock()
		if p.pages[qid] == nil {
			p.mu.Unlock()
			return // already finished
		}
		delete(p.pages, qid)
		p.mu.Unlock()
		page.Err = err
		if fin != nil {
			page.Complete = fin.attr("complete") == "true"
			if set := fin.child("http://jabber.org/protocol/rsm", "set"); set != nil {
				page.First, page.Last = set.childText("", "first"), set.childText("", "last")
			}
		}
		p.push(*page)
	}
	err := p.request(page.ID, q.Archive, "set", b.String(), func(st rawStanza) {
		if st.attr("type") == "error" {
			finish(nil, stanzaError(&st))
			return
		}
		finish(st.child(nsMAM, "fin"), nil)
	})
	if err != nil {
		return "", err
	}
	context.AfterFunc(ctx, func() { finish(nil, ctx.Err()) })
	return page.ID, nil
}

// Close ends the peer's stream (its server tells the contacts it went
// offline) and waits until the connection is gone.
func (p *peer) Close() error {
	p.closeOnce.Do(func() {
		p.c.SendOrg("</stream:stream>")
		select {
		case <-p.done:
		case <-time.After(waitTimeout):
			p.t.Errorf("peer %s: stream not closed within %v", p.jid, waitTimeout)
		}
	})
	return nil
}

func newPeerID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

func bare(jid string) string {
	b, _, _ := strings.Cut(jid, "/")
	return b
}
