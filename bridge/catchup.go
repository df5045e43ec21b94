package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"xircd/xmpp"
)

// Catching up from the server's archive (XEP-0313), beyond a reconnect
// (archive.go):
//   - At start-up: xircd remembers in state_dir the archive id and time of
//     the last chat message it saw, and after starting fetches what the
//     account's archive holds after it, including messages another client
//     of the account took while xircd was not running (offline storage
//     keeps none of those). They are delivered like backlog, with their
//     time and msgid.
//   - Per client: a client that names itself ("USER carol@laptop", see
//     ircd.ParseClientName) gets, when it attaches, the chats that arrived
//     since it last detached, fetched for it alone; messages it was sent
//     since it attached (the backlog, live ones) are not repeated. Clients
//     without a name get the shared backlog only, as before.
// Both cover the account's archive, that is one-to-one chats; group chats
// have their own history (the room's, on join).

// catchUpFileName is the file in state_dir holding the catch-up points.
const catchUpFileName = "catchup.json"

// Limits of the catch-up bookkeeping.
const (
	maxClientNames    = 64          // named clients remembered, the least recent dropped
	positionSaveEvery = time.Second // the last message seen is written at most this often
)

// resumePoint is where the archive was last seen: the archive id of the
// last message and the time of the last message seen or sent.
type resumePoint struct {
	ID string    `json:"id,omitempty"`
	At time.Time `json:"at"`
}

// catchUpFile is what catchup.json holds.
type catchUpFile struct {
	Last resumePoint `json:"last"`
	// Clients are where each named client was when it last detached.
	Clients map[string]resumePoint `json:"clients,omitempty"`
}

// catchUpState is the bridge's part in it.
type catchUpState struct {
	position resumePoint
	clients  map[string]resumePoint
	dirty    bool
	savedAt  time.Time
	// saveDue posts opCatchUpSaveDue when a moved position may be
	// written (see flushCatchUpState); nil while no save waits.
	saveDue *time.Timer
	// waiting are named clients whose catch-up waits for the connection
	// or for the shared catch-up to end.
	waiting []*session
}

// loadCatchUp reads dir's catch-up file; a missing file is a first start.
func loadCatchUp(dir string) (catchUpState, error) {
	var st catchUpState
	if dir == "" {
		return st, nil
	}
	path := catchUpPath(dir)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return st, nil
	case err != nil:
		return st, fmt.Errorf("bridge: reading %s: %w", path, err)
	}
	var f catchUpFile
	if err := json.Unmarshal(data, &f); err != nil {
		return st, fmt.Errorf("bridge: catch-up file %s is corrupt: %w", path, err)
	}
	st.position = f.Last
	st.clients = f.Clients
	return st, nil
}

// catchUpPath is the catch-up file's path in state_dir dir: the
// directory is the bridge's Config.StateDir, not kept a second time.
func catchUpPath(dir string) string { return filepath.Join(dir, catchUpFileName) }

// save writes the catch-up file in dir atomically.
func (st *catchUpState) save(dir string) error {
	data, err := st.encode()
	if err != nil || dir == "" {
		return err
	}
	return writeFileAtomic(catchUpPath(dir), data)
}

// encode is the catch-up file's content, from now on saved.
func (st *catchUpState) encode() ([]byte, error) {
	st.dirty = false
	st.savedAt = time.Now()
	data, err := json.MarshalIndent(catchUpFile{Last: st.position, Clients: st.clients}, "", "  ")
	return append(data, '\n'), err
}

// saveCatchUp has the file written now (fileWriter), logging failures:
// the worst outcome is a message shown twice after a restart.
func (b *Bridge) saveCatchUp() {
	data, err := b.caught.encode()
	switch {
	case err != nil:
		b.log.Error("saving the catch-up point failed", "path", catchUpPath(b.cfg.StateDir), "err", err)
	case b.cfg.StateDir != "":
		b.files.write(catchUpPath(b.cfg.StateDir), data)
	}
}

// flushCatchUpState writes a moved position, at most every
// positionSaveEvery; what changed meanwhile is written once saveDue
// fires (Run then calls this again).
func (b *Bridge) flushCatchUpState() {
	st := &b.caught
	if !st.dirty || b.cfg.StateDir == "" {
		return
	}
	if wait := time.Until(st.savedAt.Add(positionSaveEvery)); wait > 0 {
		if st.saveDue == nil {
			st.saveDue = time.AfterFunc(wait, func() { b.post(opCatchUpSaveDue{}) })
		}
		return
	}
	b.saveCatchUp()
}

// closeCatchUp writes the catch-up points as Run ends: xircd, and the
// named clients still attached, have seen everything until now.
func (b *Bridge) closeCatchUp() {
	b.noteSent()
	for _, s := range b.sessions {
		b.noteClientLeft(s)
	}
	b.saveCatchUp()
}

// notePosition moves the position to a message of the account's archive
// shown at time at.
func (b *Bridge) notePosition(m *xmpp.Message, at time.Time) {
	if m.Type == "groupchat" || m.StanzaID == "" || at.Before(b.caught.position.At) {
		return
	}
	b.caught.position = resumePoint{ID: m.StanzaID, At: at}
	b.caught.dirty = true
}

