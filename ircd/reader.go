package ircd

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"xircd/internal/netidle"
)

const (
	// MaxLineLen is the longest IRC line without tags, CR LF included.
	MaxLineLen = 512
	// MaxTagsLen is the longest tag section, '@' and the separating space
	// included.
	MaxTagsLen = 8191
	// maxInputLen bounds one received line (tags and CR LF included); the
	// reader's buffer never grows beyond it.
	maxInputLen = MaxTagsLen + MaxLineLen
	// idleInputLen is the reader's buffer while no long line is under way:
	// a line without big tags fits. An idle client, of which a server in
	// multi-user mode has many, holds none (see lineReader).
	idleInputLen = netidle.BufferSize
)

// errLineTooLong is returned once per overlong line; the rest of that line is
// discarded up to its newline.
var errLineTooLong = errors.New("ircd: input line too long")

// lineReader splits a byte stream into lines with a bounded buffer. Unlike
// bufio.Scanner it recovers from an overlong line: it reports it once, skips
// to the next newline and carries on, so a hostile client can neither grow
// memory nor desynchronise the stream. It keeps partial input across read
// errors, so a read deadline can interrupt it without losing data. The
// buffer grows for a long line up to maxInputLen and goes back to
// idleInputLen once it is empty again. It holds a buffer only while that
// holds data: one of netidle's, given back once every line in it is read.
type lineReader struct {
	r          io.Reader
	buf        []byte // idleInputLen, or up to maxInputLen while a long line arrives; nil while empty
	start, end int
	discarding bool
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: r} }

// readLine returns the next line without its LF and a trailing CR. It
// returns errLineTooLong for a line that does not fit (exactly once per
// such line), and the reader's error otherwise.
func (lr *lineReader) readLine() (string, error) {
	for {
		if i := bytes.IndexByte(lr.buf[lr.start:lr.end], '\n'); i >= 0 {
			line := lr.buf[lr.start : lr.start+i]
			lr.start += i + 1
			if lr.discarding {
				lr.discarding = false
				continue
			}
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if tooLong(line) {
				return "", errLineTooLong
			}
			s := string(line)
			if lr.start == lr.end {
				// The buffer goes back as soon as it is read, not once
				// the line is handled, which may wait for the backend:
				// a message to every user would hold every buffer.
				lr.idle()
			}
			return s, nil
		}
		if !lr.discarding && lr.end-lr.start >= maxInputLen {
			lr.start, lr.end = 0, 0
			lr.discarding = true
			return "", errLineTooLong
		}
		if n, err := lr.readMore(); err != nil && n == 0 {
			return "", err
		}
	}
}

// readMore makes room and reads once from the stream. The rest of an
// overlong line is dropped as it comes.
func (lr *lineReader) readMore() (int, error) {
	if lr.discarding {
		lr.start, lr.end = 0, 0
	}
	if lr.start > 0 {
		lr.end = copy(lr.buf, lr.buf[lr.start:lr.end])
		lr.start = 0
	}
	switch {
	case lr.end == 0 && len(lr.buf) > idleInputLen:
		lr.release()
	case lr.buf != nil && lr.end == len(lr.buf):
		// A partial line fills the buffer: room for more of it.
		buf := make([]byte, min(2*len(lr.buf), maxInputLen))
		copy(buf, lr.buf[:lr.end])
		lr.release()
		lr.buf = buf
	}
	if lr.buf == nil {
		lr.buf = netidle.Buffer()[:]
	}
	n, err := lr.r.Read(lr.buf[lr.end:])
	lr.end += n
	return n, err
}

// held reports whether readLine can return without waiting for the
// socket: a whole line (or an overlong one) is buffered, or what the
// layers above the socket hold (crypto/tls's records, the PROXY header's
// reader) completes one, or reading failed for good. What they hold is
// read with a deadline in the past, which reads nothing from the socket
// itself and which both survive. It leaves nc's read deadline at
// deadline. Before a TLS handshake nothing is held: a read would start
// the handshake, which a deadline in the past would fail for good.
func (lr *lineReader) held(nc net.Conn, deadline time.Time) bool {
	if lr.complete() {
		return true
	}
	if tc, ok := nc.(*tls.Conn); ok && !tc.ConnectionState().HandshakeComplete {
		return false
	}
	nc.SetReadDeadline(time.Unix(1, 0))
	defer nc.SetReadDeadline(deadline)
	for !lr.complete() {
		n, err := lr.readMore()
		if err != nil && n == 0 {
			return !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
	return true
}

// idle gives the buffer back unless it holds part of a line: for a
// reader about to wait for the client.
func (lr *lineReader) idle() {
	if lr.start == lr.end {
		lr.start, lr.end = 0, 0
		lr.release()
	}
}

// release lets go of the buffer, giving it back to netidle when it is one
// of its own.
func (lr *lineReader) release() {
	netidle.ReleaseSlice(lr.buf)
	lr.buf = nil
}

// complete reports whether a line, or the report of an overlong one, is
// buffered.
func (lr *lineReader) complete() bool {
	return bytes.IndexByte(lr.buf[lr.start:lr.end], '\n') >= 0 || !lr.discarding && lr.end-lr.start >= maxInputLen
}

// tooLong reports whether a line (without CR LF) exceeds the limits: 8191
// bytes of tag section and 510 bytes for the rest.
func tooLong(line []byte) bool {
	rest := line
	if len(line) > 0 && line[0] == '@' {
		i := bytes.IndexByte(line, ' ')
		if i < 0 {
			return len(line) > MaxTagsLen
		}
		if i+1 > MaxTagsLen {
			return true
		}
		rest = line[i+1:]
	}
	return len(rest) > MaxLineLen-2
}
