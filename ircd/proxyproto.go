package ircd

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ProxyHeaderTimeout is how long a trusted proxy has to send its PROXY
// protocol header after connecting; the proxy sends it at once, so a
// connection that has not is broken or is not from the proxy.
const ProxyHeaderTimeout = 5 * time.Second

// Bounds of a PROXY protocol header (haproxy.org/download/2.9/doc/proxy-protocol.txt).
const (
	proxyV1MaxLen = 107 // the longest v1 line, CR LF included
	// proxyV2MaxLen bounds the addresses and TLVs after the 16 byte v2
	// header: the largest address block (Unix sockets) is 216 bytes, the
	// rest leaves room for the TLVs a proxy adds.
	proxyV2MaxLen = 1024
)

var proxyV2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")

// NewProxyListener returns a listener whose connections from a peer in
// trusted start with a PROXY protocol header (version 1 or 2), whose source
// address becomes the connection's RemoteAddr. A trusted peer that sends
// no valid header within ProxyHeaderTimeout is disconnected and logged.
// Connections from other peers are returned unchanged: their first bytes
// are IRC, so a PROXY line from them is an unknown command. Headers are
// read on a goroutine per connection, so a slow peer does not hold up
// Accept. Wrap the result in tls.NewListener for TLS: the header comes
// before the TLS handshake.
func NewProxyListener(l net.Listener, trusted []netip.Prefix, log *slog.Logger) net.Listener {
	pl := &proxyListener{
		Listener: l,
		trusted:  trusted,
		log:      log,
		ready:    make(chan net.Conn),
		errc:     make(chan error, 1),
		done:     make(chan struct{}),
	}
	go pl.acceptLoop()
	return pl
}

type proxyListener struct {
	net.Listener
	trusted []netip.Prefix
	log     *slog.Logger

	ready     chan net.Conn // connections whose header was read
	errc      chan error    // the inner listener's final Accept error
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func (pl *proxyListener) acceptLoop() {
	var backoff time.Duration
	for {
		nc, err := pl.Listener.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				time.Sleep(backoff)
				continue
			}
			pl.errc <- err
			return
		}
		backoff = 0
		if !pl.isTrusted(nc.RemoteAddr()) {
			pl.deliver(nc)
			continue
		}
		go func() {
			pc, err := readProxyConn(nc, time.Now().Add(ProxyHeaderTimeout))
			if err != nil {
				pl.log.Warn("closed connection from trusted proxy without a valid PROXY protocol header", "remote", nc.RemoteAddr().String(), "err", err)
				nc.Close()
				return
			}
			pl.deliver(pc)
		}()
	}
}

// deliver hands nc to Accept, or closes it once the listener is closed.
func (pl *proxyListener) deliver(nc net.Conn) {
	select {
	case pl.ready <- nc:
	case <-pl.done:
		nc.Close()
	}
}

func (pl *proxyListener) isTrusted(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return false
	}
	ip := ta.AddrPort().Addr().Unmap()
	for _, p := range pl.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Accept returns the next connection, with its header read if it came
// from a trusted proxy.
func (pl *proxyListener) Accept() (net.Conn, error) {
	select {
	case nc := <-pl.ready:
		return nc, nil
	case err := <-pl.errc:
		pl.errc <- err // for the next call
		return nil, err
	case <-pl.done:
		return nil, net.ErrClosed
	}
}

// Close closes the inner listener; connections still being read are
// closed as their headers arrive.
func (pl *proxyListener) Close() error {
	pl.closeOnce.Do(func() { close(pl.done) })
	return pl.Listener.Close()
}

// proxiedConn is a connection from a proxy, reporting the client's address.
type proxiedConn struct {
	net.Conn
	r      io.Reader // the bytes after the header, some already buffered
	remote net.Addr
}

func (c *proxiedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
func (c *proxiedConn) RemoteAddr() net.Addr       { return c.remote }

// readProxyConn reads the PROXY header of nc before deadline and returns
// the connection with the client's address as RemoteAddr.
func readProxyConn(nc net.Conn, deadline time.Time) (net.Conn, error) {
	if err := nc.SetReadDeadline(deadline); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 256)
	src, err := readProxyHeader(br)
	if err != nil {
		return nil, err
	}
	if err := nc.SetReadDeadline(time.Time{}); err != nil {
		return nil, err
	}
	remote := nc.RemoteAddr()
	if src != nil {
		remote = src
	}
	return &proxiedConn{Conn: nc, r: br, remote: remote}, nil
}

