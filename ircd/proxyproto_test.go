package ircd

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// proxyV2 builds a v2 header: version/command byte, family/protocol byte,
// then body.
func proxyV2(verCmd, famProto byte, body ...byte) string {
	h := append([]byte(nil), proxyV2Signature...)
	h = append(h, verCmd, famProto, 0, 0)
	binary.BigEndian.PutUint16(h[14:], uint16(len(body)))
	return string(append(h, body...))
}

func TestReadProxyHeader(t *testing.T) {
	inet := []byte{192, 0, 2, 7, 198, 51, 100, 1, 0xd4, 0x31, 0x1a, 0x0b} // 192.0.2.7:54321 -> 198.51.100.1:6667
	inet6 := make([]byte, 36)
	copy(inet6, net.ParseIP("2001:db8::7"))
	copy(inet6[16:], net.ParseIP("2001:db8::1"))
	binary.BigEndian.PutUint16(inet6[32:], 40000)
	binary.BigEndian.PutUint16(inet6[34:], 6697)
	tlv := append(append([]byte(nil), inet...), 0x05, 0, 2, 'i', 'd') // a UNIQUE_ID TLV

	for _, tc := range []struct {
		name, in string
		want     string // the client's address; "" keeps the proxy's
		err      string // part of the error; "" means none
	}{
		{name: "v1 TCP4", in: "PROXY TCP4 192.0.2.7 198.51.100.1 54321 6667\r\n", want: "192.0.2.7:54321"},
		{name: "v1 TCP6", in: "PROXY TCP6 2001:db8::7 2001:db8::1 40000 6697\r\n", want: "[2001:db8::7]:40000"},
		{name: "v1 UNKNOWN", in: "PROXY UNKNOWN\r\n"},
		{name: "v1 UNKNOWN with addresses", in: "PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"},
		{name: "v1 longest", in: "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n", want: "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535"},
		{name: "v1 too long", in: "PROXY UNKNOWN " + strings.Repeat("x", 100) + "\r\n", err: "longer than 107"},
		{name: "v1 truncated", in: "PROXY TCP4 192.0.2.7 198.51.100.1 543", err: "truncated"},
		{name: "v1 LF only", in: "PROXY TCP4 192.0.2.7 198.51.100.1 54321 6667\n", err: "truncated"},
		{name: "v1 IPv6 in TCP4", in: "PROXY TCP4 2001:db8::7 2001:db8::1 40000 6697\r\n", err: "not an address of TCP4"},
		{name: "v1 IPv4 in TCP6", in: "PROXY TCP6 192.0.2.7 198.51.100.1 54321 6667\r\n", err: "not an address of TCP6"},
		{name: "v1 bad address", in: "PROXY TCP4 192.0.2 198.51.100.1 54321 6667\r\n", err: "not an address"},
		{name: "v1 port too big", in: "PROXY TCP4 192.0.2.7 198.51.100.1 65536 6667\r\n", err: "bad port"},
		{name: "v1 port with leading zero", in: "PROXY TCP4 192.0.2.7 198.51.100.1 054321 6667\r\n", err: "bad port"},
		{name: "v1 missing field", in: "PROXY TCP4 192.0.2.7 198.51.100.1 54321\r\n", err: "malformed"},
		{name: "v1 unknown protocol", in: "PROXY UDP4 192.0.2.7 198.51.100.1 54321 6667\r\n", err: "malformed"},
		{name: "v1 double space", in: "PROXY TCP4  192.0.2.7 198.51.100.1 54321 6667\r\n", err: "malformed"},
		{name: "not PROXY", in: "NICK me\r\n", err: "no PROXY header"},
		{name: "PRIVMSG is no v1 header", in: "PRIVMSG x :y\r\n", err: "malformed"},
		{name: "empty", in: "", err: "EOF"},
		{name: "v2 TCP over IPv4", in: proxyV2(0x21, 0x11, inet...), want: "192.0.2.7:54321"},
		{name: "v2 TCP over IPv6", in: proxyV2(0x21, 0x21, inet6...), want: "[2001:db8::7]:40000"},
		{name: "v2 with a TLV", in: proxyV2(0x21, 0x11, tlv...), want: "192.0.2.7:54321"},
		{name: "v2 LOCAL (health check)", in: proxyV2(0x20, 0x11, inet...)},
		{name: "v2 LOCAL unspec", in: proxyV2(0x20, 0x00)},
		{name: "v2 PROXY unspec", in: proxyV2(0x21, 0x00)},
		{name: "v2 UDP", in: proxyV2(0x21, 0x12, inet...)},
		{name: "v2 Unix socket", in: proxyV2(0x21, 0x31, make([]byte, 216)...)},
		{name: "v2 version 1", in: proxyV2(0x11, 0x11, inet...), err: "version 1"},
		{name: "v2 unknown command", in: proxyV2(0x22, 0x11, inet...), err: "unknown command"},
		{name: "v2 unknown family", in: proxyV2(0x21, 0x41, inet...), err: "unknown command or family"},
		{name: "v2 addresses too short", in: proxyV2(0x21, 0x21, inet...), err: "too short"},
		{name: "v2 too long", in: proxyV2(0x21, 0x11, make([]byte, proxyV2MaxLen+1)...), err: "at most"},
		{name: "v2 truncated signature", in: string(proxyV2Signature[:7]), err: "truncated"},
		{name: "v2 truncated body", in: proxyV2(0x21, 0x11, inet...)[:20], err: "truncated"},
		{name: "v2 bad signature", in: "\r\n\r\n\x00\r\nQUIZ\n\x21\x11\x00\x00", err: "no PROXY header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const after = "CAP LS 302\r\n"
			r := bufio.NewReader(strings.NewReader(tc.in + after))
			if tc.err != "" {
				r = bufio.NewReader(strings.NewReader(tc.in))
			}
			got, err := readProxyHeader(r)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gotStr := ""; got != nil {
				gotStr = got.String()
				if gotStr != tc.want {
					t.Errorf("address %s, want %q", gotStr, tc.want)
				}
			} else if tc.want != "" {
				t.Errorf("no address, want %s", tc.want)
			}
			if rest, _ := io.ReadAll(r); string(rest) != after {
				t.Errorf("after the header: %q, want %q", rest, after)
			}
		})
	}
}

