// Package pipenet is a net.Listener whose connections are the ends of
// net.Pipe, so that tests can run a server in memory.
package pipenet

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Listener hands the server ends of dialled pipes to Accept.
type Listener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

// Listen returns a new Listener.
func Listen() *Listener {
	return &Listener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// ErrNotAccepted is returned by Dial when nothing accepts in time.
var ErrNotAccepted = errors.New("pipenet: not accepted")

// Dial makes a pipe, hands one end to Accept within timeout and returns
// the other.
func (l *Listener) Dial(timeout time.Duration) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-l.closed:
		err := net.ErrClosed
		client.Close()
		server.Close()
		return nil, err
	case <-time.After(timeout):
		client.Close()
		server.Close()
		return nil, ErrNotAccepted
	}
}

// Accept implements net.Listener.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr implements net.Listener.
func (l *Listener) Addr() net.Addr { return addr{} }

type addr struct{}

func (addr) Network() string { return "pipe" }
func (addr) String() string  { return "pipe" }
