package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	dir, err := os.MkdirTemp(e.work, "bitlbee-")
	if err != nil {
		return res, err
	}
	port, err := prosodytest.FreePort()
	if err != nil {
		return res, err
	}
	conf := filepath.Join(dir, "bitlbee.conf")
	text := fmt.Sprintf("[settings]\nRunMode = Daemon\nAuthMode = Open\nDaemonInterface = 127.0.0.1\nDaemonPort = %d\nConfigDir = %s\n", port, dir)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return res, err
	}
	cmd := exec.Command("bitlbee", "-D", "-n", "-c", conf, "-d", dir, "-P", filepath.Join(dir, "pid"))
	cmd.Dir = dir
	proc, err := startGateway("bitlbee", dir, cmd)
	if err != nil {
		return res, err
	}
	defer proc.stop()
	t0 := proc.started
	fail := func(format string, args ...any) (result, error) { return res, proc.errorf(format, args...) }
	c, err := dialIRC(fmt.Sprintf("127.0.0.1:%d", port), 15*time.Second)
	if err != nil {
		return fail("connect: %v", err)
	}
	defer c.conn.Close()
	tConn := time.Now()
	c.send("NICK me", "USER me 0 * :bench")
	const channel = "&bitlbee"
	deadline := time.After(30 * time.Second)
	for {
		l, err := c.next(deadline)
		if err != nil {
			return fail("joining %s: %v", channel, err)
		}
		if l.cmd == "366" {
			break
		}
	}
	say := func(text string) { c.send("PRIVMSG " + channel + " :" + text) }
	say(fmt.Sprintf("account add jabber %s %s", e.me, e.pass))
	say("account jabber set server 127.0.0.1")
	say(fmt.Sprintf("account jabber set port %d", e.bitlbeePort))
	say("account jabber set tls false")
	say("account jabber on")
	err = measureIRC(e, c, channel, fmt.Sprintf("b%d", run), t0, tConn, &res)
	if err != nil {
		return fail("%v", err)
	}
	res.rssKiB, res.cpu = procUsage(proc.cmd.Process.Pid)
	res.fileKiB = statusKiB(proc.cmd.Process.Pid, "RssFile")
	return res, nil
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

// relay forwards connections from a port BitlBee accepts to Prosody's
// randomly chosen client port. It adds one loopback hop each way.
func relay(listenPort int, target string) (stop func(), err error) {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", listenPort))
	if err != nil {
		return nil, err
	}
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
				go func() { io.Copy(out, in); out.(*net.TCPConn).CloseWrite() }()
				io.Copy(in, out)
				in.Close()
				out.Close()
			}()
		}
	}()
	return func() { l.Close() }, nil
}
