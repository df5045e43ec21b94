package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"xircd/bridge"
	"xircd/ircd"
	"xircd/xmpp"
)

// Failed logins: a source address or a JID may fail loginBurst times, and
// is forgiven one failure per loginRefill.
const (
	loginBurst   = 5
	loginRefill  = time.Minute
	throttleKeys = 10000
)

// First XMPP logins: at most maxFirstLogins are under way at once, the
// others wait their turn, and each has firstLoginTimeout for its turn and
// its attempts. A thousand logins started at once take longer at a server
// like Prosody than its clients' connect timeout of 30 seconds: the last
// ones time out, and the work the server did for them is lost. Taken in
// turns, each completes in a few seconds.
const (
	maxFirstLogins    = 64
	firstLoginTimeout = 2 * time.Minute
)

// errWrongPassword is the answer to a wrong password for a user whose
// session runs: the same words as the XMPP server's refusal, so that the
// two cases do not tell a guesser apart.
var errWrongPassword = errors.New("xmpp: authentication failed (wrong JID or password?)")

// users is the multi-user mode's ircd.Accounts: one always-on session
// (an XMPP session and its bridge) per bare JID, created at the user's
// first login and kept until shutdown.
type users struct {
	cfg     *Config
	log     *slog.Logger
	ctx     context.Context // the sessions' lifetime
	metrics *metrics
	// capSwitch is the server's CapSwitch, set before the first login.
	capSwitch func(ircd.Backend) func(name string, on bool) error
	// xmppConfig is a user's XMPP session's configuration (tests may
	// replace it).
	xmppConfig func(jid, password string) xmpp.Config

	failures *throttle
	// loginSlots holds a token per first login under way (maxFirstLogins;
	// tests may replace it).
	loginSlots chan struct{}
	// work paces what the users' logins set off that nothing waits for.
	work *loginWork

	mu     sync.Mutex
	byJID  map[string]*user
	closed bool
	wg     sync.WaitGroup
}

// user is one user's session. password is a hash of the password that
// logged it in, for the next clients to match; the password itself is
// only held by the XMPP session, in memory.
type user struct {
	jid      string
	password [sha256.Size]byte
	ready    chan struct{} // closed once the first login ended
	err      error         // why the first login failed

	// Set once, under users.mu, when the session starts.
	x       *userXMPP
	br      *bridge.Bridge
	backend *userBackend

	clients atomic.Int32 // attached
}

func newUsers(ctx context.Context, cfg *Config, logger *slog.Logger, m *metrics) *users {
	u := &users{
		cfg:        cfg,
		log:        logger,
		ctx:        ctx,
		metrics:    m,
		failures:   newThrottle(loginBurst, loginRefill, throttleKeys),
		work:       newLoginWork(),
		loginSlots: make(chan struct{}, maxFirstLogins),
		byJID:      map[string]*user{},
	}
	tick := time.NewTicker(loginWorkEvery)
	go func() {
		defer tick.Stop()
		u.work.run(ctx, tick.C)
	}()
	u.xmppConfig = func(jid, password string) xmpp.Config {
		return xmppConfig(cfg, jid, password, userLogger(logger, "xmpp", jid))
	}
	return u
}

// Features are those of every user's bridge.
func (us *users) Features() ircd.Features {
	return bridge.Features(bridgeConfig(us.cfg, "", us.log))
}

