//go:build unix

package xmpp

import (
	"net"
	"syscall"
)

// socketOf returns the socket under a dialled connection, for
// awaitReadable, or nil when it is not one (a test's net.Pipe).
func socketOf(raw net.Conn) syscall.RawConn {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return nil
	}
	socket, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return socket
}

// awaitReadable returns once socket has data, its end or an error for
// the next read to return, without reading anything: the runtime's
// poller waits, a few frames deep.
func awaitReadable(socket syscall.RawConn) error {
	return socket.Read(func(fd uintptr) bool {
		var b [1]byte
		for {
			// Peek rather than wait for the poller first: it reports
			// only what arrives after a read found nothing.
			_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if err != syscall.EINTR {
				return err != syscall.EAGAIN
			}
		}
	})
}
