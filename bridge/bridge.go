// Package bridge is the gateway's state and translation: it shows the XMPP
// roster as nicks in a control channel, presence as voice and away, chats as
// queries, and runs the control commands. It implements ircd.Backend over
// the XMPP interface; it opens no sockets.
//
// One goroutine (Run) owns all state. Calls from IRC connections (CheckNick,
// Attach, Handle, Detach) and XMPP events reach it as typed events; the
// answers to XMPP requests are XMPP events too (requests.go).
//
// Behaviour worth knowing:
//   - All attached clients share one identity. The first client's nick
//     becomes the user's nick; a client that attaches later with another
//     nick is moved to it (NICK), and NICK from any client renames all of
//     them. The bridge owns the nick: ircd asks for it (session.Nick).
//   - Contacts get nicks from their roster name, else the JID localpart,
//     made valid and unique with "_2", "_3"… suffixes (in JID order, saved
//     nicks first). Nicks and renames are saved in state_dir.
//   - The user always gets the nick they ask for (only the service nick is
//     refused): a contact or occupant holding it moves to the next free
//     suffix, and the user is told (nicks.go).
//   - Messages for the user that arrive while no client is attached are
//     kept whole (Config.Backlog messages, Config.BacklogBytes; when full,
//     the sender with the largest share loses its oldest, strangers get a
//     smaller share) and replayed, with their time, to the next client that
//     attaches, in chathistory batches (backlog.go).
//   - Every message is formatted for the client it is delivered to (nick,
//     visible time stamp, room for the text): no line over 512 bytes,
//     every piece of a split message stamped (identity.go).
//   - Messages from strangers (JIDs outside the roster) are shown, reduced
//     to a notice that they wrote, or ignored: Config.Strangers, "set
//     strangers" (strangers.go).
//   - Every PRIVMSG, NOTICE and TAGMSG carries a msgid and a time tag, the
//     same wherever the message is shown again; a msgid resolves back to
//     the XMPP id that references to the message use (identity.go).
//   - A reconnect that resumed the stream (XEP-0198) changes nothing: the
//     server kept roster, presence and rooms and delivers what it held. The
//     points below are about a fresh login.
//   - After an XMPP reconnect, contacts stay as they were shown while their
//     presence comes back; whoever has not reappeared a few seconds after
//     the roster leaves then, so a reconnect does not flap the channel.
//   - After a reconnect, messages the server archived (XEP-0313) since
//     shortly before the stream was lost are fetched; those already shown
//     (same stanza id) or sent through the gateway are skipped. After a
//     start, what the archive holds after the last message seen before the
//     stop is fetched; a client named "USER nick@NAME" gets what came after
//     the last message it had seen when it left (catchup.go).
//   - Read markers (draft/read-marker) are the account's XEP-0490 markers,
//     mapped between times and stanza-ids through the messages shown
//     (readmarkers.go).
//   - CHATHISTORY (draft/chathistory) is answered from the server's
//     archive, offered once disco#info shows that the account has one
//     (chathistory.go).
//   - A contact's IRC account (account-tag, extended-join, WHOIS 330) is
//     its bare JID and its real name is its roster name, else the JID; a
//     roster name change is a SETNAME. The user's real name is the one
//     each client gave in USER until a client sends SETNAME, which then
//     holds for all. MONITOR lists are per client (monitor.go).
//   - Group chats are '#' channels shared by every client (rooms.go). Room
//     occupants take part in the one nick namespace: the user is the user's
//     nick, a roster contact is the contact's nick, anyone else gets the
//     room nick made valid and unique with the same suffixes; rooms are
//     rejoined after a reconnect.
package bridge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"time"

	"gopkg.in/irc.v4"

	"xircd/ircd"
	"xircd/xmpp"
)

