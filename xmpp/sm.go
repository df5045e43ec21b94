package xmpp

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"sync"
)

// nsSM is XEP-0198 stream management, version 3.
const nsSM = "urn:xmpp:sm:3"

// ackEvery is how many unconfirmed stanzas make the writer ask the server
// for a confirmation at once; fewer wait for the ack timer (ackDelay).
const ackEvery = 8

// smResumption is the stream management session of a stream: what
// resuming it on a new connection needs (XEP-0198 §5).
type smResumption struct {
	id      string // the server's resumption id; "" when it cannot be resumed
	jid     string // full JID bound on the stream
	inbound uint32 // stanzas of the server's we handled (our h)
}

// outItem is one thing for the writer to send.
type outItem struct {
	text     string
	msg      *OutMessage // a message: kept to be sent again or reported when the stream is lost
	nonza    bool        // not a stanza (stream management elements): never counted
	enableSM bool        // the <enable/> of stream management: counting starts after it
}

// sentLog keeps what was written to the stream until the server confirms
// it got it: acknowledged by stream management (XEP-0198), or, without it,
// followed by a ping the server answered (TCP and the server keep the
// order). It outlives the connection, so that what one lost is sent again
// on the next one or reported.
type sentLog struct {
	mu        sync.Mutex
	all       bool      // stream management is on: every stanza is kept and counted, not only messages
	written   uint32    // items kept since counting began (the server's h, for stream management)
	acked     uint32    // of those, how many the server confirmed
	requested uint32    // written when we last asked for a confirmation
	unacked   []outItem // the written - acked last items, oldest first
}

// wrote records an item the writer has written (or, for an item that was
// never written, must be sent on the next stream).
func (l *sentLog) wrote(it outItem) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if it.nonza || (!l.all && it.msg == nil) {
		return
	}
	l.written++
	l.unacked = append(l.unacked, it)
}

// ack notes that the server has received the first h items.
func (l *sentLog) ack(h uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ackLocked(h)
}

func (l *sentLog) ackLocked(h uint32) {
	n := h - l.acked // modulo 2^32, as XEP-0198 counts
	if int32(n) <= 0 || n > uint32(len(l.unacked)) {
		return // old news, or more than we sent: ignored rather than trusted
	}
	clear(l.unacked[:n])
	l.unacked = l.unacked[n:]
	if len(l.unacked) == 0 {
		l.unacked = nil // an idle stream keeps no array
	}
	l.acked = h
}

// unrequested reports whether items written since the last request for
// a confirmation still wait for one.
func (l *sentLog) unrequested() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.written != l.requested && l.written != l.acked
}

// needProof reports whether the writer should ask for a confirmation now,
// and of how many items; timer says whether the ack timer has fired.
func (l *sentLog) needProof(timer bool) (uint32, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fresh := l.written - l.requested
	if fresh == 0 || l.written == l.acked || (!timer && fresh < ackEvery) {
		return 0, false
	}
	l.requested = l.written
	return l.written, true
}

// startSM starts counting every stanza from zero: the writer has just
// written <enable/>.
func (l *sentLog) startSM() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all, l.written, l.acked, l.requested = true, 0, 0, 0
	l.unacked = l.unacked[:0]
}

// stopSM goes back to keeping only messages: the server refused to enable
// stream management, so only pings can confirm them.
func (l *sentLog) stopSM() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = false
	l.unacked = onlyMessages(l.unacked)
	l.written = l.acked + uint32(len(l.unacked))
	l.requested = l.acked
}

// managed reports whether stream management counts the stanzas.
func (l *sentLog) managed() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all
}

// resume returns the items to send again on a resumed stream: the server
// got the first h.
func (l *sentLog) resume(h uint32) []outItem {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ackLocked(h)
	again := l.unacked
	l.unacked = nil
	l.written, l.acked, l.requested = h, h, h
	return again
}

// restart returns the messages to send again on a new session (a fresh
// login) and forgets the rest: IQs and presences of the old session mean
// nothing on the new one.
func (l *sentLog) restart() []outItem {
	l.mu.Lock()
	defer l.mu.Unlock()
	again := onlyMessages(l.unacked)
	l.all, l.written, l.acked, l.requested, l.unacked = false, 0, 0, 0, nil
	return again
}

func onlyMessages(items []outItem) []outItem {
	var msgs []outItem
	for _, it := range items {
		if it.msg != nil {
			msgs = append(msgs, it)
		}
	}
	return msgs
}

// messages returns the messages of items.
func messagesOf(items []outItem) []OutMessage {
	var msgs []OutMessage
	for _, it := range items {
		if it.msg != nil {
			msgs = append(msgs, *it.msg)
		}
	}
	return msgs
}

// handleSM handles a stream management element from the server.
func (c *conn) handleSM(start xml.StartElement) error {
	if err := c.dec.Skip(); err != nil {
		return err
	}
	switch start.Name.Local {
	case "r":
		c.sendItem(outItem{text: fmt.Sprintf("<a xmlns='%s' h='%d'/>", nsSM, c.sm.inbound), nonza: true})
	case "a":
		h, err := strconv.ParseUint(attr(start, "h"), 10, 32)
		if err != nil {
			return fmt.Errorf("xmpp: stream management <a/> without a valid h: %q", attr(start, "h"))
		}
		c.s.sent.ack(uint32(h))
	case "enabled":
		c.smOn = true
		c.sm = smResumption{jid: c.jid}
		if v := attr(start, "resume"); v == "true" || v == "1" {
			c.sm.id = attr(start, "id")
		}
	case "failed":
		// Refused to enable: the stream goes on without it.
		c.s.log.Warn("xmpp: the server refused to enable stream management")
		c.s.sent.stopSM()
	}
	return nil
}
