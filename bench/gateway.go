package main

import (
	"bufio"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"xircd/internal/prosodytest"
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
	return dialIRCBuffered(addr, timeout, 65536)
}

// dialIRCBuffered is dialIRC with room for buffered lines unread: many
// clients at once need a smaller buffer each.
func dialIRCBuffered(addr string, timeout time.Duration, buffered int) (*ircClient, error) {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			ic := &ircClient{conn: c, lines: make(chan ircLine, buffered)}
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
	port, err := prosodytest.FreePort()
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
	cmd := exec.Command(e.xircd, "-config", cfgPath)
	proc, err := startGateway("xircd", dir, cmd)
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
	c.send("NICK me", "USER me 0 * :bench")
	if err := measureIRC(e, c, "&xmpp", fmt.Sprintf("g%d", run), t0, tConn, &res); err != nil {
		return fail("%v", err)
	}
	res.rssKiB, res.cpu = procUsage(proc.cmd.Process.Pid)
	res.fileKiB = statusKiB(proc.cmd.Process.Pid, "RssFile")
	return res, nil
}

// measureIRC runs the measurements over a registered IRC connection: all
// contacts visible (and the available ones voiced) in channel, round trips
// and throughput with PRIVMSG.
func measureIRC(e *env, c *ircClient, channel, tag string, t0, tConn time.Time, res *result) error {

	// Contacts visible in the control channel: initial NAMES, then JOINs,
	// QUITs, PARTs and NICK changes.
	members := newNickSet(e.nicks)
	voiced := newNickSet(e.avail)
	// Ready means every contact is visible and every available one voiced;
	// voice that is still missing a few seconds after the last contact
	// appeared is reported as a count instead of holding up the run.
	const voiceGrace = 5 * time.Second
	deadline := time.NewTimer(e.readyTimeout)
	defer deadline.Stop()
	var visibleAt, loginAt, firstAt time.Time
	for {
		now := time.Now()
		if firstAt.IsZero() && !loginAt.IsZero() && members.n > 0 {
			firstAt = now
		}
		if visibleAt.IsZero() && members.n >= e.n {
			visibleAt = now
			deadline.Reset(voiceGrace)
		}
		if !visibleAt.IsZero() && voiced.n >= len(e.avail) {
			break
		}
		l, err := c.next(deadline.C)
		if err != nil && !visibleAt.IsZero() {
			now = visibleAt
			break
		}
		if err != nil {
			return fmt.Errorf("contacts visible %d/%d: %v", members.n, e.n, err)
		}
		trackMembers(l, channel, members, voiced)
		switch l.cmd {
		case "NOTICE":
			// xircd's announcement of the XMPP login.
			if len(l.params) > 1 && l.params[0] == channel && strings.HasPrefix(l.params[1], "Connected to XMPP") {
				loginAt = now
			}
		case "ERROR":
			return fmt.Errorf("ERROR %v", l.params)
		}
	}
	if !firstAt.IsZero() {
		res.firstShown = firstAt.Sub(loginAt)
	}
	if visibleAt.IsZero() {
		visibleAt = time.Now()
	}
	res.ready = visibleAt.Sub(t0)
	res.readyConn = visibleAt.Sub(tConn)
	if full := time.Now(); voiced.n >= len(e.avail) {
		res.voicedAt = full.Sub(t0)
	}
	res.voiced = voiced.n

	// The IRC hop alone, answered by the gateway without XMPP: the part
	// of a round trip that any gateway adds to the floor.
	for i := 0; i < e.rttCount; i++ {
		token := fmt.Sprintf("%s-ping-%d", tag, i)
		start := time.Now()
		if err := c.send("PING :" + token); err != nil {
			return fmt.Errorf("send: %v", err)
		}
		if err := waitLine(c, "PONG", "", token, 10*time.Second); err != nil {
			return fmt.Errorf("PONG %s: %v", token, err)
		}
		res.pings = append(res.pings, time.Since(start))
	}

	// Round trips to one available contact.
	target := e.peers[0].user
	for i := 0; i < e.rttCount; i++ {
		body := fmt.Sprintf("%s-rtt-%d", tag, i)
		start := time.Now()
		if err := c.send("PRIVMSG " + target + " :" + body); err != nil {
			return fmt.Errorf("send: %v", err)
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
		return fmt.Errorf("send: %v", err)
	}
	idle := time.NewTimer(e.idleTimeout)
	last := start
	var other []string
	for len(pending) > 0 {
		select {
		case l, ok := <-c.lines:
			if !ok {
				return fmt.Errorf("IRC connection closed")
			}
			if l.cmd == "PRIVMSG" && len(l.params) == 2 && pending[l.params[1]] {
				delete(pending, l.params[1])
				last = time.Now()
				idle.Reset(e.idleTimeout)
			} else if len(other) < 5 {
				other = append(other, fmt.Sprintf("%s %s %q", l.from, l.cmd, l.params))
			}
		case <-idle.C:
			goto done
		}
	}
done:
	// Until the last echo: a lost message is counted, not waited for.
	res.tp = last.Sub(start)
	res.tpLost = len(pending)
	if len(pending) > 0 {
		var some []string
		for k := range pending {
			if len(some) < 8 {
				some = append(some, k)
			}
		}
		slices.Sort(some)
		log.Printf("%s: %d echoes missing (e.g. %v); other lines meanwhile: %v", tag, len(pending), some, other)
	}

	return nil
}

// trackMembers applies a line's effect on who is in channel (NAMES, JOIN,
// PART, QUIT, NICK) and who has voice there (MODE).
func trackMembers(l ircLine, channel string, members, voiced *nickSet) {
	switch l.cmd {
	case "353":
		if len(l.params) >= 4 && l.params[2] == channel {
			for _, n := range strings.Fields(l.params[3]) {
				bare := trimPrefixes(n)
				bare, _, _ = strings.Cut(bare, "!")
				members.set(bare, true)
				voiced.set(bare, strings.Contains(n[:len(n)-len(strings.TrimLeft(n, "~&@%+"))], "+"))
			}
		}
	case "JOIN":
		if len(l.params) > 0 && l.params[0] == channel {
			members.set(l.from, true)
		}
	case "PART", "QUIT":
		members.set(l.from, false)
		voiced.set(l.from, false)
	case "NICK":
		if len(l.params) > 0 && members.has[l.from] {
			v := voiced.has[l.from]
			members.set(l.from, false)
			voiced.set(l.from, false)
			members.set(l.params[0], true)
			voiced.set(l.params[0], v)
		}
	case "MODE":
		if len(l.params) >= 3 && l.params[0] == channel {
			add, arg := true, 2
			for _, m := range l.params[1] {
				switch {
				case m == '+' || m == '-':
					add = m == '+'
				case m == 'v' && arg < len(l.params):
					voiced.set(l.params[arg], add)
					arg++
				case strings.ContainsRune("ohqaklbeI", m) && arg < len(l.params):
					arg++
				}
			}
		}
	}
}

// nickSet is a set of nicks that also counts how many of them are in want,
// so that checking readiness after every line costs nothing (counting the
// whole set each time made the benchmark's own client the bottleneck with
// thousands of contacts).
type nickSet struct {
	has  map[string]bool
	want map[string]bool
	n    int // members that are in want
}

func newNickSet(want map[string]bool) *nickSet {
	return &nickSet{has: make(map[string]bool, len(want)), want: want}
}

func (s *nickSet) set(nick string, on bool) {
	if s.has[nick] == on {
		return
	}
	if on {
		s.has[nick] = true
	} else {
		delete(s.has, nick)
	}
	if s.want[nick] {
		if on {
			s.n++
		} else {
			s.n--
		}
	}
}

func waitPrivmsg(c *ircClient, from, text string, timeout time.Duration) error {
	return waitLine(c, "PRIVMSG", from, text, timeout)
}

// waitLine waits for a cmd line whose last parameter is text, from the
// given nick ("" for any sender).
func waitLine(c *ircClient, cmd, from, text string, timeout time.Duration) error {
	t := time.After(timeout)
	for {
		l, err := c.next(t)
		if err != nil {
			return err
		}
		if l.cmd == cmd && (from == "" || l.from == from) && len(l.params) > 0 && l.params[len(l.params)-1] == text {
			return nil
		}
	}
}

// procUsage reads peak resident set size (VmHWM, KiB) and user+system CPU
// time of a live process from /proc.
func procUsage(pid int) (rssKiB int, cpu time.Duration) {
	rssKiB = statusKiB(pid, "VmHWM")
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

// statusKiB reads one of the memory fields (in KiB) of /proc/PID/status.
func statusKiB(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.Atoi(f[0])
				return n
			}
		}
	}
	return 0
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100
