package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"xircd/internal/prosodytest"
)

// bitlbeeInstalled reports whether the reference gateway can be measured.
func bitlbeeInstalled() bool {
	_, err := exec.LookPath("bitlbee")
	return err == nil
}

// bitlbeePort finds a free port in 5220–5229, the only range besides 5222
// and 5223 that BitlBee 3.6 accepts for XMPP.
func bitlbeePort() (int, error) {
	for p := 5220; p <= 5229; p++ {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err == nil {
			l.Close()
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port in 5220-5229 for BitlBee")
}

// bitlbeeRun measures BitlBee (daemon mode, in-memory account set up over
// IRC) like gatewayRun measures xircd. BitlBee has no SCRAM, so it logs in
// with PLAIN without TLS on the loopback port e.bitlbeePort.
func bitlbeeRun(e *env, run int) (result, error) {
	var res result
	proc, listen, err := startBitlBee(e.work, "")
	if err != nil {
		return res, err
	}
	defer proc.stop()
	t0 := proc.started
	fail := func(format string, args ...any) (result, error) { return res, proc.errorf(format, args...) }
	c, err := dialIRC(listen, 15*time.Second)
	if err != nil {
		return fail("connect: %v", err)
	}
	defer c.conn.Close()
	tConn := time.Now()
	const channel = "&bitlbee"
	if err := bitlbeeLogin(c, "me", e.me, e.pass, e.bitlbeePort, false, 30*time.Second); err != nil {
		return fail("%v", err)
	}
	err = measureIRC(e, c, channel, fmt.Sprintf("b%d", run), t0, tConn, &res)
	if err != nil {
		return fail("%v", err)
	}
	res.rssKiB, res.cpu = procUsage(proc.cmd.Process.Pid)
	res.fileKiB = statusKiB(proc.cmd.Process.Pid, "RssFile")
	return res, nil
}

// startBitlBee starts one BitlBee process in daemon mode (every IRC
// connection served by it) and returns it with its IRC address. With a
// caFile, BitlBee verifies the XMPP server's certificate against it;
// without one, BitlBee 3.6 verifies nothing, whatever tls_verify says.
func startBitlBee(work, caFile string) (proc *gatewayProc, listen string, err error) {
	dir, err := os.MkdirTemp(work, "bitlbee-")
	if err != nil {
		return nil, "", err
	}
	port, err := prosodytest.FreePort()
	if err != nil {
		return nil, "", err
	}
	conf := filepath.Join(dir, "bitlbee.conf")
	text := fmt.Sprintf("[settings]\nRunMode = Daemon\nAuthMode = Open\nDaemonInterface = 127.0.0.1\nDaemonPort = %d\nConfigDir = %s\n", port, dir)
	if caFile != "" {
		text += "CAfile = " + caFile + "\n"
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return nil, "", err
	}
	cmd := exec.Command("bitlbee", "-D", "-n", "-c", conf, "-d", dir, "-P", filepath.Join(dir, "pid"))
	cmd.Dir = dir
	proc, err = startGateway("bitlbee", dir, cmd)
	if err != nil {
		return nil, "", err
	}
	return proc, fmt.Sprintf("127.0.0.1:%d", port), nil
}

// bitlbeeLogin registers c as nick, waits for &bitlbee and sets up and
// switches on the in-memory Jabber account of jid, which reaches the XMPP
// server through the relay on xmppPort: with startTLS over StartTLS with
// the certificate verified (against the CAfile given to startBitlBee),
// else with PLAIN without TLS. BitlBee has joinTimeout to put c in
// &bitlbee.
func bitlbeeLogin(c *ircClient, nick, jid, pass string, xmppPort int, startTLS bool, joinTimeout time.Duration) error {
	const channel = "&bitlbee"
	c.send("NICK "+nick, "USER "+nick+" 0 * :bench")
	deadline := time.After(joinTimeout)
	for {
		l, err := c.next(deadline)
		if err != nil {
			return fmt.Errorf("joining %s: %v", channel, err)
		}
		if l.cmd == "366" {
			break
		}
	}
	say := func(text string) { c.send("PRIVMSG " + channel + " :" + text) }
	say(fmt.Sprintf("account add jabber %s %s", jid, pass))
	say("account jabber set server 127.0.0.1")
	say(fmt.Sprintf("account jabber set port %d", xmppPort))
	if startTLS {
		say("account jabber set tls true")
		say("account jabber set tls_verify true")
	} else {
		say("account jabber set tls false")
	}
	say("account jabber on")
	return nil
}

// loadAvg is the first three fields of /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// xmppRelay forwards connections from a port BitlBee accepts to Prosody's
// randomly chosen client port. It adds one loopback hop each way.
type xmppRelay struct {
	l net.Listener
	// startTLS counts the streams whose client asked for StartTLS.
	startTLS atomic.Int64
}

// relay starts an xmppRelay on listenPort to target.
func relay(listenPort int, target string) (*xmppRelay, error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", listenPort))
	if err != nil {
		return nil, err
	}
	r := &xmppRelay{l: l}
	go func() {
		for {
			in, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				out, err := net.Dial("tcp", target)
				if err != nil {
					in.Close()
					return
				}
				watch := &startTLSWatch{count: &r.startTLS}
				go func() { io.Copy(out, io.TeeReader(in, watch)); out.(*net.TCPConn).CloseWrite() }()
				io.Copy(in, out)
				in.Close()
				out.Close()
			}()
		}
	}()
	return r, nil
}

func (r *xmppRelay) stop() { r.l.Close() }

// startTLSWatch sees what a client sends and counts the stream once when
// its opening bytes hold a StartTLS request.
type startTLSWatch struct {
	head  []byte
	done  bool
	count *atomic.Int64
}

// startTLSHead bounds how much of a stream's start is searched: the
// request comes after the stream header, well within it.
const startTLSHead = 4096

func (w *startTLSWatch) Write(p []byte) (int, error) {
	if w.done {
		return len(p), nil
	}
	w.head = append(w.head, p...)
	if bytes.Contains(w.head, []byte("<starttls")) {
		w.count.Add(1)
		w.done = true
	} else if len(w.head) >= startTLSHead {
		w.done = true
	}
	return len(p), nil
}
