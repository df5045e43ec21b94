package bridge

import (
	"context"
	"strconv"
	"time"

	"xircd/xmpp"
)

// archiver is implemented by sessions that can query the account's message
// archive (XEP-0313); *xmpp.Session does.
type archiver interface {
	QueryArchive(ctx context.Context, q xmpp.ArchiveQuery) (*xmpp.ArchivePage, error)
}

// Limits of the catch-up after a reconnect.
const (
	maxSeenIDs      = 2000             // stanza ids of messages already shown
	archivePages    = 20               // pages of 100 fetched at most
	archiveTimeout  = 2 * time.Minute  // for the whole catch-up
	archiveOverlap  = 2 * time.Minute  // fetched before the last sign of life
	archiveInterval = 10 * time.Second // a shorter outage is still fetched
)

// opArchive carries archived messages fetched after a reconnect back to
// the Run goroutine.
type opArchive struct {
	msgs      []xmpp.Message
	err       error
	truncated bool
}

func (opArchive) isOp() {}

// markSeen remembers the stanza id of a message shown to the user, so the
// archive catch-up does not show it twice.
func (b *Bridge) markSeen(id string) {
	if id != "" {
		b.seen.put(id, struct{}{})
	}
}

// startCatchUp fetches, in the background, what the server archived since
// shortly before the connection was lost: messages that went to the dead
// stream are found there.
func (b *Bridge) startCatchUp() {
	a, ok := b.x.(archiver)
	if !ok || b.lostAt.IsZero() || b.runCtx == nil {
		return
	}
	start := b.lostAt.Add(-archiveOverlap)
	b.lostAt = time.Time{}
	ctx := b.runCtx
	go func() {
		ctx, cancel := context.WithTimeout(ctx, archiveTimeout)
		defer cancel()
		var res opArchive
		after := ""
		for page := 0; ; page++ {
			if page == archivePages {
				res.truncated = true
				break
			}
			p, err := a.QueryArchive(ctx, xmpp.ArchiveQuery{Start: start, After: after, Max: 100})
			if err != nil {
				res.err = err
				break
			}
			res.msgs = append(res.msgs, p.Messages...)
			if p.Complete || p.Last == "" || len(p.Messages) == 0 {
				break
			}
			after = p.Last
		}
		b.post(res)
	}()
}

// onArchive shows the archived messages the user has not seen.
func (b *Bridge) onArchive(res opArchive) {
	shown := 0
	for _, m := range res.msgs {
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
	case res.err != nil:
		b.announce("Could not fetch the messages archived while XMPP was disconnected: "+oneLine(res.err.Error())+".", true)
	case res.truncated:
		b.announce("Only the first "+strconv.Itoa(archivePages*100)+" archived messages since the disconnection were fetched.", true)
	}
	if shown > 0 {
		b.announce("Fetched "+strconv.Itoa(shown)+" message(s) from the server's archive that arrived while XMPP was disconnected.", true)
	}
}