// Config configures a Bridge.
type Config struct {
	ServerName     string // the IRC server's name, for numerics and prefixes
	ControlChannel string // default "&xmpp"
	ServiceNick    string // default "xircd"; reserved, never given to a contact
	StateDir       string // where nicks and settings persist; "" = nowhere
	ShowOffline    bool   // keep offline contacts in the control channel
	MUCService     string // default conference service for "JOIN #room"
	Backlog        int    // messages kept while no client is attached; default 1000
	BacklogBytes   int    // and their bytes at most; default 2 MiB
	Strangers      string // messages from strangers: accept (default), notice or ignore
	ReadMarkers    bool   // tell contacts who ask (XEP-0333) what the user read
	SedCorrections bool   // "s/old/new/" corrects the user's last message (XEP-0308)
	FileHostURL    string // the upload endpoint advertised as soju.im/FILEHOST; "" for none
	MaxRooms       int    // rooms joined at once; default 100
	// LoginWork, when set, schedules what a login sets off that nothing
	// waits for (the OMEMO device list and bundle): it calls start, from
	// any goroutine, when that work may begin. Multi-user mode passes one
	// queue for all users, so that this work follows a crowd of logins
	// instead of slowing it down. nil: at once.
	LoginWork func(start func())
	Logger    *slog.Logger
}

// Defaults for Config fields left empty.
const (
	DefaultControlChannel = "&xmpp"
	DefaultServiceNick    = "xircd"
	DefaultBacklog        = 1000
	DefaultBacklogBytes   = 2 << 20
)

// Limits on what the bridge keeps in memory.
const (
	maxPending  = 100 // messages queued while XMPP is down
	maxSentIDs  = 512 // sent stanza ids remembered to match error replies
	maxTemp     = 200 // strangers (not in the roster) given a nick
	settleDelay = 5 * time.Second
)

// Bridge is the gateway between one XMPP session and any number of attached
// IRC clients. It implements ircd.Backend.
type Bridge struct {
	cfg   Config // its Strangers is the setting, which "set strangers" changes (strangers.go)
	x     XMPP
	log   *slog.Logger
	done  chan struct{}
	start int64 // when the bridge started, in Unix seconds: all clients are told of it

	owner *owner // runs the bridge only while there is something to handle (owner.go)

	// Everything below is owned by the Run goroutine.
	// The flags are side by side, as the struct's other small fields:
	// each alone would take a word.
	state    *stateFile
	files    *fileWriter // writes state and catch-up files (filewriter.go)
	sessions clients     // attached IRC clients
	nicks    *nickSpace  // who holds which nick, the user's included
	logins   uint32      // logins so far (not resumptions): whose work is scheduled (afterLogin)
	// historyBatch numbers the batches of CHATHISTORY answers
	// (chathistory.go). Two counters in one word.
	historyBatch uint32
	stateDirty   bool
	showOffline  bool
	connected    bool
	mam          bool // the server keeps the user's archive (XEP-0313)
	readMarkers  bool // XEP-0333 displayed markers to contacts who ask
	// markRefusalTold: the user was told the server refused a marker.
	markRefusalTold bool
	sedCorrections  bool // "s/old/new/" corrects the user's last message (replies.go)
	// downAnnounced: the user was told the connection is down; lastErr is
	// why the last attempt failed.
	downAnnounced bool
	lastErr       string
	lastLive      time.Time          // when the stream last delivered something
	lostAt        time.Time          // lastLive when the stream was lost; zero once caught up
	catchUps      []*catchUp         // archive catch-ups under way (archive.go)
	requests      map[string]request // XMPP requests awaiting their answer, by id (requests.go)
	msgs          *messageStore      // the messages shown or sent (identity.go)
	retracted     *bounded[struct{}] // the user's room retractions not yet reflected (redact.go)
	receipts      *bounded[receipt]  // receipts owed once a client sees the message (receipts.go)
	upload        uploadService      // the server's XEP-0363 service (filehost.go)
	newMsgID      func() string      // msgids of lines without an XMPP id (XMPP.NewID; tests count)
	runCtx        context.Context
	ownJID        string
	contacts      contactSet            // by bare JID (lower case)
	lastRes       map[*contact]string   // resource each contact's last message came from (target)
	tempOrder     []string              // keys of strangers, oldest first
	away          string                // the user's AWAY text, "" when present
	realname      string                // the user's SETNAME, "" when never set
	pending       []pendingMessage      // unsent while XMPP is down
	sent          *bounded[sentMessage] // by stanza id
	backlog       *backlog              // messages kept while no client is attached (backlog.go)
	strangerAt    *bounded[time.Time]   // when the user was last told that a stranger wrote, by bare JID
	settleTimer   *time.Timer           // scheduleSettle's, nil when none is set
	settleGen     uint64                // which of scheduleSettle's timers is settleTimer
	settleAfter   time.Duration
	holdFor       time.Duration // how long a command waits for XMPP (maxHold; 0: not at all)
	now           func() time.Time
	rooms         roomSet // group chats (rooms.go)

	// setCap offers and withdraws draft/chathistory (SetCapSwitch).
	setCap func(name string, on bool) error

	// Read state and catch-ups (readmarkers.go, catchup.go).
	read       readState    // read markers
	resume     resumePoint  // where the start-up catch-up begins
	caught     catchUpState // catch-up points kept in state_dir
	omemo      omemoState   // xircd's OMEMO device (omemo.go)
	omemoTrust omemoTrust   // trust in other OMEMO devices (omemo_trust_irc.go)
	omemoOut   omemoOut     // device lists and messages to encrypt (omemo_send.go)
	// only, while set, is the one client messages are for (a named
	// client's catch-up); they are collected in onlyKept and replayed.
	only     *session
	onlyKept []shown

	// Replies, reactions and corrections (replies.go).
	refsOf *references

	// The command being handled, so that what it causes for its own client
	// follows its replies (see session.send).
	curSess *session
	curReq  *ircd.Request
	// curHeld is the current command's hold, once a handler asked to keep
	// the command open until XMPP answers (see hold).
	curHeld *heldCommand
}

