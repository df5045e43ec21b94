//go:build pprof

package main

import (
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// In a build with -tags pprof, XIRCD_PPROF=host:port serves the runtime
// profiles (net/http/pprof) on that address, which must be a loopback one:
// profiles show message contents and must not leave the machine. Normal
// builds leave this code out.
func init() {
	startProfiler = func(logger *slog.Logger) {
		addr := os.Getenv("XIRCD_PPROF")
		if addr == "" {
			return
		}
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			logger.Error("XIRCD_PPROF must be a loopback address like 127.0.0.1:6060", "addr", addr)
			return
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			logger.Error("pprof listener", "err", err)
			return
		}
		logger.Info("serving pprof", "addr", l.Addr().String())
		go http.Serve(l, mux) //nolint:errcheck // debugging aid, lives as long as the process
	}
}
