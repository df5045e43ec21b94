package bridge

import (
	"context"
	"slices"
	"strings"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Read markers: IRCv3 draft/read-marker over XEP-0490 Message Displayed
// Synchronization.
//
// The XMPP server keeps the user's read state: one item per conversation
// (a contact's or a room's bare JID) in the account's PEP node, naming the
// stanza-id of the last message read. IRC speaks of times: a MARKREAD
// timestamp is the time tag of the last message read, and xircd gives a
// message the same time tag wherever it shows it (identity.go). So:
//   - a marker from XMPP (another client of the user read up to stanza-id
//     X) is the time of message X. The bridge remembers the stanza-id and
//     time of the recent messages it showed per conversation; a marker of a
//     message it has not shown (yet) waits, by stanza-id, and reaches IRC
//     once that message is shown (the start-up catch-up shows what came
//     while xircd was away, and the markers are fetched after it). A
//     marker of a chat message shown before a restart is looked up in the
//     account's archive by its id; its time is then the archive's, which
//     servers keep to the second.
//   - MARKREAD from a client (read up to time T) is the latest message of
//     that conversation shown at or before T. Its stanza-id is published;
//     when the bridge knows no such message (nothing shown since it
//     started) the time alone is kept and told to the other clients, and
//     nothing is published.
//   - Markers only move forward.
// Targets without an XMPP conversation (the control channel, the service,
// a room occupant's private chat) keep their marker in memory only.
//
// Contacts whose messages ask for XEP-0333 chat markers (<markable/>) get
// <displayed/> for the latest such message the user read (setting
// read_markers), if they may see the user's presence (as the XEP asks).

// Limits of the read-marker bookkeeping.
const (
	maxMarkedChats    = 2000 // conversations whose recent messages are indexed
	maxIndexedPerChat = 100  // recent messages indexed per conversation
	maxReadMarks      = 5000 // markers kept
)

// readMark is the user's read marker of one conversation.
type readMark struct {
	stanzaID string    // of the last message read; "" when only at is known
	at       time.Time // its time
}

// indexedMsg is a message shown in a conversation, for mapping marker
// times and stanza-ids onto each other.
type indexedMsg struct {
	stanzaID string
	markable string // the id to mark it displayed by (XEP-0333), "" if not asked
	at       time.Time
}

// readState is the read-marker state of the bridge.
type readState struct {
	marks map[string]readMark    // by conversation key
	index *bounded[[]indexedMsg] // by conversation key, oldest first
	// waiting are markers from XMPP of messages not shown yet: stanza-id
	// by conversation key.
	waiting *bounded[string]
}

func newReadState() readState {
	return readState{
		index:   newBounded[[]indexedMsg](maxMarkedChats),
		waiting: newBounded[string](maxMarkedChats),
	}
}

// localMarkKey is the key of a target without an XMPP conversation.
func localMarkKey(target string) string { return "irc:" + ircd.Casefold(target) }

// markTarget is what a MARKREAD target names: a conversation key and, for
// an XMPP conversation, its bare JID and whether it is a group chat.
type markTarget struct {
	key, jid string
	room     bool
}

// resolveMarkTarget resolves a MARKREAD target; ok is false for a target
// that is none.
func (b *Bridge) resolveMarkTarget(target string) (t markTarget, ok bool) {
	switch {
	case b.isControl(target):
		return markTarget{key: localMarkKey(target)}, true
	case b.isRoomChannel(target):
		if r := b.roomByChannel(target); r != nil {
			return markTarget{key: r.key, jid: r.jid, room: true}, true
		}
		j, err := b.roomJIDForChannel(target)
		if err != nil {
			return markTarget{}, false
		}
		return markTarget{key: xmpp.BareJID(j), jid: j, room: true}, true
	case isChannelName(target):
		return markTarget{}, false
	}
	if c := b.nicks.contact(target); c != nil {
		return markTarget{key: c.key(), jid: c.jid()}, true
	}
	if b.nicks.isService(target) || b.nicks.isUser(target) || b.nicks.occupant(target) != nil {
		return markTarget{key: localMarkKey(target)}, true
	}
	return markTarget{}, false
}

// markIRCTarget is the IRC target of a conversation key, "" when no
// client would know it.
func (b *Bridge) markIRCTarget(key string) string {
	if c := b.contacts.get(key); c != nil {
		return c.nick
	}
	if r := b.roomByJID(key); r != nil {
		return r.channel
	}
	return ""
}

// markConversation is the conversation a shown message belongs to: the
// contact's or the room's; ok is false for a room occupant's private
// message, which has no marker of the account's kind.
func (b *Bridge) markConversation(m *xmpp.Message) (key string, ok bool) {
	if m.Type == "groupchat" {
		return xmpp.BareJID(m.From), true
	}
	peer := m.From
	if m.Carbon == xmpp.CarbonSent {
		peer = m.To
	}
	if peer == "" || b.roomByJID(peer) != nil {
		return "", false
	}
	return xmpp.BareJID(peer), true
}

// indexShown notes a message shown at time at, so that markers can be
// mapped onto it; a marker waiting for this very message reaches the
// clients now.
func (b *Bridge) indexShown(m *xmpp.Message, at time.Time) {
	if m.StanzaID == "" {
		return
	}
	key, ok := b.markConversation(m)
	if !ok {
		return
	}
	// Clients see the time to the millisecond (serverTime), and mark by it.
	at = at.Truncate(time.Millisecond)
	e := indexedMsg{stanzaID: m.StanzaID, at: at}
	if m.Markable && m.Carbon == xmpp.NotCarbon && m.Type == "chat" && m.ID != "" {
		e.markable = m.ID
	}
	msgs, _ := b.read.index.get(key)
	if len(msgs) >= maxIndexedPerChat {
		msgs = slices.Delete(msgs, 0, len(msgs)-maxIndexedPerChat+1)
	}
	b.read.index.put(key, append(msgs, e))
	if id, ok := b.read.waiting.get(key); ok && id == m.StanzaID {
		b.read.waiting.remove(key)
		b.setMark(key, readMark{stanzaID: m.StanzaID, at: at})
	}
}

// indexedByID finds a message of conversation key by stanza-id.
func (b *Bridge) indexedByID(key, stanzaID string) (indexedMsg, bool) {
	msgs, _ := b.read.index.get(key)
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].stanzaID == stanzaID {
			return msgs[i], true
		}
	}
	return indexedMsg{}, false
}

