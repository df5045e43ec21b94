package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"xircd/ircd"
)

// ircLine is one parsed line from the gateway.
type ircLine struct {
	from   string // nick of the prefix
	cmd    string
	params []string
}

// ircClient is a minimal IRC client over raw TCP.
type ircClient struct {
	conn  net.Conn
	lines chan ircLine
}

func dialIRC(addr string, timeout time.Duration) (*ircClient, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			ic := &ircClient{conn: c, lines: make(chan ircLine, 65536)}
			go ic.read()
			return ic, nil
		}
		if time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (c *ircClient) read() {
	defer close(c.lines)
	r := bufio.NewReaderSize(c.conn, 65536)
	for {
		s, err := r.ReadString('\n')
		if err != nil {
			return
		}
		m, err := ircd.ParseLine(strings.TrimRight(s, "\r\n"))
		if err != nil || m == nil {
			continue
		}
		if m.Command == "PING" {
			c.send("PONG :" + m.Trailing())
			continue
		}
		l := ircLine{cmd: m.Command, params: m.Params}
		if m.Prefix != nil {
			l.from = m.Prefix.Name
		}
		c.lines <- l
	}
}

func (c *ircClient) send(lines ...string) error {
	_, err := c.conn.Write([]byte(strings.Join(lines, "\r\n") + "\r\n"))
	return err
}

// next returns the next line or an error when the deadline passes.
func (c *ircClient) next(t <-chan time.Time) (ircLine, error) {
	select {
	case l, ok := <-c.lines:
		if !ok {
			return l, fmt.Errorf("IRC connection closed")
		}
		return l, nil
	case <-t:
		return ircLine{}, fmt.Errorf("timeout")
	}
}

func trimPrefixes(nick string) string {
	return strings.TrimLeft(nick, "~&@%+")
}

