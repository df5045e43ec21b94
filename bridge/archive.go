package bridge

import (
	"context"
	"slices"
	"strconv"
	"time"

	"xircd/xmpp"
)

// Limits of the archive catch-ups.
const (
	archivePages    = 20               // pages of 100 fetched at most
	archiveTimeout  = 2 * time.Minute  // for the whole catch-up
	archiveOverlap  = 2 * time.Minute  // fetched before the last sign of life
	archiveInterval = 10 * time.Second // a shorter outage is still fetched
)

// catchUpKind is why the archive is fetched.
type catchUpKind int

const (
	// catchUpReconnect: what arrived while the stream was down.
	catchUpReconnect catchUpKind = iota
	// catchUpStartup: what arrived while xircd was not running, since the
	// last message it saw (catchup.go).
	catchUpStartup
	// catchUpClient: what arrived since a named client last detached, for
	// that client alone (catchup.go).
	catchUpClient
)

// catchUp is an archive catch-up under way: pages are asked for one
// after the other, all within one ctx that bounds the whole.
type catchUp struct {
	kind   catchUpKind
	id     string // the page awaited
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time
	after  string // the first page follows this archive id (start-up, client)
	// ownUntil (start-up, client): the user's own messages until then
	// were shown already (sent through xircd before it stopped, or before
	// the client left); it is also where to start when the archive no
	// longer knows after.
	ownUntil time.Time
	// s (catchUpClient) is the client caught up; got are the msgids it
	// was sent since it attached, not to be shown twice.
	s     *session
	got   map[string]bool
	pages int
	msgs  []xmpp.Message
}

// markSeen remembers the stanza id of m (own: sent by the user), a chat
// message shown to the user or a reaction taken in, with its record, so
// that the archive catch-up does not show it twice.
func (b *Bridge) markSeen(m *xmpp.Message, own bool) {
	if m.StanzaID != "" {
		b.msgs.markSeen(msgIDFor(m, own), m.StanzaID)
	}
}

// startCatchUp asks for what the server archived since shortly before
// the connection was lost: messages that went to the dead stream are found
// there. After a start, it asks for what came since the last message seen
// before xircd stopped. The pages arrive as ArchivePage events
// (onArchivePage). With nothing to fetch, what waits for the catch-up
// follows at once.
func (b *Bridge) startCatchUp() {
	if old := b.sharedCatchUp(); old != nil {
		b.endCatchUp(old, nil, false, true)
		if old.kind == catchUpStartup {
			// Lost during the start-up catch-up: that one, again, covers
			// the outage too.
			b.resume, b.lostAt = resumePoint{ID: old.after, At: old.ownUntil}, time.Time{}
		}
	}
	var cu *catchUp
	switch {
	case !b.lostAt.IsZero():
		cu = &catchUp{kind: catchUpReconnect, start: b.lostAt.Add(-archiveOverlap)}
		b.lostAt = time.Time{}
	case b.resume.ID != "" || !b.resume.At.IsZero():
		cu = &catchUp{kind: catchUpStartup, after: b.resume.ID, ownUntil: b.resume.At}
		if b.resume.ID == "" {
			cu.start = b.resume.At // no chat message was ever seen
		}
	default:
		b.caughtUp()
		return
	}
	b.resume = resumePoint{}
	b.runCatchUp(cu)
}

// runCatchUp starts cu.
func (b *Bridge) runCatchUp(cu *catchUp) {
	cu.ctx, cu.cancel = context.WithTimeout(b.runCtx, archiveTimeout)
	b.catchUps = append(b.catchUps, cu)
	b.nextArchivePage(cu, cu.after)
}

// sharedCatchUp is the reconnect or start-up catch-up under way, if any.
func (b *Bridge) sharedCatchUp() *catchUp {
	for _, cu := range b.catchUps {
		if cu.s == nil {
			return cu
		}
	}
	return nil
}

// nextArchivePage asks for cu's page after the archive id after.
func (b *Bridge) nextArchivePage(cu *catchUp, after string) {
	cu.pages++
	id, err := b.x.QueryArchive(cu.ctx, xmpp.ArchiveQuery{Start: cu.start, After: after, Max: 100})
	if err != nil {
		b.endCatchUp(cu, err, false, false)
		return
	}
	cu.id = id
}

// onArchivePage takes one page of a catch-up and asks for the next, or
// ends the catch-up.
func (b *Bridge) onArchivePage(p xmpp.ArchivePage) {
	i := slices.IndexFunc(b.catchUps, func(cu *catchUp) bool { return cu.id == p.ID })
	if i < 0 {
		return // a catch-up given up for a newer one
	}
	cu := b.catchUps[i]
	if p.Err != nil {
		if cu.after != "" && cu.pages == 1 {
			// The server no longer knows the last message seen (its
			// archive expired): fetch by its time instead.
			cu.after, cu.start = "", cu.ownUntil
			b.nextArchivePage(cu, "")
			return
		}
		b.endCatchUp(cu, p.Err, false, false)
		return
	}
	cu.msgs = append(cu.msgs, p.Messages...)
	switch {
	case p.Complete || p.Last == "" || len(p.Messages) == 0:
		b.endCatchUp(cu, nil, false, false)
	case cu.pages == archivePages:
		b.endCatchUp(cu, nil, true, false)
	default:
		b.nextArchivePage(cu, p.Last)
	}
}

// endCatchUp shows what cu fetched, unless it is given up for a newer one.
func (b *Bridge) endCatchUp(cu *catchUp, err error, truncated, givenUp bool) {
	b.catchUps = slices.DeleteFunc(b.catchUps, func(o *catchUp) bool { return o == cu })
	cu.cancel()
	if givenUp {
		return
	}
	if cu.s != nil {
		b.onClientArchive(cu, err, truncated)
		return
	}
	b.onArchive(cu, err, truncated)
	b.caughtUp()
}

// onArchive shows the archived messages the user has not seen.
func (b *Bridge) onArchive(cu *catchUp, err error, truncated bool) {
	shown := 0
	for _, m := range cu.msgs {
		if m.Type == "groupchat" || m.Type == "error" || m.Body == "" || m.StanzaID != "" && b.msgs.seen(m.StanzaID) {
			continue
		}
		if b.isOwnJID(m.From) {
			// Sent by the user: through this gateway (already shown) or
			// from another client (shown as a carbon would be).
			byOrigin, _ := b.sent.get(m.OriginID)
			byID, _ := b.sent.get(m.ID)
			if byOrigin.jid != "" || byID.jid != "" || !m.Delay.After(cu.ownUntil) {
				continue
			}
			m.Carbon = xmpp.CarbonSent
		}
		if m.Delay.IsZero() {
			m.Delay = b.now()
		}
		b.onMessage(&m)
		shown++
	}
	while, since := "while XMPP was disconnected", "the disconnection"
	if cu.kind == catchUpStartup {
		while, since = "while xircd was not running", "xircd stopped"
	}
	switch {
	case err != nil:
		b.announce("Could not fetch the messages archived "+while+": "+oneLine(err.Error())+".", true)
	case truncated:
		b.announce("Only the first "+strconv.Itoa(archivePages*100)+" archived messages since "+since+" were fetched.", true)
	}
	if shown > 0 {
		b.announce("Fetched "+strconv.Itoa(shown)+" message(s) from the server's archive that arrived "+while+".", true)
	}
}