// Login implements ircd.Accounts: it logs the user in to XMPP at their
// first login and attaches later clients to that session.
func (us *users) Login(ctx context.Context, cred ircd.Credentials) (ircd.Backend, string, error) {
	if cred.Account == "" {
		account, password, ok := strings.Cut(cred.Password, ":")
		if !ok {
			return nil, "", errors.New("PASS needs jid:password")
		}
		cred.Account, cred.Password = account, password
	}
	jid, err := normalizeJID(cred.Account)
	if err != nil {
		return nil, "", fmt.Errorf("bad JID: %v", err)
	}
	if !us.allowed(jid) {
		return nil, "", fmt.Errorf("%s may not log in here", jid)
	}
	addrKey := "addr " + hostOf(cred.Addr)
	for _, key := range []string{addrKey, "jid " + jid} {
		if d := us.failures.wait(key); d > 0 {
			us.metrics.loginsThrottled.Add(1)
			return nil, "", fmt.Errorf("too many failed logins; try again in %d seconds", int(d/time.Second)+1)
		}
	}
	fail := func() {
		us.failures.fail(addrKey)
		us.failures.fail("jid " + jid)
	}
	if cred.Notice == nil {
		cred.Notice = func(string) {}
	}
	sum := sha256.Sum256([]byte(cred.Password))
	for {
		u, first, err := us.userFor(jid, sum)
		if err != nil {
			return nil, "", err
		}
		if first {
			// The login goes on if this client gives up waiting: its
			// next connection takes it up.
			go us.start(u, cred.Password, cred.Notice)
		}
		select {
		case <-u.ready:
		case <-ctx.Done():
			return nil, "", errors.New("the XMPP login is still under way (the server is busy); connect again to take it up")
		}
		if u.err != nil {
			if first {
				if errors.Is(u.err, xmpp.ErrAuth) {
					fail()
				}
				return nil, "", u.err
			}
			continue // the login this one waited for failed: try its own
		}
		if subtle.ConstantTimeCompare(u.password[:], sum[:]) != 1 {
			fail()
			return nil, "", errWrongPassword
		}
		if int(u.clients.Load()) >= us.cfg.MultiUser.ClientsPerUser {
			return nil, "", fmt.Errorf("%s already has %d clients attached (multiuser.clients_per_user)", jid, us.cfg.MultiUser.ClientsPerUser)
		}
		return u.backend, jid, nil
	}
}

// userFor returns jid's user, or a new one (first) whose login the caller
// must start.
func (us *users) userFor(jid string, password [sha256.Size]byte) (u *user, first bool, err error) {
	us.mu.Lock()
	defer us.mu.Unlock()
	if us.closed {
		return nil, false, errors.New("xircd is shutting down")
	}
	if u := us.byJID[jid]; u != nil {
		return u, false, nil
	}
	if len(us.byJID) >= us.cfg.MultiUser.MaxUsers {
		return nil, false, fmt.Errorf("xircd serves its maximum of %d users", us.cfg.MultiUser.MaxUsers)
	}
	u = &user{jid: jid, password: password, ready: make(chan struct{})}
	us.byJID[jid] = u
	return u, true, nil
}

// start logs u in to XMPP within firstLoginTimeout, telling the client by
// notice of its wait and of attempts tried again, and when that works
// keeps the session; u.ready is closed either way. A failed user is
// forgotten.
func (us *users) start(u *user, password string, notice func(string)) {
	defer close(u.ready)
	us.work.loginStarted()
	defer us.work.loginEnded()
	ctx, cancel := context.WithTimeout(us.ctx, firstLoginTimeout)
	defer cancel()
	u.err = us.startSession(ctx, u, password, notice)
	if u.err != nil {
		us.log.Info("login failed", "user", u.jid, "err", u.err)
		us.mu.Lock()
		delete(us.byJID, u.jid)
		us.mu.Unlock()
		return
	}
	us.metrics.users.Add(1)
	us.log.Info("user session started", "user", u.jid)
}

// startSession starts the session that stays and waits for its first
// connection: the XMPP server sees one login, not a check and then a
// login. When that first login fails, the session is stopped.
func (us *users) startSession(ctx context.Context, u *user, password string, notice func(string)) error {
	select {
	case us.loginSlots <- struct{}{}:
	default:
		notice("xircd is logging in many users at once; your login waits its turn.")
		select {
		case us.loginSlots <- struct{}{}:
		case <-ctx.Done():
			return us.firstLoginExpired(nil)
		}
	}
	defer func() { <-us.loginSlots }()
	x := newUserXMPP(us.metrics)
	cfg := us.xmppConfig(u.jid, password)
	cfg.OnEvent = x.observe
	xs, err := xmpp.New(cfg)
	if err != nil {
		return err
	}
	x.Session = xs
	xs.Start()
	err = us.firstLogin(ctx, x, notice)
	if err == nil {
		// Connected, the session reports no more attempts: their
		// channel and its room go.
		x.attempts = nil
		err = us.attachBridge(u, x)
	}
	if err != nil {
		xs.Close()
	}
	return err
}