// gatewayRun starts the xircd binary, connects an IRC client and measures
// the same things as floorRun, plus the process's peak RSS and CPU time.
func gatewayRun(e *env, run int) (result, error) {
	var res result
	dir, err := os.MkdirTemp(e.work, "xircd-")
	if err != nil {
		return res, err
	}
	port, err := freePort()
	if err != nil {
		return res, err
	}
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf("[irc]\nlisten = %q\n[xmpp]\njid = %q\npassword = %q\nserver = %q\nca_file = %q\nresource = %q\n[bridge]\nstate_dir = %q\nbacklog = %d\n",
		listen, e.me, e.pass, e.srv.Addr, e.srv.CAFile, fmt.Sprintf("gw%d", run), filepath.Join(dir, "state"), 10*e.tpCount)
	cfgPath := filepath.Join(dir, "xircd.toml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return res, err
	}
	logf, err := os.Create(filepath.Join(dir, "xircd.log"))
	if err != nil {
		return res, err
	}
	defer logf.Close()
	cmd := exec.Command(e.xircd, "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}()
	fail := func(format string, args ...any) (result, error) {
		return res, fmt.Errorf("xircd (log %s): %s", logf.Name(), fmt.Sprintf(format, args...))
	}

	c, err := dialIRC(listen, 15*time.Second)
	if err != nil {
		return fail("connect: %v", err)
	}
	defer c.conn.Close()
	tConn := time.Now()
	c.send("NICK me", "USER me 0 * :bench")

	// Contacts visible in the control channel: initial NAMES, then JOINs,
	// QUITs, PARTs and NICK changes.
	const channel = "&xmpp"
	members := make(map[string]bool, e.n)
	voiced := make(map[string]bool, e.n)
	count := func() int {
		k := 0
		for n := range members {
			if e.nicks[n] {
				k++
			}
		}
		return k
	}
	deadline := time.After(e.readyTimeout)
	for count() < e.n {
		l, err := c.next(deadline)
		if err != nil {
			return fail("contacts visible %d/%d: %v", count(), e.n, err)
		}
		switch l.cmd {
		case "353":
			if len(l.params) >= 4 && l.params[2] == channel {
				for _, n := range strings.Fields(l.params[3]) {
					bare := trimPrefixes(n)
					bare, _, _ = strings.Cut(bare, "!")
					members[bare] = true
					if strings.ContainsRune(n[:len(n)-len(strings.TrimLeft(n, "~&@%+"))], '+') {
						voiced[bare] = true
					}
				}
			}
		case "JOIN":
			if len(l.params) > 0 && l.params[0] == channel {
				members[l.from] = true
			}
		case "PART":
			delete(members, l.from)
		case "QUIT":
			delete(members, l.from)
		case "NICK":
			if len(l.params) > 0 && members[l.from] {
				delete(members, l.from)
				members[l.params[0]] = true
			}
		case "MODE":
			if len(l.params) >= 3 && l.params[0] == channel && l.params[1] == "+v" {
				voiced[l.params[2]] = true
			}
		case "ERROR":
			return fail("ERROR %v", l.params)
		}
	}
	now := time.Now()
	res.ready = now.Sub(t0)
	res.readyConn = now.Sub(tConn)
	for n := range voiced {
		if e.nicks[n] {
			res.voiced++
		}
	}

	// Round trips to one available contact.
	target := e.peers[0].user
	tag := fmt.Sprintf("g%d", run)
	for i := 0; i < e.rttCount; i++ {
		body := fmt.Sprintf("%s-rtt-%d", tag, i)
		start := time.Now()
		if err := c.send("PRIVMSG " + target + " :" + body); err != nil {
			return fail("send: %v", err)
		}
		if err := waitPrivmsg(c, target, body, 10*time.Second); err != nil {
			res.lost++
			continue
		}
		res.rtts = append(res.rtts, time.Since(start))
	}

	// Throughput.
	targets := e.tpTargets()
	pending := make(map[string]bool, e.tpCount)
	lines := make([]string, 0, e.tpCount)
	for i := 0; i < e.tpCount; i++ {
		body := fmt.Sprintf("%s-tp-%d", tag, i)
		pending[body] = true
		lines = append(lines, "PRIVMSG "+targets[i%len(targets)]+" :"+body)
	}
	start := time.Now()
	if err := c.send(lines...); err != nil {
		return fail("send: %v", err)
	}
	idle := time.NewTimer(e.idleTimeout)
	for len(pending) > 0 {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return fail("IRC connection closed")
			}
			if l.cmd == "PRIVMSG" && len(l.params) == 2 && pending[l.params[1]] {
				delete(pending, l.params[1])
				idle.Reset(e.idleTimeout)
			}
		case <-idle.C:
			goto done
		}
	}
done:
	res.tp = time.Since(start)
	res.tpLost = len(pending)

	res.rssKiB, res.cpu = procUsage(cmd.Process.Pid)
	return res, nil
}

func waitPrivmsg(c *ircClient, from, text string, timeout time.Duration) error {
	t := time.After(timeout)
	for {
		l, err := c.next(t)
		if err != nil {
			return err
		}
		if l.cmd == "PRIVMSG" && l.from == from && len(l.params) == 2 && l.params[1] == text {
			return nil
		}
	}
}

// procUsage reads peak resident set size (VmHWM, KiB) and user+system CPU
// time of a live process from /proc.
func procUsage(pid int) (rssKiB int, cpu time.Duration) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				f := strings.Fields(v)
				if len(f) > 0 {
					rssKiB, _ = strconv.Atoi(f[0])
				}
			}
		}
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i >= 0 {
			// Fields after the command name start at field 3 (state);
			// utime and stime are fields 14 and 15.
			f := strings.Fields(s[i+1:])
			if len(f) > 12 {
				ut, _ := strconv.ParseInt(f[11], 10, 64)
				st, _ := strconv.ParseInt(f[12], 10, 64)
				cpu = time.Duration(ut+st) * time.Second / clockTicks
			}
		}
	}
	return rssKiB, cpu
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
