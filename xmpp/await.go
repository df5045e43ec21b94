package xmpp

import (
	"errors"
	"net"
	"os"
	"time"
)

// dataHeld sets the stream's read deadline and reports whether the
// decoder can read without waiting for the socket (always without a
// socket to wait for, see read).
//
// When the decoder's buffer is empty, TLS may still hold data it read
// before (the rest of a record, or whole records): that is taken first,
// through the buffer, with a deadline in the past, so that nothing waits
// on a quiet socket while data is already there.
func (c *conn) dataHeld(deadline time.Time) (bool, error) {
	if !c.watch.Waits() || c.in.Buffered() > 0 {
		c.netConn.SetReadDeadline(deadline)
		return true, nil
	}
	c.netConn.SetReadDeadline(time.Unix(1, 0))
	c.src.probing = true
	_, err := c.in.Peek(1)
	c.src.probing = false
	c.netConn.SetReadDeadline(deadline)
	switch err {
	case nil:
		return true, nil
	case errNothingHeld:
		return false, nil
	}
	return false, err
}

// errNothingHeld is what a probing streamSource reads when the stream
// holds no data without reading the socket.
var errNothingHeld = errors.New("xmpp: no data held")

// streamSource is what the decoder's buffer reads: the stream, except
// that while probing (see dataHeld) the timeout of the deadline in the
// past is never passed on as such. A bufio.Reader keeps an error that
// comes with data and returns it once the data is read, and the decoder
// keeps every error it sees.
type streamSource struct {
	conn    net.Conn
	probing bool
}

func (r *streamSource) Read(p []byte) (int, error) {
	n, err := r.conn.Read(p)
	if r.probing && errors.Is(err, os.ErrDeadlineExceeded) {
		// crypto/tls keeps a partly read record for the next read.
		err = nil
		if n == 0 {
			err = errNothingHeld
		}
	}
	return n, err
}