// heldCommand is a client command whose answer waits for XMPP, as a JOIN
// waits for the room to let the user in. The client's Handle call stays
// blocked until then, so that the answer comes in order and, for a client
// with labeled-response, inside the command's batch.
type heldCommand struct {
	s       *session
	r       *ircd.Request
	done    chan error
	waiting int // answers still to come
	timer   *time.Timer
	expired func() // if not nil, runs when the hold times out, before the answer
}

// maxHold bounds how long a command waits for XMPP before it is answered
// with what is there; the rest follows as ordinary messages.
const maxHold = 10 * time.Second

// hold keeps the current command open for one more awaited answer, which
// release counts in.
func (b *Bridge) hold() *heldCommand {
	if b.curHeld == nil {
		b.curHeld = &heldCommand{s: b.curSess, r: b.curReq}
	}
	b.curHeld.waiting++
	return b.curHeld
}

// release counts one awaited answer of h as come; the last one answers the
// command.
func (b *Bridge) release(h *heldCommand) {
	if h.waiting <= 0 {
		return
	}
	if h.waiting--; h.waiting == 0 {
		b.answer(h)
	}
}

// reply adds m to h's answer while the command is open, else sends it to
// the client on its own.
func (h *heldCommand) reply(m *irc.Message) {
	if h.waiting > 0 {
		h.r.Reply(m)
		return
	}
	h.s.send(m)
}

// expire answers h, whose time is up, with what is there.
func (b *Bridge) expire(h *heldCommand) {
	if h.waiting > 0 && h.expired != nil {
		h.expired()
	}
	b.answer(h)
}

// asAnswer runs f as part of h's command: what f replies or sends to the
// client that sent it is the command's answer (see session.send).
func (b *Bridge) asAnswer(h *heldCommand, f func()) {
	b.curSess, b.curReq = h.s, h.r
	defer func() { b.curSess, b.curReq = nil, nil }()
	f()
}

// answer ends h whether or not everything it waited for came.
func (b *Bridge) answer(h *heldCommand) {
	h.waiting = 0
	if h.timer != nil {
		h.timer.Stop()
	}
	if h.done == nil {
		return
	}
	// The client's connection sends the answer after this; what else its
	// session gets meanwhile waits until the answer is on its way.
	s := h.s
	s.holdBack = true
	h.r.AfterReplies(func() { b.post(opAnswerSent{s: s}) })
	h.done <- nil
	h.done = nil
}

// answerSent sends what s held back while a late answer was being sent.
func (b *Bridge) answerSent(s *session) {
	s.holdBack = false
	held := s.heldBack
	s.heldBack = nil
	for _, m := range held {
		s.d.Send(m)
	}
}

// maxHeldBack bounds what a session holds back while a late answer is being
// sent; past it messages go out at once.
const maxHeldBack = 1000

// op is a request from an IRC connection goroutine to the Run goroutine.
type op interface{ isOp() }

type opCheckNick struct {
	nick  string
	reply chan error
}

type opAttach struct {
	d     ircd.Downstream
	reply chan *session
}

type opHandle struct {
	s    *session
	r    *ircd.Request
	done chan error
}

type opDetach struct {
	s      *session
	reason string
}

