package bridge

import (
	"context"
	"strconv"
	"time"

	"xircd/xmpp"
)

// Limits of the catch-up after a reconnect.
const (
	maxSeenIDs      = 2000             // stanza ids of messages already shown
	archivePages    = 20               // pages of 100 fetched at most
	archiveTimeout  = 2 * time.Minute  // for the whole catch-up
	archiveOverlap  = 2 * time.Minute  // fetched before the last sign of life
	archiveInterval = 10 * time.Second // a shorter outage is still fetched
)

// catchUp is the archive catch-up under way: pages are asked for one
// after the other, all within one ctx that bounds the whole.
type catchUp struct {
	id     string // the page awaited
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time
	pages  int
	msgs   []xmpp.Message
}

// markSeen remembers the stanza id of a message shown to the user, so the
// archive catch-up does not show it twice.
func (b *Bridge) markSeen(id string) {
	if id != "" {
		b.seen.put(id, struct{}{})
	}
}

// startCatchUp asks for what the server archived since shortly before
// the connection was lost: messages that went to the dead stream are found
// there. The pages arrive as ArchivePage events (onArchivePage).
func (b *Bridge) startCatchUp() {
	if b.lostAt.IsZero() {
		return
	}
	if b.catchUp != nil {
		b.catchUp.cancel()
	}
	ctx, cancel := context.WithTimeout(b.runCtx, archiveTimeout)
	b.catchUp = &catchUp{ctx: ctx, cancel: cancel, start: b.lostAt.Add(-archiveOverlap)}
	b.lostAt = time.Time{}
	b.nextArchivePage("")
}

// nextArchivePage asks for the page after the archive id after.
func (b *Bridge) nextArchivePage(after string) {
	cu := b.catchUp
	cu.pages++
	id, err := b.x.QueryArchive(cu.ctx, xmpp.ArchiveQuery{Start: cu.start, After: after, Max: 100})
	if err != nil {
		b.endCatchUp(err, false)
		return
	}
	cu.id = id
}

// onArchivePage takes one page of the catch-up and asks for the next, or
// ends the catch-up.
func (b *Bridge) onArchivePage(p xmpp.ArchivePage) {
	cu := b.catchUp
	if cu == nil || p.ID != cu.id {
		return // a catch-up given up for a newer one
	}
	if p.Err != nil {
		b.endCatchUp(p.Err, false)
		return
	}
	cu.msgs = append(cu.msgs, p.Messages...)
	switch {
	case p.Complete || p.Last == "" || len(p.Messages) == 0:
		b.endCatchUp(nil, false)
	case cu.pages == archivePages:
		b.endCatchUp(nil, true)
	default:
		b.nextArchivePage(p.Last)
	}
}

// endCatchUp shows what the catch-up fetched.
func (b *Bridge) endCatchUp(err error, truncated bool) {
	cu := b.catchUp
	b.catchUp = nil
	cu.cancel()
	b.onArchive(cu.msgs, err, truncated)
}

// onArchive shows the archived messages the user has not seen.
func (b *Bridge) onArchive(msgs []xmpp.Message, err error, truncated bool) {
	shown := 0
	for _, m := range msgs {
		if m.Type == "groupchat" || m.Type == "error" || m.Body == "" || b.seen.has(m.StanzaID) {
			continue
		}
		if b.isOwnJID(m.From) {
			// Sent by the user: through this gateway (already shown) or
			// from another client (shown as a carbon would be).
			byOrigin, _ := b.sent.get(m.OriginID)
			byID, _ := b.sent.get(m.ID)
			if byOrigin.jid != "" || byID.jid != "" {
				continue
			}
			m.Carbon = xmpp.CarbonSent
		}
		if m.Delay.IsZero() {
			m.Delay = b.now()
		}
		b.onMessage(m)
		shown++
	}
	switch {
	case err != nil:
		b.announce("Could not fetch the messages archived while XMPP was disconnected: "+oneLine(err.Error())+".", true)
	case truncated:
		b.announce("Only the first "+strconv.Itoa(archivePages*100)+" archived messages since the disconnection were fetched.", true)
	}
	if shown > 0 {
		b.announce("Fetched "+strconv.Itoa(shown)+" message(s) from the server's archive that arrived while XMPP was disconnected.", true)
	}
}
