package main

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"
)

// gatewayProc is a gateway process under measurement, its output in a log file.
type gatewayProc struct {
	name    string
	cmd     *exec.Cmd
	log     string
	started time.Time
	exited  chan error
}

// startGateway starts cmd with its output in dir/name.log.
func startGateway(name, dir string, cmd *exec.Cmd) (*gatewayProc, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	p := &gatewayProc{name: name, cmd: cmd, log: logf.Name(), started: time.Now(), exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.exited <- cmd.Wait() }()
	return p, nil
}

// stop ends the process with SIGTERM, then SIGKILL after 10 s.
func (p *gatewayProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// errorf is an error that points at the process's log.
func (p *gatewayProc) errorf(format string, args ...any) error {
	return fmt.Errorf("%s (log %s): %s", p.name, p.log, fmt.Sprintf(format, args...))
}

// quiesce waits until Prosody and the echo peers are idle, so that the next
// client measured does not pay for the previous one's logout: when a user
// with N contacts goes offline, Prosody sends N presences to the peers, and
// at 5000 contacts that takes longer than any fixed pause.
func quiesce(e *env) {
	const (
		poll    = 200 * time.Millisecond
		idle    = 3                     // consecutive quiet polls
		busyMax = 10 * time.Millisecond // one clock tick: at most 5% of a core
		limit   = 60 * time.Second
	)
	pid := e.srv.PID()
	if pid == 0 {
		return
	}
	start := time.Now()
	_, srvLast := procUsage(pid)
	_, selfLast := procUsage(os.Getpid())
	quiet := 0
	for quiet < idle {
		if time.Since(start) > limit {
			log.Printf("machine still busy after %v; measuring anyway", limit)
			return
		}
		time.Sleep(poll)
		_, srv := procUsage(pid)
		_, self := procUsage(os.Getpid())
		if srv-srvLast <= busyMax && self-selfLast <= busyMax {
			quiet++
		} else {
			quiet = 0
		}
		srvLast, selfLast = srv, self
	}
	if d := time.Since(start); d > time.Second {
		log.Printf("waited %v for Prosody and the peers to go idle", d.Round(100*time.Millisecond))
	}
}

// rssWatch follows a process's resident size. Linux's VmHWM alone misses a
// peak whose pages were given back with madvise, as Go's scavenger and
// glibc's malloc do: only unmapping memory updates it.
type rssWatch struct {
	pid     int
	stop    chan struct{}
	done    chan struct{}
	highest atomic.Int64 // KiB, raised by the watching goroutine and by peak
}

// raise makes kib the highest reading if it is higher.
func (w *rssWatch) raise(kib int64) {
	for old := w.highest.Load(); kib > old && !w.highest.CompareAndSwap(old, kib); old = w.highest.Load() {
	}
}

// watchRSS reads pid's resident size every 20 ms until close.
func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			w.raise(int64(statusKiB(pid, "VmRSS")))
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// peak is the highest resident size so far: the higher of what the
// readings saw and VmHWM. VmHWM is the higher of a mark Linux moves only
// when memory is unmapped and the current size, so it can read lower
// than it did: what it said is kept, and a later peak is never lower.
func (w *rssWatch) peak() int {
	w.raise(int64(statusKiB(w.pid, "VmHWM")))
	return int(w.highest.Load())
}

func (w *rssWatch) close() {
	close(w.stop)
	<-w.done
}
