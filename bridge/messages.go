package bridge

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// pendingMessage is a message the user sent while XMPP was down.
type pendingMessage struct {
	out xmpp.OutMessage
}

// sentMessage remembers a sent chat to match an error reply to it.
type sentMessage struct {
	jid  string
	body string
}

// lineBudget is the text room of a PRIVMSG from prefix to target, for
// the gateway's own lines, sent at once.
func lineBudget(p *irc.Prefix, target string) int {
	return max(textRoom(p, "PRIVMSG", target), 64)
}

// serviceNotice sends one NOTICE from the service nick to one client.
func (b *Bridge) serviceNotice(s *session, text string) {
	s.send(b.stamped(&irc.Message{Prefix: b.servicePrefix(), Command: "NOTICE", Params: []string{s.d.Nick(), text}}))
}

// announce tells the user something in the control channel (privately to
// clients that left it). keep says whether it matters enough to keep for a
// client that attaches later.
func (b *Bridge) announce(text string, keep bool) {
	ch := b.cfg.ControlChannel
	if len(b.sessions) == 0 {
		if keep {
			b.showGateway(shown{from: b.servicePrefix(), target: ch, notice: true, body: text})
		}
		return
	}
	for _, line := range bodyToIRC(text, lineBudget(b.servicePrefix(), ch)) {
		m := b.stamped(&irc.Message{Prefix: b.servicePrefix(), Command: "NOTICE", Params: []string{ch, line.Text}})
		for _, s := range b.sessions {
			if s.inControl {
				s.send(m)
			} else {
				b.serviceNotice(s, line.Text)
			}
		}
	}
}

// queryNotice is a NOTICE from the gateway shown in the query with c.
func (b *Bridge) queryNotice(c *contact, text string) {
	b.showGateway(shown{from: c.prefix(), target: b.userNick(), notice: true, body: "[" + b.cfg.ServiceNick + "] " + text})
}

// userNick is the user's nick, or "*" before any client attached.
func (b *Bridge) userNick() string {
	if b.nicks.userNick() == "" {
		return "*"
	}
	return b.nicks.userNick()
}

// ownPrefix is the user's own hostmask for messages shown as sent by the
// user from elsewhere (carbons).
func (b *Bridge) ownPrefix() *irc.Prefix {
	if len(b.sessions) > 0 {
		return userPrefix(b.sessions[0].d)
	}
	local, domain := splitJID(b.x.JID())
	return &irc.Prefix{Name: b.userNick(), User: maskPart(local), Host: maskPart(domain)}
}

// sendChat completes out, the user's PRIVMSG/NOTICE (with the msgid its
// echo carried as the id), for c and sends it, encrypted when
// omemoEncrypts says so; a message that is one https URL also carries it
// as an XEP-0066 link.
func (b *Bridge) sendChat(c *contact, out *xmpp.OutMessage) {
	out.To, out.Type = b.target(c), "chat"
	out.OOBURL = fileLink(out.Body)
	if c.chatStates >= 0 && out.Reactions == nil {
		out.ChatState = "active"
	}
	b.sendChatOMEMO(c, out, out.Body != "" && out.Reactions == nil && b.omemoEncrypts(c))
}

// sendOut sends out, queueing a copy while XMPP is down. The user is told
// about anything that is not sent at once.
func (b *Bridge) sendOut(out *xmpp.OutMessage, c *contact) {
	if !b.connected {
		b.queueOut(out, c)
		return
	}
	id, err := b.x.SendMessage(*out)
	if err != nil {
		b.notSentOut(out, c, err)
		return
	}
	b.sentOut(out, c, id)
}

// sentOut remembers out, sent to c as id.
func (b *Bridge) sentOut(out *xmpp.OutMessage, c *contact, id string) {
	b.rememberRef(id, id)
	b.noteOwnSent(strings.ToLower(xmpp.BareJID(c.jid())), out, id)
	b.rememberSent(id, c.jid(), out.Body)
	b.noteSent()
}

// notSentOut handles err, why out to c was not sent: queued when XMPP is
// not connected, else told. It keeps what only a failure needs out of
// sendOut's frame, which every message takes.
func (b *Bridge) notSentOut(out *xmpp.OutMessage, c *contact, err error) {
	if errors.Is(err, xmpp.ErrNotConnected) {
		b.queueOut(out, c)
		return
	}
	b.queryNotice(c, "message NOT sent ("+oneLine(err.Error())+"): "+excerpt(out.Body))
}

