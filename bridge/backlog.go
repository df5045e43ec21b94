package bridge

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"xircd/ircd"
	"xircd/xmpp"
)

// backlog keeps the messages that arrive while no client is attached, for
// the next client that attaches. It keeps whole messages (a message is
// kept or dropped whole), at most maxMessages of them and maxBytes of their
// text, and it is fair between senders: when a message does not fit, the
// sender holding the largest share of the backlog loses its own oldest
// message, until everything fits. A sender's share is the larger of its
// part of the count limit and its part of the byte limit; the share of a
// sender outside the roster (a stranger, or a room occupant who is not a
// contact) counts strangerWeight times, so that a stranger keeps at most a
// quarter of what a contact keeps when both write more than fits. One
// sender flooding the account therefore only ever pushes out its own
// messages, and strangers cannot push out contacts.
//
// What was dropped is counted per sender, for the notice of the replay.
type backlog struct {
	maxMessages, maxBytes int
	senders               map[string]*backlogSender
	count, bytes          int
	seq                   uint64
	dropped               []droppedMessages // by sender, in the order of their first loss
	droppedOthers         int               // dropped from senders beyond maxDropNames
	replays               int               // replays so far, for batch ids
}

// strangerWeight is how much more a stranger's share of the backlog weighs
// than a contact's (see backlog).
const strangerWeight = 4

// maxDropNames bounds the senders named in the drop notice (and counted
// one by one); the others are summed up.
const maxDropNames = 10

// backlogSender is one sender's kept messages.
type backlogSender struct {
	key, name string // name: as the drop notice names the sender
	stranger  bool
	msgs      []keptMessage // oldest first
	bytes     int
}

// keptMessage is a message in the backlog, with its place in arrival order.
type keptMessage struct {
	s    shown
	seq  uint64
	size int
}

// droppedMessages counts one sender's dropped messages.
type droppedMessages struct {
	key, name string
	n         int
}

func newBacklog(maxMessages, maxBytes int) *backlog {
	return &backlog{maxMessages: maxMessages, maxBytes: maxBytes}
}

// shownSize is what s counts against the byte limit: its text, sender,
// target and identity.
func shownSize(s shown) int {
	return len(s.body) + len(s.from.String()) + len(s.target) + len(s.msgid) + len(s.account)
}

// add keeps s, from the sender key (named name in the drop notice;
// stranger: outside the roster), making room as described at backlog.
func (bl *backlog) add(s shown, key, name string, stranger bool) {
	size := shownSize(s)
	if size > bl.maxBytes {
		bl.noteDropped(key, name, 1)
		return
	}
	snd := bl.senders[key]
	if snd == nil {
		snd = &backlogSender{key: key, name: name, stranger: stranger}
		putIn(&bl.senders, key, snd)
	}
	bl.seq++
	snd.msgs = append(snd.msgs, keptMessage{s: s, seq: bl.seq, size: size})
	snd.bytes += size
	bl.count++
	bl.bytes += size
	for bl.count > bl.maxMessages || bl.bytes > bl.maxBytes {
		bl.dropOldest(bl.largest())
	}
}

// share is snd's weighted part of the backlog (see backlog).
func (bl *backlog) share(snd *backlogSender) float64 {
	sh := max(float64(len(snd.msgs))/float64(bl.maxMessages), float64(snd.bytes)/float64(bl.maxBytes))
	if snd.stranger {
		sh *= strangerWeight
	}
	return sh
}

// largest is the sender with the largest share; of equal ones, the one
// with the oldest message.
func (bl *backlog) largest() *backlogSender {
	var top *backlogSender
	var topShare float64
	for _, snd := range bl.senders {
		sh := bl.share(snd)
		if top == nil || sh > topShare || sh == topShare && snd.msgs[0].seq < top.msgs[0].seq {
			top, topShare = snd, sh
		}
	}
	return top
}

// dropOldest drops snd's oldest message.
func (bl *backlog) dropOldest(snd *backlogSender) {
	m := snd.msgs[0]
	snd.msgs[0] = keptMessage{}
	snd.msgs = snd.msgs[1:]
	snd.bytes -= m.size
	bl.count--
	bl.bytes -= m.size
	if len(snd.msgs) == 0 {
		delete(bl.senders, snd.key)
	}
	bl.noteDropped(snd.key, snd.name, 1)
}

func (bl *backlog) noteDropped(key, name string, n int) {
	for i := range bl.dropped {
		if bl.dropped[i].key == key {
			bl.dropped[i].n += n
			return
		}
	}
	if len(bl.dropped) == maxDropNames {
		bl.droppedOthers += n
		return
	}
	bl.dropped = append(bl.dropped, droppedMessages{key: key, name: name, n: n})
}

// take returns the kept messages in the order they arrived and the notice
// about those dropped ("" when none were), and empties the backlog.
func (bl *backlog) take() (kept []shown, notice string) {
	all := make([]keptMessage, 0, bl.count)
	for _, snd := range bl.senders {
		all = append(all, snd.msgs...)
	}
	slices.SortFunc(all, func(a, b keptMessage) int { return cmp.Compare(a.seq, b.seq) })
	kept = make([]shown, len(all))
	for i, m := range all {
		kept[i] = m.s
	}
	notice = bl.dropNotice()
	bl.senders = make(map[string]*backlogSender)
	bl.count, bl.bytes, bl.dropped, bl.droppedOthers = 0, 0, nil, 0
	return kept, notice
}

