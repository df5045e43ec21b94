// Command xircd is an IRC server that puts an XMPP account's contacts and
// group chats into any IRC client.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"xircd/bridge"
	"xircd/internal/filehost"
	"xircd/ircd"
	"xircd/xmpp"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	configPath := flag.String("config", "xircd.toml", "path to the configuration file")
	checkOnly := flag.Bool("check-config", false, "validate the configuration and exit")
	showVersion := flag.Bool("version", false, "print the version and exit")
	debug := flag.Bool("debug", false, "log protocol detail (passwords are never logged)")
	flag.Parse()
	if *showVersion {
		fmt.Println("xircd", version)
		return
	}
	cfg, err := loadConfig(*configPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "xircd:", err)
		os.Exit(2)
	}
	if *checkOnly {
		fmt.Println("xircd: configuration OK")
		return
	}
	setGCPercent(cfg.MultiUser.Enabled)
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(cfg, logger); err != nil {
		logger.Error("xircd stopped", "err", err)
		os.Exit(1)
	}
}

// startProfiler serves runtime profiles; only builds with -tags pprof set it
// (see pprof.go).
var startProfiler = func(*slog.Logger) {}

// The garbage collector's targets when GOGC is not set. xircd's live heap
// is small (a few MiB even with thousands of contacts), so collecting at
// 50 % growth instead of Go's 100 % costs little CPU and keeps the peak
// resident size about a mebibyte lower. In multi-user mode the heap is
// mostly the users' live state and the room it grows into before the next
// collection is a good part of what each user costs: at 25 % a user's
// resident share is about a tenth lower, for about a fifth more CPU time
// (docs/benchmarks.md, "Multi-user mode").
const (
	defaultGCPercent   = 50
	multiUserGCPercent = 25
)

// setGCPercent applies the target for the mode unless the user set GOGC,
// which always wins.
func setGCPercent(multiUser bool) {
	if os.Getenv("GOGC") != "" {
		return
	}
	if multiUser {
		debug.SetGCPercent(multiUserGCPercent)
	} else {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// run wires the XMPP session, the bridge and the IRC server together and
// serves until SIGINT or SIGTERM.
func run(cfg *Config, logger *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	startProfiler(logger)
	if cfg.MultiUser.Enabled {
		return runMultiUser(ctx, cfg, logger)
	}

	xs, err := xmpp.New(xmppConfig(cfg, cfg.XMPP.JID, cfg.XMPP.Password, logger.With("part", "xmpp", "jid", xmpp.BareJID(cfg.XMPP.JID))))
	if err != nil {
		return err
	}
	br, err := bridge.New(bridgeConfig(cfg, cfg.Bridge.StateDir, logger.With("part", "bridge")), xs)
	if err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	srv := ircd.NewServer(ircdConfig(cfg, logger), br)
	br.SetCapSwitch(srv.SetCapAvailable)

	listeners, err := listen(cfg, logger)
	defer closeListeners(listeners)
	if err != nil {
		return err
	}
	var httpSrv *http.Server
	if cfg.IRC.HTTPListen != "" {
		l, err := net.Listen("tcp", cfg.IRC.HTTPListen)
		if err != nil {
			return fmt.Errorf("irc.http_listen: %w", err)
		}
		if cfg.IRC.TLSListen != "" {
			cert, err := tls.LoadX509KeyPair(cfg.IRC.TLSCert, cfg.IRC.TLSKey)
			if err != nil {
				return fmt.Errorf("irc.tls_cert/irc.tls_key: %w", err)
			}
			l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		}
		httpSrv = &http.Server{
			Handler:           filehost.Handler(filehost.Config{Password: cfg.IRC.Password, Slots: br, Logger: logger.With("part", "filehost")}),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelInfo),
		}
		logger.Info("listening for file uploads (soju.im/FILEHOST)", "addr", l.Addr().String(), "url", cfg.IRC.fileHostURL())
		go httpSrv.Serve(l)
	}

	bridgeDone := make(chan error, 1)
	go func() { bridgeDone <- br.Run(ctx) }()
	xs.Start()
	serveErr := serveIRC(srv, listeners, logger)
	logger.Info("xircd started", "version", version, "jid", cfg.XMPP.JID)

	var runErr error
	bridgeStopped := false
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		runErr = fmt.Errorf("irc listener: %w", err)
	case err := <-bridgeDone:
		runErr = fmt.Errorf("bridge: %w", err)
		bridgeStopped = true
	}
	stop()
	if httpSrv != nil {
		httpSrv.Close()
	}
	srv.Shutdown("xircd is shutting down")
	closed := make(chan struct{})
	go func() { xs.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		logger.Warn("XMPP session did not close in time")
	}
	// The bridge writes its state and catch-up point as it stops.
	if !bridgeStopped {
		select {
		case <-bridgeDone:
		case <-time.After(5 * time.Second):
			logger.Warn("the bridge did not stop in time")
		}
	}
	if errors.Is(runErr, net.ErrClosed) {
		runErr = nil
	}
	return runErr
}

// xmppConfig is the XMPP session's configuration for the account jid.
func xmppConfig(cfg *Config, jid, password string, logger *slog.Logger) xmpp.Config {
	return xmpp.Config{
		JID:                jid,
		Password:           password,
		Server:             cfg.XMPP.Server,
		TLS:                cfg.XMPP.TLS,
		CAFile:             cfg.XMPP.CAFile,
		InsecureSkipVerify: cfg.XMPP.InsecureSkipVerify,
		Resource:           cfg.XMPP.Resource,
		Priority:           cfg.XMPP.Priority,
		DeadTimeout:        cfg.XMPP.DeadTimeout.Duration,
		PingInterval:       cfg.XMPP.PingInterval.Duration,
		ClientVersion:      version,
		Logger:             logger,
	}
}