// indexedAtOrBefore finds the latest message of conversation key shown
// at or before t.
func (b *Bridge) indexedAtOrBefore(key string, t time.Time) (indexedMsg, bool) {
	msgs, _ := b.read.index.get(key)
	var best indexedMsg
	found := false
	for _, e := range msgs {
		if !e.at.After(t) && (!found || !e.at.Before(best.at)) {
			best, found = e, true
		}
	}
	return best, found
}

// setMark records the marker of key and tells the clients that have
// draft/read-marker, when it moves forward.
func (b *Bridge) setMark(key string, mk readMark) bool {
	cur, ok := b.read.marks[key]
	if ok && !cur.at.IsZero() && !mk.at.After(cur.at) {
		return false
	}
	if !ok && len(b.read.marks) >= maxReadMarks {
		return false
	}
	putIn(&b.read.marks, key, mk)
	if target := b.markIRCTarget(key); target != "" {
		b.sendMarkRead(nil, target, mk)
	} else if strings.HasPrefix(key, "irc:") {
		b.sendMarkRead(nil, key[len("irc:"):], mk)
	}
	return true
}

// markReadMessage is the server's MARKREAD for target.
func (b *Bridge) markReadMessage(target string, mk readMark) *irc.Message {
	ts := "*"
	if !mk.at.IsZero() {
		ts = "timestamp=" + serverTime(mk.at)
	}
	return &irc.Message{Prefix: b.serverPrefix(), Command: "MARKREAD", Params: []string{target, ts}}
}

