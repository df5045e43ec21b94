package xmpp

import (
	"errors"
	"io"
	"net"
	"os"
	"time"

	"xircd/internal/netidle"
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
	if !c.watch.Waits() || c.in.buffered() > 0 {
		c.netConn.SetReadDeadline(deadline)
		return true, nil
	}
	c.netConn.SetReadDeadline(time.Unix(1, 0))
	c.in.probing = true
	err := c.in.fill()
	c.in.probing = false
	c.netConn.SetReadDeadline(deadline)
	switch err {
	case nil:
		return true, nil
	case errNothingHeld:
		return false, nil
	}
	return false, err
}

// errNothingHeld is what a probing streamReader reads when the stream
// holds no data without reading the socket.
var errNothingHeld = errors.New("xmpp: no data held")

// streamReader is what the decoder reads: the stream, through a buffer
// that it holds only while that holds data (see release), except that
// while probing (see dataHeld) the timeout of the deadline in the past is
// never passed on as such. An error that comes with data is returned once
// the data is read, and only once: the decoder keeps every error it
// sees.
type streamReader struct {
	conn    net.Conn
	buf     *[netidle.BufferSize]byte // nil while released
	r, w    int                       // buf[r:w] is yet to be read
	err     error                     // to return once buf[r:w] is read
	probing bool
}

// ReadByte is what the decoder reads with: it wraps a reader without
// ReadByte in a bufio.Reader of its own.
func (sr *streamReader) ReadByte() (byte, error) {
	if err := sr.fill(); err != nil {
		return 0, err
	}
	b := sr.buf[sr.r]
	sr.r++
	return b, nil
}

// Read makes streamReader the io.Reader xml.NewDecoder takes; the
// decoder reads with ReadByte.
func (sr *streamReader) Read(p []byte) (int, error) {
	if err := sr.fill(); err != nil {
		return 0, err
	}
	n := copy(p, sr.buf[sr.r:sr.w])
	sr.r += n
	return n, nil
}

func (sr *streamReader) buffered() int { return sr.w - sr.r }

// fill reads from the stream unless the buffer holds data, and returns
// the error that comes instead of data.
func (sr *streamReader) fill() error {
	for tries := 0; sr.r == sr.w; tries++ {
		if sr.err != nil {
			err := sr.err
			sr.err = nil
			return err
		}
		if tries == 100 {
			return io.ErrNoProgress
		}
		if sr.buf == nil {
			sr.buf = netidle.Buffer()
		}
		sr.r = 0
		sr.w, sr.err = sr.conn.Read(sr.buf[:])
		if sr.probing && errors.Is(sr.err, os.ErrDeadlineExceeded) {
			// crypto/tls keeps a partly read record for the next read.
			sr.err = nil
			if sr.w == 0 {
				sr.err = errNothingHeld
			}
		}
	}
	return nil
}

// release gives the buffer back while it holds nothing: the next read
// takes one again.
func (sr *streamReader) release() {
	if sr.buf != nil && sr.r == sr.w {
		netidle.Release(sr.buf)
		sr.buf, sr.r, sr.w = nil, 0, 0
	}
}