// queueOut queues a copy of out to c until XMPP is connected again.
func (b *Bridge) queueOut(out *xmpp.OutMessage, c *contact) {
	if len(b.pending) >= maxPending {
		b.queryNotice(c, "XMPP is not connected and the queue is full; NOT sent: "+excerpt(out.Body))
		return
	}
	b.pending = append(b.pending, pendingMessage{out: *out})
	b.queryNotice(c, "XMPP is not connected; message queued ("+strconv.Itoa(len(b.pending))+" waiting), it will be sent on reconnect: "+excerpt(out.Body))
}

// onUnconfirmed tells the user which messages the lost stream may not have
// delivered: they were sent, so they are not queued, and the server never
// confirmed them.
func (b *Bridge) onUnconfirmed(ev xmpp.Unconfirmed) {
	for _, m := range ev.Messages {
		to := m.To
		if c := b.contactByRef(m.To); c != nil {
			to = c.nick
		} else if r := b.roomByJID(m.To); r != nil {
			to = r.channel
		}
		b.announce("The XMPP connection was lost before the server confirmed your message to "+oneLine(to)+"; it may not have been delivered: "+excerpt(m.Body), true)
	}
}

// flushPending sends the queued messages after a reconnect.
func (b *Bridge) flushPending() {
	queue := b.pending
	b.pending = nil
	for i, p := range queue {
		c := b.contactByRef(p.out.To)
		if c == nil {
			c = b.tempContact(p.out.To)
		}
		if c == nil {
			continue
		}
		p.out.To = c.jid() // the old resource may be gone
		id, err := b.x.SendMessage(p.out)
		if err != nil {
			for _, q := range queue[i:] {
				qc := b.contactByRef(q.out.To)
				if qc == nil {
					qc = b.tempContact(q.out.To)
				}
				if qc != nil {
					b.queryNotice(qc, "queued message NOT sent ("+oneLine(err.Error())+"): "+excerpt(q.out.Body))
				}
			}
			return
		}
		b.rememberRef(id, id)
		b.rememberSent(id, c.jid(), p.out.Body)
		b.queryNotice(c, "queued message sent: "+excerpt(p.out.Body))
	}
}

func (b *Bridge) rememberSent(id, jid, body string) {
	if id == "" {
		return
	}
	// The copies in the message's record, when it has them: body may be
	// part of the whole IRC line.
	if k := b.msgs.get(id); k != nil {
		id = k.msgid()
		if k.text() == body {
			body = k.text()
		}
	}
	b.sent.put(id, sentMessage{jid: jid, body: body})
}

// excerpt shortens a body for notices about it.
func excerpt(body string) string {
	lines := bodyToIRC(body, 1<<20)
	if len(lines) == 0 {
		return `""`
	}
	s := lines[0].Text
	if lines[0].Action {
		s = "/me " + s
	}
	more := len(lines) > 1
	if len(s) > 60 {
		s = strings.TrimRight(ircd.SplitText(s, 60)[0], " ")
		more = true
	}
	if more {
		s += " …"
	}
	return `"` + s + `"`
}

func (b *Bridge) onMessage(m *xmpp.Message) {
	if m.Retract != nil && m.Type != "error" {
		b.onRetraction(m)
		return
	}
	peer := chatPeer(m)
	r := b.roomByJID(peer)
	switch {
	case m.Type == "error" && r != nil:
		b.roomErrorMessage(r, m)
		return
	case m.Type == "error":
		b.onMessageError(m)
		return
	case r != nil && m.Type != "groupchat" && m.Invite == nil:
		b.roomPrivate(r, m, peer)
		return
	case m.Type == "groupchat":
		b.roomMessage(m)
		return
	case m.Invite != nil:
		b.announceInvite(m)
		return
	}
	// Archived copies (see onArchive) and offline deliveries of the same
	// message carry the same stanza id. A named client's catch-up shows
	// it again, to that client.
	if m.StanzaID != "" && b.msgs.seen(m.StanzaID) && b.only == nil {
		return
	}
	if peer == "" || b.isOwnJID(peer) {
		return
	}
	_, res := splitResource(peer)
	if m.Body == "" && m.Reactions == nil {
		if c := b.contacts.get(xmpp.BareJID(peer)); c != nil && m.ChatState != "" && m.Carbon != xmpp.CarbonSent {
			c.chatStates = 1
		}
		b.showChatState(m, peer)
		return
	}
	if !b.admitStranger(m, peer) {
		return
	}
	c := b.tempContact(peer)
	if c == nil {
		b.log.Warn("message from an unusable JID dropped", "from", peer)
		return
	}
	if m.Carbon != xmpp.CarbonSent && res != "" {
		b.heardFrom(c, res)
	}
	if m.Carbon != xmpp.CarbonSent && m.Delay.IsZero() && m.Type != "headline" && m.Reactions == nil {
		// XEP-0085: a live reply tells whether the contact's client
		// takes chat states (a headline or a reaction is no reply).
		c.chatStates = -1
		if m.ChatState != "" {
			c.chatStates = 1
		}
	}
	own := m.Carbon == xmpp.CarbonSent
	var s shown
	b.chatShown(&s, c.prefix(), c.account(), m, own, m.Type == "headline")
	if m.Reactions != nil {
		b.showReactions(m, own, &s)
	} else {
		b.show(m, own, &s)
		b.receiptFor(c, m, s.msgid)
	}
	b.markSeen(m, own)
}

