package omemo

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// libsignalPeer is testdata/libsignal_peer.c, a peer built on
// libsignal-protocol-c (the library profanity uses), driven over pipes.
type libsignalPeer struct {
	t   *testing.T
	in  io.Writer
	out *bufio.Scanner
}

func startLibsignalPeer(t *testing.T) *libsignalPeer {
	t.Helper()
	if _, err := exec.LookPath("cc"); err != nil {
		t.Skip("no C compiler: the libsignal interoperability test builds a C peer")
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libsignal-protocol-c", "libcrypto").Output()
	if err != nil {
		t.Skip("libsignal-protocol-c or OpenSSL headers missing (Debian: libsignal-protocol-c-dev libssl-dev): no libsignal peer to test against")
	}
	bin := filepath.Join(t.TempDir(), "libsignal_peer")
	args := append([]string{"-o", bin, "testdata/libsignal_peer.c"}, strings.Fields(string(flags))...)
	if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		t.Fatalf("building the libsignal peer: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	return &libsignalPeer{t: t, in: in, out: sc}
}

// ask sends one command and returns the fields of the answer.
func (p *libsignalPeer) ask(format string, args ...any) []string {
	p.t.Helper()
	fmt.Fprintf(p.in, format+"\n", args...)
	if !p.out.Scan() {
		p.t.Fatalf("libsignal peer ended: %v", p.out.Err())
	}
	fields := strings.Fields(p.out.Text())
	if len(fields) > 0 && fields[0] == "error" {
		p.t.Fatalf("libsignal peer: %s", p.out.Text())
	}
	return fields
}

func (p *libsignalPeer) encrypt(text string) (preKey bool, msg []byte) {
	p.t.Helper()
	f := p.ask("encrypt %x", text)
	return f[0] == "3", fromHex(p.t, f[1])
}

func (p *libsignalPeer) decrypt(preKey bool, msg []byte) string {
	p.t.Helper()
	typ := 2
	if preKey {
		typ = 3
	}
	return string(fromHex(p.t, p.ask("decrypt %d %x", typ, msg)[0]))
}

func (p *libsignalPeer) bundle() Bundle {
	p.t.Helper()
	f := p.ask("bundle")
	id := func(s string) uint32 {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			p.t.Fatal(err)
		}
		return uint32(n)
	}
	return Bundle{
		DeviceID:              1,
		PreKeys:               []BundlePreKey{{ID: id(f[1]), Key: publicFromHex(p.t, f[2])}},
		SignedPreKeyID:        id(f[3]),
		SignedPreKey:          publicFromHex(p.t, f[4]),
		SignedPreKeySignature: fromHex(p.t, f[5]),
		IdentityKey:           publicFromHex(p.t, f[6]),
	}
}

// TestInteropLibsignal runs sessions between this package and
// libsignal-protocol-c, each side starting once.
func TestInteropLibsignal(t *testing.T) {
	t.Run("we start", func(t *testing.T) {
		peer := startLibsignalPeer(t)
		us := newDevice(t)
		s, err := InitiateSession(rand.Reader, us, peer.bundle()) // checks libsignal's XEdDSA signature
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			ours := fmt.Sprintf("from Go %d", i)
			msg, preKey, err := s.Encrypt([]byte(ours))
			if err != nil {
				t.Fatal(err)
			}
			if got := peer.decrypt(preKey, msg); got != ours {
				t.Fatalf("libsignal read %q, want %q", got, ours)
			}
			theirs := fmt.Sprintf("from libsignal %d", i)
			preKey, msg = peer.encrypt(theirs)
			if preKey {
				t.Fatal("libsignal answered with a pre-key message")
			}
			decrypt(t, s, msg, theirs)
		}
	})
	t.Run("libsignal starts", func(t *testing.T) {
		peer := startLibsignalPeer(t)
		us := newDevice(t)
		b := us.Bundle()
		peer.ask("process %d %d %d %x %d %x %x %x", us.RegistrationID, us.DeviceID, b.PreKeys[0].ID,
			b.PreKeys[0].Key.Serialize(), b.SignedPreKeyID, b.SignedPreKey.Serialize(),
			b.SignedPreKeySignature, b.IdentityKey.Serialize()) // checks our XEdDSA signature
		preKey, msg := peer.encrypt("first from libsignal")
		if !preKey {
			t.Fatal("libsignal's first message is not a pre-key message")
		}
		s, plain, err := us.DecryptPreKeyMessage(rand.Reader, nil, msg)
		if err != nil || string(plain) != "first from libsignal" {
			t.Fatalf("%q, %v", plain, err)
		}
		for i := 0; i < 3; i++ {
			ours := fmt.Sprintf("from Go %d", i)
			msg, preKey, err := s.Encrypt([]byte(ours))
			if err != nil || preKey {
				t.Fatalf("pre-key %v, %v", preKey, err)
			}
			if got := peer.decrypt(false, msg); got != ours {
				t.Fatalf("libsignal read %q, want %q", got, ours)
			}
			theirs := fmt.Sprintf("from libsignal %d", i)
			preKey, msg = peer.encrypt(theirs)
			if preKey {
				t.Fatal("libsignal still sends pre-key messages after our answer")
			}
			decrypt(t, s, msg, theirs)
		}
	})
}