// dropNotice tells how many messages were dropped, from whom, e.g. "12
// older messages from alice, 1950 from stranger@example.net were dropped
// while no IRC client was attached (the backlog keeps 1000 messages,
// 2 MiB)."
func (bl *backlog) dropNotice() string {
	if len(bl.dropped) == 0 {
		return ""
	}
	total := bl.droppedOthers
	var parts []string
	for i, d := range bl.dropped {
		total += d.n
		part := strconv.Itoa(d.n)
		if i == 0 {
			part += " older " + plural(d.n, "message", "messages")
		}
		parts = append(parts, part+" from "+d.name)
	}
	if bl.droppedOthers > 0 {
		parts = append(parts, strconv.Itoa(bl.droppedOthers)+" from others")
	}
	return strings.Join(parts, ", ") + " " + plural(total, "was", "were") +
		" dropped while no IRC client was attached (the backlog keeps " + strconv.Itoa(bl.maxMessages) + " " +
		plural(bl.maxMessages, "message", "messages") + ", " + byteSize(bl.maxBytes) + ")."
}

func plural(n int, one, more string) string {
	if n == 1 {
		return one
	}
	return more
}

// byteSize writes n bytes for people: "2 MiB", "512 KiB", "1000 bytes".
func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + " KiB"
	}
	return strconv.Itoa(n) + " bytes"
}

// rename makes kept messages from or to the contact nick old name nick, so
// that the replay names whoever is behind them now.
func (bl *backlog) rename(old, nick string) {
	folded := ircd.Casefold(old)
	for _, snd := range bl.senders {
		if !snd.stranger && ircd.Casefold(snd.name) == folded {
			snd.name = nick
		}
		for i := range snd.msgs {
			s := &snd.msgs[i].s
			if p := s.from; !s.fromUser && p != nil && ircd.Casefold(p.Name) == folded {
				renamed := *p
				renamed.Name = nick
				s.from = &renamed
			}
			if !s.toUser && ircd.Casefold(s.target) == folded {
				s.target = nick
			}
		}
	}
}

// keep adds s to the backlog under its sender, or to what is collected
// for one client (Bridge.only).
func (b *Bridge) keep(s *shown) {
	if b.only != nil {
		b.onlyKept = append(b.onlyKept, *s)
		return
	}
	key, name, stranger := b.senderOf(s)
	b.backlog.add(*s, key, name, stranger)
}

// senderOf is who s counts against in the backlog: its key, its name in the
// drop notice, and whether it is outside the roster.
func (b *Bridge) senderOf(s *shown) (key, name string, stranger bool) {
	switch {
	case s.fromUser:
		return "\x00user", "you", false
	case s.account != "":
		key = xmpp.BareJID(s.account)
		if c := b.contacts.get(key); c != nil && c.inRoster {
			return key, c.nick, false
		}
		return key, s.account, true
	case s.from.Name == b.cfg.ServiceNick:
		return "\x00service", s.from.Name, false
	case isChannelName(s.target):
		return s.target + " " + s.from.Name, s.from.Name + " in " + s.target, true
	}
	if c := b.contactByNick(s.from.Name); c != nil {
		return c.key(), c.nick, !c.inRoster
	}
	return s.from.Name, s.from.Name, true
}

// deliverBacklog replays to s what arrived while no client was attached:
// the drop notice first, then the messages with their time, for a client
// with batch in one chathistory batch per conversation (as soju does),
// conversations in the order of their first message.
func (b *Bridge) deliverBacklog(s *session) {
	kept, notice := b.backlog.take()
	if notice != "" {
		sendShown(s, &shown{from: b.servicePrefix(), toUser: true, notice: true, body: notice, msgid: b.newMsgID(), at: b.now()}, viewerOf(s))
	}
	b.replay(s, kept)
}

// replay sends s messages from before it attached, as deliverBacklog
// describes.
func (b *Bridge) replay(s *session, kept []shown) {
	b.receiptsOwed(kept)
	v := viewerOf(s)
	if !s.d.HasCap("batch") {
		for _, k := range kept {
			k.delayed = true
			sendShown(s, &k, v)
		}
		return
	}
	var order []string
	byTarget := make(map[string][]shown)
	for _, k := range kept {
		t := conversation(k)
		if _, ok := byTarget[t]; !ok {
			order = append(order, t)
		}
		byTarget[t] = append(byTarget[t], k)
	}
	for _, t := range order {
		b.backlog.replays++
		v.batch = "backlog" + strconv.Itoa(b.backlog.replays)
		b.sendBatch(s.send, v, t, byTarget[t])
	}
}

// conversation is the target of the chathistory batch s belongs in: the
// channel, or the other party of a query.
func conversation(s shown) string {
	if s.toUser {
		return s.from.Name
	}
	return s.target
}