// proxyListenerFor listens on loopback behind a proxy listener trusting
// trusted.
func proxyListenerFor(t *testing.T, trusted ...string) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []netip.Prefix
	for _, s := range trusted {
		prefixes = append(prefixes, netip.MustParsePrefix(s))
	}
	pl := NewProxyListener(l, prefixes, slog.New(slog.DiscardHandler))
	t.Cleanup(func() { pl.Close() })
	return pl
}

func TestProxyListener(t *testing.T) {
	for _, tc := range []struct {
		name, trusted, send string
		wantRemote          string // "" = the dialer's own address
		wantRead            string
		closed              bool
	}{
		{name: "trusted proxy, v1", trusted: "127.0.0.0/8", send: "PROXY TCP4 192.0.2.7 127.0.0.1 54321 6667\r\nNICK me\r\n", wantRemote: "192.0.2.7:54321", wantRead: "NICK me\r\n"},
		{name: "trusted proxy, v2 LOCAL", trusted: "127.0.0.1/32", send: proxyV2(0x20, 0x00) + "NICK me\r\n", wantRead: "NICK me\r\n"},
		{name: "trusted proxy, no header", trusted: "127.0.0.1/32", send: "NICK me\r\n", closed: true},
		{name: "untrusted peer sends a header", trusted: "192.0.2.0/24", send: "PROXY TCP4 192.0.2.7 127.0.0.1 54321 6667\r\n", wantRead: "PROXY TCP4 192.0.2.7 127.0.0.1 54321 6667\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := proxyListenerFor(t, tc.trusted)
			c, err := net.Dial("tcp", pl.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.send); err != nil {
				t.Fatal(err)
			}
			if tc.closed {
				// The connection never reaches Accept; the proxy's end is closed.
				c.SetReadDeadline(time.Now().Add(time.Minute))
				if _, err := c.Read(make([]byte, 1)); err == nil {
					t.Fatal("read data, want the connection closed")
				}
				return
			}
			nc, err := pl.Accept()
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			want := tc.wantRemote
			if want == "" {
				want = c.LocalAddr().String()
			}
			if got := nc.RemoteAddr().String(); got != want {
				t.Errorf("RemoteAddr %s, want %s", got, want)
			}
			buf := make([]byte, len(tc.wantRead))
			if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != tc.wantRead {
				t.Errorf("read %q, %v; want %q", buf, err, tc.wantRead)
			}
		})
	}
}

// addrAccounts records the address each login comes from.
type addrAccounts struct {
	*fakeAccounts
	addrs chan string
}

func (a *addrAccounts) Login(ctx context.Context, cred Credentials) (Backend, string, error) {
	a.addrs <- cred.Addr.String()
	return a.fakeAccounts.Login(ctx, cred)
}

// Behind a trusted proxy on the TLS listener, the header comes before the
// TLS handshake, and its address is the client's: in its hostmask and in
// the login, where multi-user mode throttles failed logins per address.
func TestProxiedTLSClientAddress(t *testing.T) {
	cert, pool := selfSigned(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accounts := &addrAccounts{newFakeAccounts(map[string]string{"me@example.org": "pw"}), make(chan string, 1)}
	s := NewMultiUserServer(Config{Logger: discardLogger()}, accounts)
	pl := NewProxyListener(ln, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, discardLogger())
	done := make(chan error, 1)
	go func() { done <- s.Serve(tls.NewListener(pl, &tls.Config{Certificates: []tls.Certificate{cert}})) }()
	t.Cleanup(func() {
		s.Shutdown("test over")
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})

	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(raw, proxyV2(0x21, 0x11, 192, 0, 2, 7, 127, 0, 0, 1, 0xd4, 0x31, 0x1a, 0x0b)); err != nil {
		t.Fatal(err)
	}
	nc := tls.Client(raw, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	c := &client{t: t, nc: nc, r: newReader(nc)}
	t.Cleanup(func() { nc.Close() })
	c.send("CAP LS 302", "NICK me", "USER u 0 * :R", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
	c.untilCapAck()
	c.expect("AUTHENTICATE", "+")
	c.send("AUTHENTICATE " + saslPlain("", "me@example.org", "pw"))
	if got := <-accounts.addrs; got != "192.0.2.7:54321" {
		t.Errorf("login from %s, want 192.0.2.7:54321", got)
	}
	c.expect(RPL_LOGGEDIN, "me", "me!u@192.0.2.7", "me@example.org")
}
