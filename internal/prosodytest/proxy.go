package prosodytest

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP relay to a server that a test can break: Freeze makes it
// swallow everything silently, like a network path that died without a
// reset; Cut closes every connection through it, like a reset.
type Proxy struct {
	Addr string // 127.0.0.1:port to dial instead of the server

	ln     net.Listener
	frozen atomic.Bool
	dialed atomic.Int64
	mu     sync.Mutex
	conns  []net.Conn
}

// StartProxy relays connections to target until t ends.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{Addr: ln.Addr().String(), ln: ln}
	t.Cleanup(func() {
		ln.Close()
		p.Cut()
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.dialed.Add(1)
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go p.pipe(c, u)
			go p.pipe(u, c)
		}
	}()
	return p
}

// Connections is how many connections the relay has made to the target.
func (p *Proxy) Connections() int { return int(p.dialed.Load()) }

// Freeze makes the relay swallow (true) or pass (false) all traffic.
func (p *Proxy) Freeze(on bool) { p.frozen.Store(on) }

// Cut closes every connection through the relay; new ones are accepted.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *Proxy) pipe(dst, src net.Conn) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) || !p.frozen.Load() {
				dst.Close()
			}
			return
		}
	}
}