// noteSent moves the position's time to now: the user's messages sent
// through xircd (or seen live) until then need no catch-up.
func (b *Bridge) noteSent() {
	if now := b.now(); now.After(b.caught.position.At) {
		b.caught.position.At = now
		b.caught.dirty = true
	}
}

// caughtUp runs what waited for the shared catch-up: the read markers
// (so that they find the messages just shown) and the named clients'
// catch-ups.
func (b *Bridge) caughtUp() {
	b.requestMarks()
	waiting := b.caught.waiting
	b.caught.waiting = nil
	for _, s := range waiting {
		b.startClientCatchUp(s)
	}
}

// clientAttached prepares a named client's catch-up: from now on, what it
// is sent is noted so that the catch-up does not repeat it.
func (b *Bridge) clientAttached(s *session) {
	name := s.d.ClientName()
	if name == "" {
		return
	}
	if _, ok := b.caught.clients[name]; !ok {
		return // a first visit: the shared backlog is all there is
	}
	s.catchUpGot = map[string]bool{}
	if b.connected && b.sharedCatchUp() == nil {
		b.startClientCatchUp(s)
		return
	}
	b.caught.waiting = append(b.caught.waiting, s)
}

// startClientCatchUp asks the archive for what came after the last
// message s had seen when it detached (by the archive's id: times in the
// archive are only to the second).
func (b *Bridge) startClientCatchUp(s *session) {
	if s.detached {
		return
	}
	rp := b.caught.clients[s.d.ClientName()]
	cu := &catchUp{kind: catchUpClient, after: rp.ID, ownUntil: rp.At, s: s, got: s.catchUpGot}
	if rp.ID == "" {
		cu.start = rp.At
	}
	b.runCatchUp(cu)
}

// clientDetached notes when a named client left, and gives up its
// catch-up.
func (b *Bridge) clientDetached(s *session) {
	b.caught.waiting = slices.DeleteFunc(b.caught.waiting, func(o *session) bool { return o == s })
	for _, cu := range slices.Clone(b.catchUps) {
		if cu.s == s {
			b.endCatchUp(cu, nil, false, true)
		}
	}
	if b.noteClientLeft(s) {
		b.saveCatchUp()
	}
}

// noteClientLeft records that named client s has seen everything shown
// until now; false for a client without a name.
func (b *Bridge) noteClientLeft(s *session) bool {
	name := s.d.ClientName()
	if name == "" {
		return false
	}
	// Everything shown until now went to s too.
	rememberClient(&b.caught.clients, name, resumePoint{ID: b.caught.position.ID, At: b.now()})
	b.caught.dirty = true
	return true
}

// rememberClient sets where client name is, forgetting the client that
// left longest ago when maxClientNames are known.
func rememberClient(clients *map[string]resumePoint, name string, rp resumePoint) {
	if _, ok := (*clients)[name]; !ok && len(*clients) >= maxClientNames {
		oldest := ""
		for n, o := range *clients {
			if oldest == "" || o.At.Before((*clients)[oldest].At) {
				oldest = n
			}
		}
		delete(*clients, oldest)
	}
	putIn(clients, name, rp)
}

// noteSentTo records, while s waits for its catch-up, the msgid of a
// message s was sent.
func noteSentTo(s *session, msgid string) {
	if s.catchUpGot != nil && msgid != "" && len(s.catchUpGot) < archivePages*100 {
		s.catchUpGot[msgid] = true
	}
}

// collectFor runs show, which shows messages for s alone: they are
// collected, not delivered, and returned.
func (b *Bridge) collectFor(s *session, show func()) []shown {
	b.only = s
	// Even after a panic, messages go to everyone again.
	defer func() { b.only, b.onlyKept = nil, nil }()
	show()
	return b.onlyKept
}

// onClientArchive shows a named client what its catch-up fetched and it
// was not sent yet.
func (b *Bridge) onClientArchive(cu *catchUp, err error, truncated bool) {
	s := cu.s
	s.catchUpGot = nil
	if s.detached {
		return
	}
	shown := 0
	kept := b.collectFor(s, func() {
		for _, m := range cu.msgs {
			if m.Type == "groupchat" || m.Type == "error" || m.Body == "" || m.Delay.IsZero() {
				continue
			}
			own := b.isOwnJID(m.From)
			if own && !m.Delay.After(cu.ownUntil) {
				continue // sent before s left: s saw its echo
			}
			if own {
				m.Carbon = xmpp.CarbonSent
			}
			id := msgIDFor(&m, own)
			if id != "" && cu.got[id] {
				continue
			}
			if sm := b.shownMsg(id); sm != nil {
				m.Delay = sm.at() // the time other clients saw it with
			}
			b.onMessage(&m)
			shown++
		}
	})
	b.replay(s, kept)
	name := s.d.ClientName()
	switch {
	case err != nil:
		b.serviceNotice(s, "Could not fetch the messages archived since this client ("+name+") was last attached: "+oneLine(err.Error())+".")
	case truncated:
		b.serviceNotice(s, "Only the first "+strconv.Itoa(archivePages*100)+" archived messages since this client ("+name+") was last attached were fetched.")
	}
	if shown > 0 {
		b.serviceNotice(s, "Fetched "+strconv.Itoa(shown)+" message(s) from the server's archive that arrived since this client ("+name+") was last attached.")
	}
}