// firstLogin waits for x's first login. An attempt that timed out or was
// reset, as a server busy with many logins at once does, is tried again by
// the session while ctx lasts, and the client is told; any other failure
// ends the login.
func (us *users) firstLogin(ctx context.Context, x *userXMPP, notice func(string)) error {
	var last error
	for {
		var a loginAttempt
		select {
		case a = <-x.attempts:
		case <-ctx.Done():
			return us.firstLoginExpired(last)
		}
		if a.err == nil || a.retryIn == 0 || !busyServer(a.err) {
			return a.err
		}
		last = a.err
		notice(fmt.Sprintf("Logging in to XMPP failed (%v); trying again in %v.", a.err, a.retryIn.Round(100*time.Millisecond)))
	}
}

// firstLoginExpired is why a first login's time ended (shutdown, or
// firstLoginTimeout); last is its last attempt's failure, if any.
func (us *users) firstLoginExpired(last error) error {
	switch {
	case us.ctx.Err() != nil:
		return errors.New("xircd is shutting down")
	case last != nil:
		return fmt.Errorf("the XMPP server did not complete the login within %v (last attempt: %v)", firstLoginTimeout, last)
	default:
		return fmt.Errorf("the XMPP server did not complete the login within %v", firstLoginTimeout)
	}
}

// busyServer reports whether a login failed as with a server too busy to
// answer in time (a timeout, a reset connection): worth another attempt.
func busyServer(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ECONNRESET)
}

// attachBridge gives u's connected session its bridge.
func (us *users) attachBridge(u *user, x *userXMPP) error {
	dir, err := userStateDir(us.cfg.Bridge.StateDir, u.jid)
	if err != nil {
		return err
	}
	cfg := bridgeConfig(us.cfg, dir, userLogger(us.log, "bridge", u.jid))
	cfg.LoginWork = us.work.add
	br, err := bridge.New(cfg, x)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	backend := &userBackend{Bridge: br, user: u}
	br.SetCapSwitch(us.capSwitch(backend))
	us.mu.Lock()
	defer us.mu.Unlock()
	if us.closed {
		return errors.New("xircd is shutting down")
	}
	u.x, u.br, u.backend = x, br, backend
	us.wg.Add(1)
	br.Start(us.ctx, func(err error) { us.stopped(u, err) })
	return nil
}

// stopped logs why u's bridge stopped before shutdown.
func (us *users) stopped(u *user, err error) {
	defer us.wg.Done()
	if err != nil && us.ctx.Err() == nil {
		us.log.Error("user session stopped", "user", u.jid, "err", err)
	}
}

// allowed reports whether jid may log in.
func (us *users) allowed(jid string) bool {
	domain := jid[strings.LastIndexByte(jid, '@')+1:]
	for _, d := range us.cfg.MultiUser.AllowedDomains {
		if strings.EqualFold(d, domain) {
			return true
		}
	}
	for _, j := range us.cfg.MultiUser.AllowedJIDs {
		if n, err := normalizeJID(j); err == nil && n == jid {
			return true
		}
	}
	return false
}

// close ends every session (the XMPP streams close politely, in parallel)
// and waits, bounded, for the bridges to stop.
func (us *users) close() {
	us.mu.Lock()
	us.closed = true
	var all []*user
	for _, u := range us.byJID {
		if u.x != nil {
			all = append(all, u)
		}
	}
	us.mu.Unlock()
	var closing sync.WaitGroup
	for _, u := range all {
		closing.Add(1)
		go func() {
			defer closing.Done()
			u.x.Close()
		}()
	}
	done := make(chan struct{})
	go func() {
		closing.Wait()
		us.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		us.log.Warn("some XMPP sessions did not close in time")
	}
}

// hostOf is the address's host, the key of its failed logins.
func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	if host, _, err := net.SplitHostPort(a.String()); err == nil {
		return host
	}
	return a.String()
}

// userBackend is a user's bridge as the IRC server sees it: it counts the
// user's clients for multiuser.clients_per_user.
type userBackend struct {
	*bridge.Bridge
	user *user
}

func (b *userBackend) Attach(d ircd.Downstream) ircd.Session {
	b.user.clients.Add(1)
	return &userSession{Session: b.Bridge.Attach(d), backend: b}
}

// userSession counts the client's Detach.
type userSession struct {
	ircd.Session
	backend *userBackend
}

func (s *userSession) Detach(reason string) {
	s.Session.Detach(reason)
	s.backend.user.clients.Add(-1)
}
