package bridge

import (
	"context"
	"errors"
	"time"

	"xircd/xmpp"
)

// XMPP requests whose answer comes later: the bridge remembers each by its
// id with what the answer is for, and Run handles the answer event like
// any other (onRequestDone, onRoomList, onBookmarkList, onArchiveAnswer,
// onDiscoInfo; the archive catch-up keeps its own, see archive.go). An
// answer whose request is forgotten (its client detached) is dropped.

// requestTimeout bounds the wait for a room or bookmark request's answer.
const requestTimeout = 30 * time.Second

// request is a request awaiting its answer.
type request struct {
	kind   requestKind
	cancel context.CancelFunc // ends the wait: the answer then reports ctx's error
	s      *session           // requestList: the client that asked
	want   func(string) bool  // requestList: the channels the LIST asks for
	held   *heldCommand       // requestList: the LIST, answered with the rooms
	room   string             // requestSetRole, requestOpenRoom: the room's key
	what   string             // requestSetRole: what the room was asked, e.g. "kick bob"
	bm     xmpp.Bookmark      // requestBookmarkAdd, requestBookmarkRemove
	query  *historyQuery      // requestHistory: the CHATHISTORY being answered
	slot   chan<- slotAnswer  // requestUploadSlot: where the slot goes (filehost.go)
	msgid  string             // requestModerate: the message; what is its target
}

type requestKind int

const (
	requestSetRole        requestKind = iota + 1 // RequestDone
	requestOpenRoom                              // RequestDone
	requestBookmarkAdd                           // RequestDone
	requestBookmarkRemove                        // RequestDone
	requestList                                  // RoomList
	requestAutojoin                              // BookmarkList
	requestBookmarkList                          // BookmarkList
	requestHistory                               // ArchivePage
	requestDisco                                 // DiscoInfo
	requestPublishMark                           // RequestDone (readmarkers.go)
	requestMarkList                              // DisplayedList
	requestMarkLookup                            // ArchivePage
	requestUploadService                         // UploadService (filehost.go)
	requestUploadSlot                            // UploadSlot (filehost.go)
	requestModerate                              // RequestDone (redact.go)
	requestBlock                                 // RequestDone (blocking.go)
	requestBlockList                             // BlockList
	requestOMEMODevices                          // OMEMODeviceList (omemo.go)
	requestOMEMOPublish                          // RequestDone (omemo.go)
	requestOMEMOBundle                           // RequestDone (omemo.go)
	requestDeviceList                            // OMEMODeviceList (omemo_send.go)
	requestBundleFetch                           // OMEMOBundle (omemo_send.go)
)

// startRequest sends a request through send, whose ctx bounds the wait for
// the answer, and remembers r for the answer.
func (b *Bridge) startRequest(r request, send func(ctx context.Context) (string, error)) error {
	return b.startRequestIn(b.runCtx, requestTimeout, r, send)
}

// startRequestIn is startRequest within parent, waiting at most timeout:
// for a request that is one of several bounded together by parent.
func (b *Bridge) startRequestIn(parent context.Context, timeout time.Duration, r request, send func(ctx context.Context) (string, error)) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	id, err := send(ctx)
	if err != nil {
		cancel()
		return err
	}
	r.cancel = cancel
	putIn(&b.requests, id, r)
	return nil
}

// answered returns and forgets the request id answers, if the bridge
// still awaits it.
func (b *Bridge) answered(id string) (request, bool) {
	r, ok := b.requests[id]
	if ok {
		delete(b.requests, id)
		if len(b.requests) == 0 {
			b.requests = nil // a map keeps its room when emptied; most of the time none is awaited
		}
		r.cancel()
	}
	return r, ok
}

// forgetRequests forgets the requests made for s alone: s detached.
func (b *Bridge) forgetRequests(s *session) {
	for id, r := range b.requests {
		if r.s == s {
			delete(b.requests, id)
			r.cancel()
		}
	}
}

func (b *Bridge) onRequestDone(ev xmpp.RequestDone) {
	r, ok := b.answered(ev.ID)
	if !ok {
		// Roster changes: their success shows as a roster push, a
		// refusal is told.
		var se *xmpp.StanzaError
		if errors.As(ev.Err, &se) {
			b.announce("The XMPP server refused "+ev.Op+": "+oneLine(se.Error())+".", true)
		} else if ev.Err != nil {
			b.log.Info("xmpp request failed", "op", ev.Op, "err", ev.Err)
		}
		return
	}
	switch r.kind {
	case requestSetRole:
		b.onSetRole(r, ev.Err)
	case requestOpenRoom:
		b.onRoomOpened(r, ev.Err)
	case requestBookmarkAdd, requestBookmarkRemove:
		b.onBookmarkChanged(r, ev.Err)
	case requestPublishMark:
		b.onMarkPublished(ev.Err)
	case requestModerate:
		b.onModerated(r, ev.Err)
	case requestBlock:
		b.onBlocked(r, ev.Err)
	case requestOMEMOPublish:
		b.onOMEMOPublished(ev)
	case requestOMEMOBundle:
		b.onBundlePublished(ev)
	}
}

func (b *Bridge) onRoomList(ev xmpp.RoomList) {
	if r, ok := b.answered(ev.ID); ok && r.kind == requestList {
		b.listPublicRoomsDone(r, ev)
	}
}

func (b *Bridge) onBookmarkList(ev xmpp.BookmarkList) {
	r, ok := b.answered(ev.ID)
	switch {
	case !ok:
	case r.kind == requestAutojoin:
		b.onBookmarks(ev.Bookmarks, ev.Err)
	case r.kind == requestBookmarkList:
		b.showBookmarks(ev.Bookmarks, ev.Err)
	}
}

// onArchiveAnswer takes a page of the archive: for a CHATHISTORY, a read
// marker's lookup, else for a catch-up.
func (b *Bridge) onArchiveAnswer(ev xmpp.ArchivePage) {
	r, ok := b.answered(ev.ID)
	switch {
	case !ok:
		b.onArchivePage(ev)
	case r.kind == requestHistory:
		b.onHistoryPage(r.query, ev)
	case r.kind == requestMarkLookup:
		b.onMarkLookup(ev)
	}
}