// readProxyHeader reads a version 1 or 2 PROXY protocol header from r and
// returns the client's address, or nil when the header says to keep the
// proxy's own (a v2 LOCAL connection such as a health check, or an
// UNKNOWN, unspecified or non-TCP address family). It reads nothing after
// the header.
func readProxyHeader(r *bufio.Reader) (*net.TCPAddr, error) {
	first, err := r.Peek(1)
	if err != nil {
		return nil, fmt.Errorf("reading the PROXY header: %w", err)
	}
	switch first[0] {
	case 'P':
		return readProxyV1(r)
	case proxyV2Signature[0]:
		return readProxyV2(r)
	}
	return nil, errors.New("no PROXY header")
}

// readProxyV1 reads a text header: "PROXY TCP4|TCP6 src dst sport dport\r\n"
// or "PROXY UNKNOWN ...\r\n".
func readProxyV1(r *bufio.Reader) (*net.TCPAddr, error) {
	var line []byte
	for !bytes.HasSuffix(line, []byte("\r\n")) {
		if len(line) == proxyV1MaxLen {
			return nil, fmt.Errorf("PROXY v1 header longer than %d bytes", proxyV1MaxLen)
		}
		b, err := r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("truncated PROXY v1 header: %w", err)
		}
		line = append(line, b)
	}
	f := strings.Split(string(line[:len(line)-2]), " ")
	if f[0] != "PROXY" || len(f) < 2 {
		return nil, fmt.Errorf("malformed PROXY v1 header %q", line)
	}
	if f[1] == "UNKNOWN" {
		return nil, nil
	}
	if (f[1] != "TCP4" && f[1] != "TCP6") || len(f) != 6 {
		return nil, fmt.Errorf("malformed PROXY v1 header %q", line)
	}
	var addrs [2]netip.AddrPort
	for i := range addrs {
		ip, err := netip.ParseAddr(f[2+i])
		if err != nil || ip.Zone() != "" || ip.Is4() != (f[1] == "TCP4") {
			return nil, fmt.Errorf("PROXY v1 header: %q is not an address of %s", f[2+i], f[1])
		}
		port, err := strconv.ParseUint(f[4+i], 10, 16)
		if err != nil || (len(f[4+i]) > 1 && f[4+i][0] == '0') {
			return nil, fmt.Errorf("PROXY v1 header: bad port %q", f[4+i])
		}
		addrs[i] = netip.AddrPortFrom(ip, uint16(port))
	}
	return net.TCPAddrFromAddrPort(addrs[0]), nil
}

// readProxyV2 reads a binary header: the signature, version and command,
// address family and protocol, the length of the rest, then the addresses
// and TLVs.
func readProxyV2(r *bufio.Reader) (*net.TCPAddr, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("truncated PROXY v2 header: %w", err)
	}
	if !bytes.Equal(hdr[:12], proxyV2Signature) {
		return nil, errors.New("no PROXY header")
	}
	if hdr[12]>>4 != 2 {
		return nil, fmt.Errorf("PROXY v2 header: version %d", hdr[12]>>4)
	}
	cmd, family, proto := hdr[12]&0xf, hdr[13]>>4, hdr[13]&0xf
	if cmd > 1 || family > 3 || proto > 2 {
		return nil, fmt.Errorf("PROXY v2 header: unknown command or family (%#x %#x)", hdr[12], hdr[13])
	}
	n := int(binary.BigEndian.Uint16(hdr[14:]))
	if n > proxyV2MaxLen {
		return nil, fmt.Errorf("PROXY v2 header: %d bytes of addresses, at most %d accepted", n, proxyV2MaxLen)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("truncated PROXY v2 header: %w", err)
	}
	const local, stream, inet, inet6 = 0, 1, 1, 2
	if cmd == local || proto != stream || (family != inet && family != inet6) {
		return nil, nil
	}
	ipLen := 4
	if family == inet6 {
		ipLen = 16
	}
	if n < 2*ipLen+4 {
		return nil, fmt.Errorf("PROXY v2 header: %d bytes are too short for the addresses", n)
	}
	ip, _ := netip.AddrFromSlice(body[:ipLen])
	port := binary.BigEndian.Uint16(body[2*ipLen:])
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(ip, port)), nil
}
