package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"xircd/internal/prosodytest"
)

// The demo leaves nothing behind however it ends: xircd and Prosody are
// stopped and Prosody's temporary directory removed after Ctrl-C, SIGTERM,
// SIGHUP (a closed terminal) and when xircd cannot start.
func TestDemoCleansUp(t *testing.T) {
	prosodytest.Require(t)
	bin := t.TempDir()
	demoBin, xircdBin := filepath.Join(bin, "demo"), filepath.Join(bin, "xircd")
	for out, pkg := range map[string]string{demoBin: "xircd/demo", xircdBin: "xircd/cmd/xircd"} {
		if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", pkg, err, b)
		}
	}
	for _, tc := range []struct {
		name    string
		signal  syscall.Signal // 0: none; the listen address is taken instead
		group   bool           // sent to the process group, as a terminal does
		wantErr bool
	}{
		{"Ctrl-C", syscall.SIGINT, true, false},
		{"SIGTERM", syscall.SIGTERM, false, false},
		{"terminal closed", syscall.SIGHUP, true, false},
		{"xircd cannot start", 0, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, err := prosodytest.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			listen := fmt.Sprintf("127.0.0.1:%d", port)
			if tc.signal == 0 {
				l, err := net.Listen("tcp", listen)
				if err != nil {
					t.Fatal(err)
				}
				defer l.Close()
			}
			dir := t.TempDir()
			// A file, not a pipe: Wait returns when the demo exits even if
			// a child it failed to stop still holds its output open.
			out, err := os.Create(filepath.Join(dir, "output"))
			if err != nil {
				t.Fatal(err)
			}
			defer out.Close()
			output := func() string { b, _ := os.ReadFile(out.Name()); return string(b) }
			cmd := exec.Command(demoBin, "-xircd", xircdBin, "-dir", dir, "-listen", listen)
			cmd.Stdout, cmd.Stderr = out, out
			// Its own process group, like a job in a shell, for the
			// terminal's signals and for killing what is left on failure.
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer func() {
				syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				if t.Failed() {
					t.Logf("demo output:\n%s", output())
				}
			}()

			greeting := regexp.MustCompile(`Prosody is running on (\S+); its files, in (\S+), are removed`)
			var m []string
			waitFor(t, "the demo's greeting", func() bool { m = greeting.FindStringSubmatch(output()); return m != nil })
			prosodyAddr, prosodyDir := m[1], m[2]
			if tc.signal != 0 {
				waitFor(t, "xircd to listen", func() bool {
					c, err := net.Dial("tcp", listen)
					if err == nil {
						c.Close()
					}
					return err == nil
				})
				if _, err := os.Stat(prosodyDir); err != nil {
					t.Fatalf("Prosody's directory: %v", err)
				}
				pid := cmd.Process.Pid
				if tc.group {
					pid = -pid
				}
				if err := syscall.Kill(pid, tc.signal); err != nil {
					t.Fatal(err)
				}
			}

			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("the demo did not exit")
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("the demo exited with %v; want an error: %v", err, tc.wantErr)
			}
			// xircd was stopped, not killed by the terminal's signal.
			if tc.signal != 0 && !strings.Contains(output(), `msg="shutting down"`) {
				t.Errorf("xircd did not shut down cleanly")
			}
			if _, err := os.Stat(prosodyDir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("Prosody's directory %s is still there (%v)", prosodyDir, err)
			}
			if c, err := net.Dial("tcp", prosodyAddr); err == nil {
				c.Close()
				t.Errorf("Prosody still accepts on %s", prosodyAddr)
			}
		})
	}
}

// waitFor polls cond until it holds, failing the test after a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