// sendMarkRead sends target's marker to s, or to every client with the
// capability when s is nil.
func (b *Bridge) sendMarkRead(s *session, target string, mk readMark) {
	m := b.markReadMessage(target, mk)
	if s != nil {
		s.send(m)
		return
	}
	for _, s := range b.sessions {
		if s.d.HasCap("draft/read-marker") {
			s.send(m)
		}
	}
}

// markOnJoin sends s the marker of channel name right after its JOIN
// (the specification wants it before the end of NAMES).
func (b *Bridge) markOnJoin(s *session, name string, send func(*irc.Message)) {
	if !s.d.HasCap("draft/read-marker") {
		return
	}
	t, ok := b.resolveMarkTarget(name)
	if !ok {
		return
	}
	mk := b.read.marks[t.key]
	send(b.markReadMessage(name, mk))
}

// MARKREAD <target> [timestamp=<time>]
func (b *Bridge) handleMarkRead(s *session, r *ircd.Request) error {
	if len(r.Msg.Params) == 0 {
		// draft/read-marker answers a missing target with FAIL, not 461.
		r.Fail("NEED_MORE_PARAMS", nil, "MARKREAD needs a target")
		return nil
	}
	target := r.Msg.Params[0]
	t, ok := b.resolveMarkTarget(target)
	if !ok {
		r.Fail("INVALID_PARAMS", []string{target}, "No such nick or channel")
		return nil
	}
	if len(r.Msg.Params) < 2 {
		r.Reply(b.markReadMessage(target, b.read.marks[t.key]))
		return nil
	}
	ts, found := strings.CutPrefix(r.Msg.Params[1], "timestamp=")
	at, err := time.Parse(time.RFC3339Nano, ts)
	if !found || err != nil {
		r.Fail("INVALID_PARAMS", []string{target, r.Msg.Params[1]}, "The timestamp must be timestamp=YYYY-MM-DDThh:mm:ss.sssZ")
		return nil
	}
	if now := b.now(); at.After(now) {
		at = now
	}
	mk := readMark{at: at}
	read, known := b.indexedAtOrBefore(t.key, at)
	if t.jid != "" && known {
		mk = readMark{stanzaID: read.stanzaID, at: read.at}
	}
	if !b.setMark(t.key, mk) {
		// Not newer than what is known: the client learns that.
		r.Reply(b.markReadMessage(target, b.read.marks[t.key]))
		return nil
	}
	if mk.stanzaID != "" {
		b.publishMark(t, mk.stanzaID)
		b.sendDisplayed(t.key, mk.at)
	}
	return nil
}

// publishMark publishes the marker of t to the account's PEP node.
func (b *Bridge) publishMark(t markTarget, stanzaID string) {
	if !b.connected {
		return // the next MARKREAD after the reconnect publishes it
	}
	by := b.x.JID()
	if t.room {
		by = xmpp.BareJID(t.jid)
	}
	err := b.startRequest(request{kind: requestPublishMark}, func(ctx context.Context) (string, error) {
		return b.x.PublishDisplayed(ctx, xmpp.BareJID(t.jid), stanzaID, by)
	})
	if err != nil {
		b.log.Info("read marker not published", "chat", t.jid, "err", err)
	}
}

// onMarkPublished tells the user, once per connection, when the server
// refuses to keep read markers: other clients will not see them.
func (b *Bridge) onMarkPublished(err error) {
	if err == nil || b.markRefusalTold {
		return
	}
	b.markRefusalTold = true
	b.announce("The XMPP server did not keep a read marker ("+oneLine(err.Error())+"); other XMPP clients will not see what you read here.", true)
}

