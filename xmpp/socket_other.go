//go:build !unix

package xmpp

import (
	"net"
	"syscall"
)

// socketOf returns nil: without MSG_PEEK a socket's data cannot be
// awaited without reading it, so an idle reader waits in the decoder.
func socketOf(net.Conn) syscall.RawConn { return nil }

// awaitReadable is not called where socketOf finds no socket.
func awaitReadable(syscall.RawConn) error { return nil }