// bridgeConfig is a bridge's configuration, keeping its state in stateDir.
func bridgeConfig(cfg *Config, stateDir string, logger *slog.Logger) bridge.Config {
	return bridge.Config{
		ServerName:     cfg.IRC.ServerName,
		ControlChannel: cfg.Bridge.ControlChannel,
		StateDir:       stateDir,
		ShowOffline:    cfg.Bridge.ShowOffline,
		MUCService:     cfg.XMPP.MUCService,
		Backlog:        cfg.Bridge.Backlog,
		BacklogBytes:   cfg.Bridge.BacklogBytes,
		Strangers:      cfg.Bridge.Strangers,
		ReadMarkers:    cfg.Bridge.ReadMarkers,
		SedCorrections: cfg.Bridge.SedCorrections,
		FileHostURL:    cfg.IRC.fileHostURL(),
		MaxRooms:       cfg.MultiUser.RoomsPerUser,
		Logger:         logger,
	}
}

// ircdConfig is the IRC server's configuration.
func ircdConfig(cfg *Config, logger *slog.Logger) ircd.Config {
	return ircd.Config{
		ServerName:     cfg.IRC.ServerName,
		Network:        cfg.IRC.Network,
		Version:        "xircd-" + version,
		MOTD:           cfg.IRC.motdLines(),
		Password:       cfg.IRC.Password,
		PingInterval:   cfg.IRC.PingInterval.Duration,
		PingTimeout:    cfg.IRC.PingTimeout.Duration,
		SendQueueBytes: cfg.IRC.SendQueue,
		Logger:         logger.With("part", "ircd"),
	}
}

// listen opens the IRC listeners; on error it returns those already open.
// With irc.proxy_from set, connections from those proxies start with a
// PROXY protocol header, before any TLS.
func listen(cfg *Config, logger *slog.Logger) ([]net.Listener, error) {
	proxies, err := cfg.IRC.proxyPrefixes()
	if err != nil {
		return nil, err
	}
	tcpListen := func(addr string) (net.Listener, error) {
		l, err := net.Listen("tcp", addr)
		if err != nil || len(proxies) == 0 {
			return l, err
		}
		return ircd.NewProxyListener(l, proxies, logger.With("part", "ircd")), nil
	}
	var listeners []net.Listener
	if cfg.IRC.Listen != "" {
		l, err := tcpListen(cfg.IRC.Listen)
		if err != nil {
			return listeners, fmt.Errorf("irc.listen: %w", err)
		}
		listeners = append(listeners, l)
	}
	if cfg.IRC.TLSListen != "" {
		cert, err := tls.LoadX509KeyPair(cfg.IRC.TLSCert, cfg.IRC.TLSKey)
		if err != nil {
			return listeners, fmt.Errorf("irc.tls_cert/irc.tls_key: %w", err)
		}
		l, err := tcpListen(cfg.IRC.TLSListen)
		if err != nil {
			return listeners, fmt.Errorf("irc.tls_listen: %w", err)
		}
		listeners = append(listeners, tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}))
	}
	return listeners, nil
}

// serveIRC serves IRC clients on every listener; the channel carries the
// first listener's error.
func serveIRC(srv *ircd.Server, listeners []net.Listener, logger *slog.Logger) <-chan error {
	serveErr := make(chan error, len(listeners))
	for _, l := range listeners {
		logger.Info("listening for IRC clients", "addr", l.Addr().String())
		go func(l net.Listener) { serveErr <- srv.Serve(l) }(l)
	}
	return serveErr
}

func closeListeners(listeners []net.Listener) {
	for _, l := range listeners {
		l.Close()
	}
}

// runMultiUser serves many users, each logging in with their own XMPP
// account, until ctx ends (SIGINT, SIGTERM): then every client gets ERROR
// and every XMPP session closes.
func runMultiUser(ctx context.Context, cfg *Config, logger *slog.Logger) error {
	m := &metrics{}
	sessionsCtx, endSessions := context.WithCancel(context.Background())
	defer endSessions()
	us := newUsers(sessionsCtx, cfg, logger, m)
	srv := ircd.NewMultiUserServer(ircdConfig(cfg, logger), us)
	us.capSwitch = srv.CapSwitch

	listeners, err := listen(cfg, logger)
	defer closeListeners(listeners)
	if err != nil {
		return err
	}
	var metricsSrv *http.Server
	if cfg.MultiUser.MetricsListen != "" {
		l, err := net.Listen("tcp", cfg.MultiUser.MetricsListen)
		if err != nil {
			return fmt.Errorf("multiuser.metrics_listen: %w", err)
		}
		metricsSrv = &http.Server{Handler: m.handler(srv.Stats), ReadHeaderTimeout: 10 * time.Second}
		logger.Info("serving metrics", "url", "http://"+l.Addr().String()+"/metrics")
		go metricsSrv.Serve(l)
	}
	serveErr := serveIRC(srv, listeners, logger)
	logger.Info("xircd started in multi-user mode", "version", version)

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err := <-serveErr:
		runErr = fmt.Errorf("irc listener: %w", err)
	}
	if metricsSrv != nil {
		metricsSrv.Close()
	}
	srv.Shutdown("xircd is shutting down")
	us.close()
	endSessions()
	if errors.Is(runErr, net.ErrClosed) {
		runErr = nil
	}
	return runErr
}