// sendDisplayed sends the contact of key a XEP-0333 displayed marker for
// the latest message that asked for one and was shown at or before t.
func (b *Bridge) sendDisplayed(key string, t time.Time) {
	c := b.contacts.get(key)
	if c == nil || !c.seesPresence() || !b.readMarkers || !b.connected {
		return
	}
	msgs, _ := b.read.index.get(key)
	last := -1
	for i, e := range msgs {
		if e.markable != "" && !e.at.After(t) {
			last = i
		}
	}
	if last < 0 {
		return
	}
	if err := b.x.SendDisplayed(b.target(c), msgs[last].markable); err != nil {
		b.log.Debug("chat marker not sent", "err", err)
		return
	}
	for i := 0; i <= last; i++ {
		msgs[i].markable = "" // marked: never again
	}
}

// onDisplayed takes a marker from XMPP: another client of the user read
// up to a message.
func (b *Bridge) onDisplayed(d xmpp.Displayed) {
	key := xmpp.BareJID(d.Chat)
	if cur, ok := b.read.marks[key]; ok && cur.stanzaID == d.StanzaID {
		return // no news (our own publication comes back too)
	}
	e, ok := b.indexedByID(key, d.StanzaID)
	if !ok {
		b.read.waiting.put(key, d.StanzaID)
		return
	}
	b.read.waiting.remove(key)
	b.setMark(key, readMark{stanzaID: d.StanzaID, at: e.at})
}

// requestMarks asks for the account's markers after connecting: what the
// user read elsewhere while the stream was down.
func (b *Bridge) requestMarks() {
	err := b.startRequest(request{kind: requestMarkList}, func(ctx context.Context) (string, error) {
		return b.x.DisplayedMarkers(ctx)
	})
	if err != nil {
		b.log.Info("read markers not fetched", "err", err)
	}
}

func (b *Bridge) onDisplayedList(ev xmpp.DisplayedList) {
	if _, ok := b.answered(ev.ID); !ok {
		return
	}
	if ev.Err != nil {
		b.log.Info("fetching read markers failed", "err", ev.Err)
		return
	}
	for _, d := range ev.Markers {
		b.onDisplayed(d)
	}
	b.lookUpMarks(ev.Markers)
}

// maxMarkLookup bounds the archive ids looked up at once.
const maxMarkLookup = 100

// lookUpMarks asks the account's archive for the messages of chat markers
// that wait for a message xircd has not shown (it showed them before a
// restart): their archive time is the marker's time. A group chat's
// marker waits for the room's history instead.
func (b *Bridge) lookUpMarks(marks []xmpp.Displayed) {
	var ids []string
	for _, d := range marks {
		key := xmpp.BareJID(d.Chat)
		if id, ok := b.read.waiting.get(key); ok && id == d.StanzaID && b.isOwnJID(d.By) && len(ids) < maxMarkLookup {
			ids = append(ids, d.StanzaID)
		}
	}
	if len(ids) == 0 {
		return
	}
	err := b.startRequest(request{kind: requestMarkLookup}, func(ctx context.Context) (string, error) {
		return b.x.QueryArchive(ctx, xmpp.ArchiveQuery{IDs: ids, Max: len(ids)})
	})
	if err != nil {
		b.log.Info("read markers not looked up", "err", err)
	}
}

// onMarkLookup takes the archive's answer to lookUpMarks.
func (b *Bridge) onMarkLookup(p xmpp.ArchivePage) {
	if p.Err != nil {
		b.log.Info("looking up read markers failed", "err", p.Err)
		return
	}
	for _, m := range p.Messages {
		if b.isOwnJID(m.From) {
			m.Carbon = xmpp.CarbonSent // the chat is the one with m.To
		}
		key, ok := b.markConversation(&m)
		if !ok || m.Delay.IsZero() {
			continue
		}
		if id, ok := b.read.waiting.get(key); ok && id == m.StanzaID {
			b.read.waiting.remove(key)
			b.setMark(key, readMark{stanzaID: m.StanzaID, at: m.Delay.Truncate(time.Millisecond)})
		}
	}
}
