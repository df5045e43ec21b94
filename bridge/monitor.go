package bridge

import (
	"sort"
	"strconv"
	"strings"

	"gopkg.in/irc.v4"

	"xircd/ircd"
)

// MONITOR (IRCv3 monitor, extended-monitor): a client names nicks and is
// told when each comes online or goes offline. A contact is online while
// any resource of it is available, away or busy included (online means
// connected); the user, the service nick and room occupants are online
// while they are there; any other nick is offline. extended-monitor adds
// AWAY and SETNAME of monitored contacts for clients with away-notify and
// setname (see toObservers).

// monitored is one nick on a client's MONITOR list.
type monitored struct {
	nick   string // as the client wrote it
	online bool   // as last reported to the client
}

// monitorListBudget bounds the comma-separated list in one reply line.
const monitorListBudget = 400

// monitorLimit is how many nicks a client may MONITOR (ISUPPORT MONITOR).
const monitorLimit = 100

// MONITOR + <targets> | - <targets> | C | L | S
func (b *Bridge) handleMonitor(s *session, r *ircd.Request) error {
	mod := strings.ToUpper(r.Msg.Params[0])
	targets := func() ([]string, error) {
		if len(r.Msg.Params) < 2 || r.Msg.Params[1] == "" {
			return nil, &ircd.Error{Code: irc.ERR_NEEDMOREPARAMS, Params: []string{"MONITOR", "Not enough parameters"}}
		}
		var out []string
		for _, t := range strings.Split(r.Msg.Params[1], ",") {
			if t != "" {
				out = append(out, t)
			}
		}
		return out, nil
	}
	switch mod {
	case "+":
		ts, err := targets()
		if err != nil {
			return err
		}
		if s.monitors == nil {
			s.monitors = make(map[string]*monitored)
		}
		var report, full []string
		for i, t := range ts {
			f := ircd.Casefold(t)
			if !ircd.ValidNick(t) {
				r.Numeric(irc.ERR_ERRONEUSNICKNAME, t, "Erroneous nickname")
				continue
			}
			if s.monitors[f] == nil {
				if len(s.monitors) >= monitorLimit {
					full = ts[i:]
					break
				}
				s.monitors[f] = &monitored{nick: t}
			}
			report = append(report, f)
		}
		if len(full) > 0 {
			r.Numeric(ircd.ERR_MONLISTFULL, strconv.Itoa(monitorLimit), strings.Join(full, ","), "Monitor list is full.")
		}
		b.monitorStatus(s, r.Reply, report)
	case "-":
		ts, err := targets()
		if err != nil {
			return err
		}
		for _, t := range ts {
			delete(s.monitors, ircd.Casefold(t))
		}
	case "C":
		s.monitors = nil
	case "L":
		var nicks []string
		for _, f := range sortedMonitors(s) {
			nicks = append(nicks, s.monitors[f].nick)
		}
		for _, l := range packList(nicks) {
			r.Numeric(ircd.RPL_MONLIST, l)
		}
		r.Numeric(ircd.RPL_ENDOFMONLIST, "End of MONITOR list")
	case "S":
		b.monitorStatus(s, r.Reply, sortedMonitors(s))
	default:
		r.Numeric(ircd.ERR_UNKNOWNERROR, "MONITOR", "Unknown MONITOR modifier "+r.Msg.Params[0]+"; use + - C L or S")
	}
	return nil
}

// sortedMonitors returns the casefolded nicks s monitors, sorted.
func sortedMonitors(s *session) []string {
	out := make([]string, 0, len(s.monitors))
	for f := range s.monitors {
		out = append(out, f)
	}
	sort.Strings(out)
	return out
}

// monitorStatus sends s 730/731 for the monitored nicks folded (casefolded)
// and records what it was told.
func (b *Bridge) monitorStatus(s *session, send func(*irc.Message), folded []string) {
	var on, off []string
	for _, f := range folded {
		m := s.monitors[f]
		p, online := b.onlineNick(s, f)
		m.online = online
		if online {
			on = append(on, p.String())
		} else {
			off = append(off, m.nick)
		}
	}
	b.sendMonitorLists(s, send, on, off)
}

func (b *Bridge) sendMonitorLists(s *session, send func(*irc.Message), on, off []string) {
	for _, l := range packList(on) {
		send(&irc.Message{Prefix: b.serverPrefix(), Command: ircd.RPL_MONONLINE, Params: []string{s.d.Nick(), l}})
	}
	for _, l := range packList(off) {
		send(&irc.Message{Prefix: b.serverPrefix(), Command: ircd.RPL_MONOFFLINE, Params: []string{s.d.Nick(), l}})
	}
}

// refreshMonitors tells every client of the monitored nicks whose state
// changed since it was last told. It runs after every event and command,
// so that whatever changed a nick (presence, roster, rename, rooms) is
// covered.
func (b *Bridge) refreshMonitors() {
	for _, s := range b.sessions {
		if len(s.monitors) == 0 {
			continue
		}
		var on, off []string
		for _, f := range sortedMonitors(s) {
			m := s.monitors[f]
			p, online := b.onlineNick(s, f)
			if online == m.online {
				continue
			}
			m.online = online
			if online {
				on = append(on, p.String())
			} else {
				off = append(off, m.nick)
			}
		}
		b.sendMonitorLists(s, s.send, on, off)
	}
}

// onlineNick reports whether the casefolded nick is online for s, with
// its hostmask.
func (b *Bridge) onlineNick(s *session, folded string) (*irc.Prefix, bool) {
	switch {
	case b.nicks.isUser(folded):
		return userPrefix(s.d), true
	case b.nicks.isService(folded):
		return b.servicePrefix(), true
	}
	if c := b.contactByNick(folded); c != nil {
		return c.prefix(), c.inRoster && c.best() != nil
	}
	if o, r := b.occupantByNick(folded); o != nil {
		return b.occupantPrefix(r, o), r.shown
	}
	return nil, false
}

// monitorsContact reports whether s has the contact c on its MONITOR list.
func (s *session) monitorsContact(c *contact) bool {
	return s.monitors[ircd.Casefold(c.nick)] != nil
}

// packList joins items with commas into lines of at most
// monitorListBudget bytes.
func packList(items []string) []string {
	var lines []string
	cur := ""
	for _, it := range items {
		if cur != "" && len(cur)+1+len(it) > monitorListBudget {
			lines = append(lines, cur)
			cur = ""
		}
		if cur != "" {
			cur += ","
		}
		cur += it
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	return lines
}
