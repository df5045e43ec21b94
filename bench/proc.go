package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