// chatPeer is the other end of a one-to-one message: its sender, or its
// recipient when it is the carbon of a message the user sent elsewhere.
func chatPeer(m *xmpp.Message) string {
	if m.Carbon == xmpp.CarbonSent {
		return m.To
	}
	return m.From
}

// chatShown sets s to how a one-to-one message m with peer (a contact or
// a room occupant; account is its account) shows on IRC, live and in
// history: from peer to the user, or, when the user sent it (own), from
// the user to peer. notice makes a message from peer a NOTICE. (Filled in
// place: a shown returned by value would take its caller's frame twice.)
func (b *Bridge) chatShown(s *shown, peer *irc.Prefix, account string, m *xmpp.Message, own, notice bool) {
	if own {
		*s = shown{from: b.ownPrefix(), target: peer.Name, body: m.Body}
		return
	}
	*s = shown{from: peer, target: b.userNick(), notice: notice, body: m.Body, account: account}
}

// showChatState turns a body-less chat state into a +typing TAGMSG for
// clients that take message tags. Typing is not kept for later.
func (b *Bridge) showChatState(m *xmpp.Message, peer string) {
	typing := chatStateToTyping(m.ChatState)
	if typing == "" || m.Carbon != xmpp.NotCarbon {
		return
	}
	c := b.contacts.get(xmpp.BareJID(peer))
	if c == nil {
		return
	}
	tm := b.stamped(&irc.Message{Tags: irc.Tags{"+typing": typing, "account": c.account()}, Prefix: c.prefix(), Command: "TAGMSG", Params: []string{b.userNick()}})
	for _, s := range b.sessions {
		if s.d.HasCap("message-tags") {
			s.send(tm)
		}
	}
}

func (b *Bridge) onMessageError(m *xmpp.Message) {
	reason := "unknown error"
	if m.Error != nil {
		reason = oneLine(m.Error.Error())
	}
	jid, what := m.From, "a message"
	if sm, ok := b.sent.get(m.ID); ok {
		jid, what = sm.jid, "your message "+excerpt(sm.body)
	}
	if jid == "" || b.isOwnJID(jid) {
		b.announce("XMPP error: "+reason, true)
		return
	}
	c := b.tempContact(jid)
	if c == nil {
		b.announce("XMPP error from "+oneLine(jid)+": "+reason, true)
		return
	}
	b.queryNotice(c, what+" was not delivered: "+reason)
}

func (b *Bridge) announceInvite(m *xmpp.Message) {
	inv := m.Invite
	from := inv.From
	if from == "" {
		from = m.From
	}
	text := oneLine(from) + " invites you to the group chat " + oneLine(inv.Room)
	if inv.Reason != "" {
		text += " (" + oneLine(inv.Reason) + ")"
	}
	b.announce(text+". "+b.inviteHint(inv), true)
}

// answerCTCP answers a CTCP request the user sent to c locally, as XMPP
// has no equivalent.
func (b *Bridge) answerCTCP(r *ircd.Request, from *irc.Prefix, q ctcp, clientInfo string) {
	var reply string
	switch q.Command {
	case "VERSION":
		reply = "VERSION xircd XMPP gateway"
		if clientInfo != "" {
			reply += "; the contact uses " + clientInfo
		}
	case "PING":
		reply = "PING " + q.Arg
	case "TIME":
		reply = "TIME " + b.now().Format(time.RFC1123Z)
	case "CLIENTINFO":
		reply = "CLIENTINFO ACTION CLIENTINFO PING TIME VERSION"
	default:
		reply = "ERRMSG " + q.Command + " :not available over XMPP"
	}
	reply = strings.TrimSpace(cleanText(reply))
	r.Reply(b.stamped(&irc.Message{Prefix: from, Command: "NOTICE", Params: []string{r.Client.Nick(), "\x01" + reply + "\x01"}}))
}