// opSettle: the contacts have had time to settle after a roster
// (scheduleSettle); gen tells a stopped timer's late op from the current
// one's.
type opSettle struct{ gen uint64 }

// opCatchUpSaveDue: a moved catch-up position may be written
// (flushCatchUpState).
type opCatchUpSaveDue struct{}

func (opSettle) isOp()         {}
func (opCatchUpSaveDue) isOp() {}

// opHoldTimeout: a held command waited long enough (see heldCommand).
type opHoldTimeout struct{ h *heldCommand }

// opAnswerSent: the client's connection has queued a late answer, so what
// its session held back meanwhile may follow (see answer).
type opAnswerSent struct{ s *session }

func (opCheckNick) isOp()   {}
func (opAttach) isOp()      {}
func (opHandle) isOp()      {}
func (opDetach) isOp()      {}
func (opHoldTimeout) isOp() {}
func (opAnswerSent) isOp()  {}

// errStopped is returned to IRC connections once Run has returned.
var errStopped = errors.New("the gateway is shutting down")

// New returns a Bridge over x, with state loaded from cfg.StateDir.
func New(cfg Config, x XMPP) (*Bridge, error) {
	if cfg.ControlChannel == "" {
		cfg.ControlChannel = DefaultControlChannel
	}
	if cfg.ServiceNick == "" {
		cfg.ServiceNick = DefaultServiceNick
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = DefaultBacklog
	}
	if cfg.BacklogBytes <= 0 {
		cfg.BacklogBytes = DefaultBacklogBytes
	}
	if cfg.MaxRooms <= 0 {
		cfg.MaxRooms = maxRooms
	}
	if cfg.Strangers == "" {
		cfg.Strangers = strangersAccept
	}
	if !validStrangers(cfg.Strangers) {
		return nil, fmt.Errorf("bridge: strangers %q must be accept, notice or ignore", cfg.Strangers)
	}
	if cfg.ServerName == "" {
		cfg.ServerName = "xircd"
	}
	if !ircd.ValidNick(cfg.ServiceNick) {
		return nil, fmt.Errorf("bridge: service nick %q is not a valid nick", cfg.ServiceNick)
	}
	if len(cfg.ControlChannel) < 2 || cfg.ControlChannel[0] != '&' && cfg.ControlChannel[0] != '#' {
		return nil, fmt.Errorf("bridge: control channel %q must start with & or #", cfg.ControlChannel)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := loadState(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	caught, err := loadCatchUp(cfg.StateDir)
	if err != nil {
		return nil, err
	}
	files := newFileWriter(log)
	b := &Bridge{
		cfg:         cfg,
		x:           x,
		log:         log,
		done:        make(chan struct{}),
		owner:       new(owner),
		start:       time.Now().Unix(),
		state:       st,
		omemo:       omemoAtStart(cfg, files),
		omemoTrust:  loadOMEMOTrust(cfg.StateDir),
		omemoOut:    loadOMEMOOut(cfg.StateDir, log.Warn),
		files:       files,
		showOffline: cfg.ShowOffline,
		backlog:     newBacklog(cfg.Backlog, cfg.BacklogBytes),
		strangerAt:  newBounded[time.Time](maxTemp),
		nicks:       newNickSpace(cfg.ServiceNick),
		sent:        newBounded[sentMessage](maxSentIDs),
		msgs:        newMessageStore(maxMsgRefs),
		retracted:   newBounded[struct{}](maxRoomSent),
		receipts:    newBounded[receipt](maxReceipts),
		newMsgID:    x.NewID,
		settleAfter: settleDelay,
		holdFor:     maxHold,
		now:         time.Now,
		read:        newReadState(),
		caught:      caught,
		resume:      caught.position,
		readMarkers: cfg.ReadMarkers,
		refsOf:      newReferences(),
	}
	if v, ok := st.Settings["show_offline"]; ok {
		b.showOffline = v == "true"
	}
	if v, ok := st.Settings["strangers"]; ok && validStrangers(v) {
		b.cfg.Strangers = v
	}
	if v, ok := st.Settings["read_markers"]; ok {
		b.readMarkers = v == "true"
	}
	b.sedCorrections = cfg.SedCorrections
	if v, ok := st.Settings["sed_corrections"]; ok {
		b.sedCorrections = v == "true"
	}
	st.rosterNicks = b.rosterNicks
	return b, nil
}

// CheckNick implements ircd.Backend: only the service nick is refused. A
// contact or occupant holding the nick is moved aside when the user takes
// it (see takeUserNick).
func (b *Bridge) CheckNick(nick string) error {
	reply := make(chan error, 1)
	if !b.post(opCheckNick{nick: nick, reply: reply}) {
		return nil
	}
	select {
	case err := <-reply:
		return err
	case <-b.done:
		return nil
	}
}

// Features implements ircd.Backend: the bridge's commands
// (commandHandlers), capabilities and ISUPPORT tokens.
func (b *Bridge) Features() ircd.Features { return Features(b.cfg) }

// Features returns what a Bridge with cfg offers, the same for every such
// bridge (for a server whose bridges do not exist yet).
func Features(cfg Config) ircd.Features {
	f := ircd.Features{
		Commands: make(map[string]int, len(commandHandlers)),
		Caps: []string{"server-time", "multi-prefix", "userhost-in-names", "away-notify", "extended-join",
			"echo-message", "no-implicit-names", "account-tag", "setname", "extended-monitor", capChathistory, "draft/read-marker", multilineCap,
			capRedaction},
		ISupport: append([]string{
			"AWAYLEN=390",
			"CHANLIMIT=#&:" + strconv.Itoa(cmp.Or(max(cfg.MaxRooms, 0), maxRooms)),
			"CHANMODES=b,k,l,imnst",
			"CHANNELLEN=200", // room addresses such as #room@conference.example.org need room
			"KICKLEN=390",
			"MODES=4",
			"MONITOR=" + strconv.Itoa(monitorLimit),
			"PREFIX=(" + prefixModes + ")" + prefixSymbols,
			"TOPICLEN=390",
		}, historyISupport...),
	}
	for name, c := range commandHandlers {
		f.Commands[name] = c.minParams
	}
	if cfg.FileHostURL != "" {
		f.ISupport = append(f.ISupport, "soju.im/FILEHOST="+cfg.FileHostURL)
	}
	return f
}

// Attach implements ircd.Backend.
func (b *Bridge) Attach(d ircd.Downstream) ircd.Session {
	reply := make(chan *session, 1)
	if !b.post(opAttach{d: d, reply: reply}) {
		return &session{b: b, d: d}
	}
	select {
	case s := <-reply:
		return s
	case <-b.done:
		return &session{b: b, d: d}
	}
}

// errInternal answers a command whose handling failed unexpectedly.
var errInternal = errors.New("internal error in the gateway")

func (b *Bridge) handleOp(o op) {
	// A client's command is the most frequent op and the one whose
	// handling goes deepest: the other ops' closures are kept out of this
	// frame.
	switch o := o.(type) {
	case opHandle:
		b.handleRequest(o)
	default:
		b.handleOtherOp(o)
	}
}

// handleOtherOp handles an op other than a client's command.
func (b *Bridge) handleOtherOp(o op) {
	switch o := o.(type) {
	case opCheckNick:
		var err error
		b.safely("CheckNick", func() { err = b.checkNick(o.nick) })
		o.reply <- err
	case opAttach:
		s := &session{b: b, d: o.d}
		b.safely("Attach", func() { s = b.attach(o.d) })
		o.reply <- s
	case opDetach:
		b.safely("Detach", func() { b.detach(o.s, o.reason) })
	case opHoldTimeout:
		b.safely("hold timeout", func() { b.expire(o.h) })
	case opAnswerSent:
		b.safely("answer sent", func() { b.answerSent(o.s) })
	case opUploadSlot:
		b.safely("upload slot", func() { b.requestUploadSlot(o) })
	case opSettle:
		if b.settleTimer != nil && o.gen == b.settleGen {
			b.settleTimer = nil
			b.safely("settle", b.settle)
		}
	case opCatchUpSaveDue:
		b.caught.saveDue = nil // endTurn writes it
	case opRotateSignedPreKey:
		b.safely("signed pre-key rotation", b.onRotationTimer)
	case opLoginWork:
		b.safely("login work", func() { b.loginWork(o) })
	}
}

// handleRequest handles a client's command, holding its answer back
// while the command waits for XMPP (see answer).
func (b *Bridge) handleRequest(o opHandle) {
	err := errInternal
	b.safely(o.r.Msg.Command, func() { err = b.handle(o.s, o.r) })
	h := b.curHeld
	b.curHeld = nil
	if h == nil || h.waiting == 0 || err != nil || b.holdFor <= 0 {
		if h != nil {
			h.waiting = 0
		}
		o.done <- err
		return
	}
	h.done = o.done
	h.timer = time.AfterFunc(b.holdFor, func() { b.post(opHoldTimeout{h: h}) })
}

// safely runs f, turning a panic into a log entry: one bad event or
// command must not take the gateway and every client down with it.
//
// what names the work: a string, or an event whose type names it (formatted
// only on a panic, so that the hot path does not pay for it).
func (b *Bridge) safely(what any, f func()) {
	defer b.recoverPanic(what)
	f()
}

// recoverPanic, deferred, turns a panic into a log entry (see safely).
func (b *Bridge) recoverPanic(what any) {
	if p := recover(); p != nil {
		name, ok := what.(string)
		if !ok {
			name = fmt.Sprintf("%T", what)
		}
		b.log.Error("panic in the bridge", "in", name, "panic", p, "stack", string(debug.Stack()))
	}
}

func (b *Bridge) handleEvent(ev xmpp.Event) {
	// As safely does, without two more frames under every event.
	defer b.recoverPanic(ev)
	if b.connected {
		b.lastLive = b.now()
	}
	// A message is the most frequent event and the one whose handling
	// goes deepest: the other events' values are kept out of this frame.
	switch m := ev.(type) {
	case xmpp.Message:
		// m is this frame's own copy: the steps that make it showable
		// change it in place.
		b.noteEncrypted(&m)
		b.showable(&m, false)
		b.onMessage(&m)
	default:
		b.handleOtherEvent(ev)
	}
}

// handleOtherEvent handles an event other than a message.
func (b *Bridge) handleOtherEvent(ev xmpp.Event) {
	switch ev := ev.(type) {
	case xmpp.Connected:
		b.onConnected(ev)
	case xmpp.Disconnected:
		b.onDisconnected(ev)
	case xmpp.Unconfirmed:
		b.onUnconfirmed(ev)
	case xmpp.Roster:
		b.onRoster(ev)
	case xmpp.RosterPush:
		b.onRosterPush(ev)
	case xmpp.Presence:
		b.onPresence(ev)
	case xmpp.Subscription:
		b.onSubscription(ev)
	case xmpp.RequestDone:
		b.onRequestDone(ev)
	case xmpp.ArchivePage:
		for i := range ev.Messages {
			b.showable(&ev.Messages[i], true)
		}
		b.onArchiveAnswer(ev)
	case xmpp.DiscoInfo:
		b.onDiscoInfo(ev)
	case xmpp.RoomList:
		b.onRoomList(ev)
	case xmpp.BookmarkList:
		b.onBookmarkList(ev)
	case xmpp.Displayed:
		b.onDisplayed(ev)
	case xmpp.DisplayedList:
		b.onDisplayedList(ev)
	case xmpp.UploadService:
		b.onUploadService(ev)
	case xmpp.UploadSlot:
		b.onUploadSlot(ev)
	case xmpp.BlockList:
		b.onBlockList(ev)
	case xmpp.BlockPush:
		b.onBlockPush(ev)
	case xmpp.OMEMODeviceList:
		b.onOMEMODevices(ev)
	case xmpp.OMEMOBundle:
		b.onOMEMOBundle(ev)
	default:
		b.log.Debug("unhandled xmpp event", "type", fmt.Sprintf("%T", ev))
	}
}

// checkNick reports whether the user may take nick: any nick but the
// service's.
func (b *Bridge) checkNick(nick string) error {
	if b.nicks.isService(nick) {
		return &ircd.Error{Code: irc.ERR_NICKNAMEINUSE, Params: []string{nick, "Nickname is reserved for the gateway's service"}}
	}
	return nil
}

// session is one attached IRC client. It implements ircd.Session.
type session struct {
	b         *Bridge
	d         ircd.Downstream
	inControl bool                  // joined to the control channel
	monitors  map[string]*monitored // MONITOR list by casefolded nick
	detached  bool
	// holdBack: a late answer to the client's command is being sent;
	// heldBack is what comes for the client meanwhile (see answer).
	holdBack bool
	heldBack []*irc.Message
	// catchUpGot: the msgids sent to a named client while its catch-up
	// is pending (catchup.go); nil otherwise.
	catchUpGot map[string]bool
}

// Handle implements ircd.Session.
func (s *session) Handle(r *ircd.Request) error {
	done := make(chan error, 1)
	if !s.b.post(opHandle{s: s, r: r, done: done}) {
		return errStopped
	}
	select {
	case err := <-done:
		return err
	case <-s.b.done:
		return errStopped
	}
}

// Nick implements ircd.Session: every client has the user's nick.
func (s *session) Nick() string { return s.b.nicks.userNick() }

// Detach implements ircd.Session.
func (s *session) Detach(reason string) {
	s.b.post(opDetach{s: s, reason: reason})
}

// attachedClient is a client as the bridge sees it: its nick is the
// user's, which the bridge owns, even while Attach runs (ircd asks
// session.Nick only once Attach has returned).
type attachedClient struct {
	ircd.Downstream
	nicks *nickSpace
}

func (c attachedClient) Nick() string { return c.nicks.userNick() }

func (b *Bridge) attach(d ircd.Downstream) *session {
	s := &session{b: b, d: attachedClient{Downstream: d, nicks: b.nicks}}
	var movedAside []string
	// d.Nick is still the nick the client registered with.
	if len(b.sessions) == 0 || b.nicks.userNick() == "" {
		// Before the newcomer joins anything: it has not seen whoever
		// held its nick, and a NICK from its own nick would read as its
		// own nick change.
		movedAside = b.takeUserNick(d.Nick())
	} else if d.Nick() != b.nicks.userNick() {
		// All clients share one identity: move the newcomer to it.
		d.Send(&irc.Message{Prefix: userPrefix(d), Command: "NICK", Params: []string{b.nicks.userNick()}})
	}
	b.sessions.attach(s)
	b.log.Info("client attached", "client", d.ID(), "nick", d.Nick(), "clients", len(b.sessions))
	b.joinControl(s, nil)
	if !b.connected {
		text := "XMPP is not connected at the moment"
		if b.lastErr != "" {
			text += " (" + b.lastErr + ")"
		}
		b.serviceNotice(s, text+"; contacts and messages will appear once it is.")
	}
	for _, text := range movedAside {
		b.announce(text, false)
	}
	b.joinRooms(s)
	b.clientAttached(s)
	b.deliverBacklog(s)
	return s
}

func (b *Bridge) detach(s *session, reason string) {
	if s.detached {
		return
	}
	s.detached = true
	b.forgetRequests(s)
	b.clientDetached(s)
	b.sessions.detach(s)
	b.log.Info("client detached", "client", s.d.ID(), "reason", reason, "clients", len(b.sessions))
}

// handle runs one IRC command for s.
func (b *Bridge) handle(s *session, r *ircd.Request) error {
	if s.detached {
		return nil
	}
	h, ok := commandHandlers[r.Msg.Command]
	if !ok {
		return &ircd.Error{Code: irc.ERR_UNKNOWNCOMMAND, Params: []string{r.Msg.Command, "Unknown command"}}
	}
	b.curSess, b.curReq = s, r
	defer func() { b.curSess, b.curReq = nil, nil }()
	err := h.handle(b, s, r)
	// What the command changed for monitored nicks follows its replies.
	b.refreshMonitors()
	return err
}

// send delivers m to the client. While the client's own command is being
// handled, m joins that command's replies: it then arrives in the order it
// was caused (after the echo, before the answer) and inside the command's
// labeled-response batch.
func (s *session) send(m *irc.Message) {
	if s.b.curSess == s && s.b.curReq != nil {
		s.b.curReq.Reply(m)
		return
	}
	if s.holdBack && len(s.heldBack) < maxHeldBack {
		s.heldBack = append(s.heldBack, m)
		return
	}
	s.d.Send(m)
}

func userPrefix(d ircd.Downstream) *irc.Prefix {
	return &irc.Prefix{Name: d.Nick(), User: d.User(), Host: d.Host()}
}

func (b *Bridge) serverPrefix() *irc.Prefix { return &irc.Prefix{Name: b.cfg.ServerName} }

func (b *Bridge) servicePrefix() *irc.Prefix {
	return &irc.Prefix{Name: b.cfg.ServiceNick, User: b.cfg.ServiceNick, Host: b.cfg.ServerName}
}

// putIn sets (*m)[k] to v, making the map first: what most users leave
// empty has no map until used, every user keeping a few dozen of them.
func putIn[K comparable, V any](m *map[K]V, k K, v V) {
	if *m == nil {
		*m = make(map[K]V)
	}
	(*m)[k] = v
}
