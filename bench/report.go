package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// set is every run of one contact count.
type set struct {
	n       int
	setup   time.Duration // server start plus accounts and rosters
	login   time.Duration // all peers online
	floor   []result
	gateway []result
	bitlbee []result
	// failures are runs that produced no numbers, with the reason.
	failures []string

	loadBefore, loadAfter string // /proc/loadavg
}

type report struct {
	runs, rtt, tp int
	nomam         bool
	command       string
	sets          []set
	errors        []string
	// bitlbeeMissing says why BitlBee has no numbers.
	bitlbeeMissing string
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}

// stat is the median and range of one metric over runs.
type stat struct {
	med, min, max float64
	ok            bool
}

func summarize(vs []float64) stat {
	if len(vs) == 0 {
		return stat{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med: med, min: s[0], max: s[len(s)-1], ok: true}
}

func collect(rs []result, f func(result) float64) stat {
	var vs []float64
	for _, r := range rs {
		vs = append(vs, f(r))
	}
	return summarize(vs)
}

func (s stat) format(unit string, prec int) string {
	if !s.ok {
		return "—"
	}
	if s.min == s.max {
		return fmt.Sprintf("%.*f %s", prec, s.med, unit)
	}
	return fmt.Sprintf("%.*f %s (%.*f–%.*f)", prec, s.med, unit, prec, s.min, prec, s.max)
}

func ratio(g, f stat) string {
	if !g.ok || !f.ok || f.med == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", g.med/f.med)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (r *report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Results %s\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	fmt.Fprintf(&b, "Command: `%s`\n\n", r.command)
	fmt.Fprintf(&b, "Machine: %s\n\n", machine())
	mam := "with mod_mam (archive limit raised)"
	if r.nomam {
		mam = "without mod_mam"
	}
	fmt.Fprintf(&b, "Prosody %s on loopback, %s; the user logs in with StartTLS, contacts without TLS. "+
		"%d runs per row; each cell is the median with min–max over runs; a ratio is the gateway's median over the floor's. "+
		"Round trips: %d sequential messages to one available contact; throughput: %d messages written at once, spread over up to 50 contacts, until the last echo is back. "+
		"The floor's memory is that of a separate process (bench/floorproc) that does the same with the same session code: roster and presences, round trips, the burst. "+
		"BitlBee (no SCRAM, refuses ports outside 5220–5229) logs in with PLAIN without TLS through a loopback relay in the benchmark.\n\n",
		prosodyVersion(), mam, r.runs, r.rtt, r.tp)
	for _, s := range r.sets {
		fmt.Fprintf(&b, "### %d contacts\n\n", s.n)
		fmt.Fprintf(&b, "Set-up: Prosody and %d accounts with rosters in %v; %d echo contacts logged in in %v.\n\n",
			s.n+1, s.setup.Round(time.Millisecond), s.n, s.login.Round(time.Millisecond))
		fmt.Fprintf(&b, "Load average before and after: %s / %s.\n\n", s.loadBefore, s.loadAfter)
		f, g, bb := s.floor, s.gateway, s.bitlbee
		rows := []struct {
			name, unit string
			prec       int
			fn         func(result) float64
			floorToo   bool
			target     func(f, g stat) string
		}{
			{"roster + presence ready, from start", "ms", 0, func(r result) float64 { return ms(r.ready) }, true,
				func(f, g stat) string { return target(g.med <= 1.05*f.med, "≤ 1.05× floor") }},
			{"… from IRC connect", "ms", 0, func(r result) float64 { return ms(r.readyConn) }, false, nil},
			{"first contact shown, from the XMPP login", "ms", 0, func(r result) float64 { return ms(r.firstShown) }, true,
				func(f, g stat) string { return target(g.max <= 200, "≤ 200 ms") }},
			{"… until every available contact is voiced, from start", "ms", 0, func(r result) float64 { return ms(r.voicedAt) }, false, nil},
			{"contacts voiced at ready (of those available)", "", 0, func(r result) float64 { return float64(r.voiced) }, false, nil},
			{"round trip p50", "ms", 3, func(r result) float64 { return ms(pct(r.rtts, 50)) }, true,
				func(f, g stat) string { return target(g.med <= f.med+0.2, "≤ floor + 0.2 ms") }},
			{"round trip p99", "ms", 3, func(r result) float64 { return ms(pct(r.rtts, 99)) }, true, nil},
			{"IRC hop alone: PING → PONG p50", "ms", 3, func(r result) float64 { return ms(pct(r.pings, 50)) }, false, nil},
			{"throughput", "msg/s", 0, func(r result) float64 { return float64(r.tpCountOK()) / r.tp.Seconds() }, true,
				func(f, g stat) string { return target(g.med >= 0.95*f.med, "≥ 0.95× floor") }},
			{"messages lost (round trips + throughput)", "", 0, func(r result) float64 { return float64(r.lost + r.tpLost) }, true,
				func(f, g stat) string { return target(g.max == 0, "0") }},
			{"peak RSS (VmHWM)", "MiB", 1, func(r result) float64 { return float64(r.rssKiB) / 1024 }, true,
				func(f, g stat) string { return target(g.max <= 12, "≤ 12 MiB at 5000") }},
			{"… of it binary and library pages (RssFile at the end)", "MiB", 1, func(r result) float64 { return float64(r.fileKiB) / 1024 }, true, nil},
			{"CPU time (user+sys), whole run", "s", 2, func(r result) float64 { return r.cpu.Seconds() }, false, nil},
		}
		b.WriteString("| metric | floor (XMPP client) | xircd | xircd / floor | BitlBee | BitlBee / floor | target for xircd |\n|---|---|---|---|---|---|---|\n")
		for _, row := range rows {
			gs := collect(g, row.fn)
			bs := collect(bb, row.fn)
			fs := stat{}
			if row.floorToo {
				fs = collect(f, row.fn)
			}
			name := row.name
			if row.name == "contacts voiced at ready (of those available)" {
				name = fmt.Sprintf("contacts voiced at ready (%d available)", s.available())
			}
			tgt := ""
			if row.target != nil && gs.ok {
				if row.floorToo && !fs.ok {
					tgt = "—"
				} else {
					tgt = row.target(fs, gs)
				}
			}
			bcell := bs.format(row.unit, row.prec)
			if len(bb) == 0 {
				bcell = r.bitlbeeMissing
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s |\n", name, fs.format(row.unit, row.prec),
				gs.format(row.unit, row.prec), ratio(gs, fs), bcell, ratio(bs, fs), tgt)
		}
		b.WriteString("\n")
		for _, f := range s.failures {
			fmt.Fprintf(&b, "Failed: %s\n\n", f)
		}
	}
	for _, e := range r.errors {
		fmt.Fprintf(&b, "Error: %s\n\n", e)
	}
	return b.String()
}

func target(met bool, what string) string {
	if met {
		return "met (" + what + ")"
	}
	return "**missed** (" + what + ")"
}

func (r result) tpCountOK() int { return tpTotal - r.tpLost }

// tpTotal is set from the -messages flag before any report is made.
var tpTotal = 1000

func (s set) available() int {
	k := 0
	for i := 0; i < s.n; i++ {
		if show, _ := presenceMix(i); show == "" {
			k++
		}
	}
	return k
}

func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
				var kb int
				fmt.Sscan(strings.TrimSpace(v), &kb)
				mem = fmt.Sprintf(", %.1f GiB RAM", float64(kb)/1024/1024)
			}
		}
	}
	return fmt.Sprintf("%d × %s%s, %s, %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func prosodyVersion() string { return packageVersion("prosody") }

func bitlbeeVersion() string { return packageVersion("bitlbee") }

// packageVersion is the installed Debian package's version.
func packageVersion(name string) string {
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Version}", name).Output()
	if err != nil || len(out) == 0 {
		return "(version unknown)"
	}
	return string(out)
}
