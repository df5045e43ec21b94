package ircd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for zero Config fields.
const (
	DefaultServerName          = "xircd"
	DefaultPingInterval        = 90 * time.Second // idle time before the server PINGs
	DefaultPingTimeout         = 60 * time.Second // time to answer that PING
	DefaultRegistrationTimeout = 60 * time.Second // time to complete NICK/USER/CAP END
	DefaultSendQueueBytes      = 8 << 20          // queued output bytes before a client is dropped
	DefaultWriteTimeout        = 30 * time.Second // one write to a client socket
)

// shutdownGrace is how long Shutdown lets clients drain their queues and
// receive ERROR before connections are cut.
const shutdownGrace = 2 * time.Second

// Config configures a Server. Zero values take the defaults above.
type Config struct {
	// ServerName is the server's name in prefixes and numerics.
	ServerName string
	// Network is ISUPPORT NETWORK; defaults to ServerName.
	Network string
	// Version appears in 002, 004 and VERSION.
	Version string
	// MOTD lines; none means 422 ERR_NOMOTD.
	MOTD []string
	// Password is required (PASS or SASL PLAIN) when set. When empty, only
	// loopback (and non-IP, e.g. Unix socket) clients are accepted.
	Password string
	// PingInterval is the idle time after which the client is PINGed;
	// PingTimeout the time it then has to send anything.
	PingInterval, PingTimeout time.Duration
	// RegistrationTimeout bounds the time from connect to registration.
	RegistrationTimeout time.Duration
	// SendQueueBytes bounds each client's queue of outgoing lines, counted
	// in bytes (CR LF included); a client whose queue would exceed it is
	// disconnected with "SendQ exceeded". The memory (the lines plus about
	// 16 bytes each of bookkeeping) is only held while a client lags
	// behind; a single message always fits an empty queue.
	SendQueueBytes int
	// WriteTimeout bounds every write to a client socket.
	WriteTimeout time.Duration
	// Logger receives connection logs; nil means slog.Default().
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.ServerName == "" {
		c.ServerName = DefaultServerName
	}
	if c.Network == "" {
		c.Network = c.ServerName
	}
	if c.Version == "" {
		c.Version = "xircd"
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.RegistrationTimeout <= 0 {
		c.RegistrationTimeout = DefaultRegistrationTimeout
	}
	if c.SendQueueBytes <= 0 {
		c.SendQueueBytes = DefaultSendQueueBytes
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Server is the IRC server. It accepts any number of clients on any number
// of listeners and hands registered clients to its Backend, or in
// multi-user mode to the Backend of the account they log in to.
type Server struct {
	cfg Config
	// backend is the one backend (NewServer); accounts the many
	// (NewMultiUserServer). Exactly one of them is set.
	backend  Backend
	accounts Accounts
	log      *slog.Logger
	created  time.Time

	// What the backend adds (Backend.Features), read-only after NewServer.
	features        Features
	backendCommands map[string]int
	caps            []capability   // ircd's own, then the backend's
	capIndex        map[string]int // a name's first index in caps (capBit)

	nextID      atomic.Uint64
	nextBatchID atomic.Uint64

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	// maxUsers is the most registered clients each backend had at once.
	maxUsers map[Backend]int
	// capsWithdrawn are the capabilities each backend has withdrawn
	// (SetCapAvailable, CapSwitch).
	capsWithdrawn map[Backend]capSet
	wg            sync.WaitGroup

	// sendQueueDrops counts clients disconnected for a full send queue.
	sendQueueDrops atomic.Uint64
}

// NewServer returns a server that serves b. Call Serve for each listener.
func NewServer(cfg Config, b Backend) *Server {
	s := newServer(cfg, b.Features())
	s.backend = b
	return s
}

// NewMultiUserServer returns a server whose clients each log in to an
// account of a (SASL PLAIN or PASS) and are served by its Backend.
// Config.Password is not used: every client must log in, from any address.
func NewMultiUserServer(cfg Config, a Accounts) *Server {
	cfg.Password = ""
	s := newServer(cfg, a.Features())
	s.accounts = a
	return s
}

func newServer(cfg Config, f Features) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:       cfg,
		log:       cfg.Logger,
		created:   time.Now(),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		maxUsers:  make(map[Backend]int),
		features:  f,

		backendCommands: make(map[string]int),
		capsWithdrawn:   make(map[Backend]capSet),
	}
	for name, minParams := range s.features.Commands {
		s.backendCommands[strings.ToUpper(name)] = minParams
	}
	s.caps = append(s.caps, ownCapabilities...)
	for _, tok := range s.features.Caps {
		s.caps = append(s.caps, backendCapability(tok))
	}
	if len(s.caps) > maxCaps {
		panic(fmt.Sprintf("ircd: %d capabilities, at most %d can be offered", len(s.caps), maxCaps))
	}
	s.capIndex = make(map[string]int, len(s.caps))
	for i, c := range s.caps {
		if _, dup := s.capIndex[c.name]; !dup {
			s.capIndex[c.name] = i
		}
	}
	return s
}

// Serve accepts connections on l (plain TCP or a tls.Listener) until l is
// closed or Shutdown is called. It returns nil after Shutdown and the accept
// error otherwise.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		c := newConn(s, nc)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve(s.wg.Done)
	}
}

// Shutdown stops all listeners, sends every client ERROR with reason and
// closes the connections. It waits, bounded, for connection goroutines
// (including the backend's Detach calls) to finish.
func (s *Server) Shutdown(reason string) {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()

	for _, c := range conns {
		c.Close(reason)
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(shutdownGrace):
	}
	// Clients that do not drain their queue are cut off.
	for _, c := range conns {
		c.closeSocket()
	}
	select {
	case <-done:
	case <-time.After(shutdownGrace):
		s.log.Warn("shutdown: connection goroutines still running")
	}
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// userCounts returns the number of registered clients of backend b now
// and at most.
func (s *Server) userCounts(b Backend) (cur, most int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.isRegistered() && c.currentBackend() == b {
			cur++
		}
	}
	if cur > s.maxUsers[b] {
		s.maxUsers[b] = cur
	}
	return cur, s.maxUsers[b]
}

// Stats are the server's counters, for monitoring.
type Stats struct {
	// Clients is the number of registered clients.
	Clients int
	// SendQueueDrops counts clients disconnected because their send queue
	// was full.
	SendQueueDrops uint64
}

// Stats returns the server's counters now.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{SendQueueDrops: s.sendQueueDrops.Load()}
	for c := range s.conns {
		if c.isRegistered() {
			st.Clients++
		}
	}
	return st
}

// authRequired reports whether every client must authenticate: with a
// password, and in multi-user mode.
func (s *Server) authRequired() bool { return s.cfg.Password != "" || s.accounts != nil }

// allowed reports whether a client from addr may connect: any client when
// it must authenticate, otherwise only loopback or non-IP (Unix,
// in-memory) peers.
func (s *Server) allowed(addr net.Addr) bool {
	if s.authRequired() {
		return true
	}
	switch a := addr.(type) {
	case *net.TCPAddr:
		return a.IP.IsLoopback()
	case *net.UDPAddr:
		return a.IP.IsLoopback()
	}
	return true
}
