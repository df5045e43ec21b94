// Command demo runs xircd against a throwaway local XMPP server: it starts
// Prosody on 127.0.0.1 with an account for the user and a contact "echo" who
// answers every message, writes a configuration for xircd and runs it in the
// foreground until Ctrl-C. It leaves nothing behind outside the demo
// directory: Prosody is stopped and its temporary directory removed however
// the demo ends (Ctrl-C, SIGTERM, SIGHUP from a closed terminal, or an error
// such as xircd failing to start).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"xircd/internal/prosodytest"
	"xircd/xmpp"
)

func main() {
	xircdBin := flag.String("xircd", "xircd", "path to the xircd binary")
	dir := flag.String("dir", ".demo", "directory for the configuration and state")
	listen := flag.String("listen", "127.0.0.1:6667", "where xircd listens for IRC clients")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("demo: ")

	// Caught from the start: a signal that killed the demo would leave
	// Prosody, which runs in its own process group, and its files behind.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, *xircdBin, *dir, *listen)
	stop()
	if err != nil {
		log.Fatal(err)
	}
}

// run starts Prosody, the echo contact and xircd, and returns when ctx is
// done or xircd exits; Prosody and its files are gone when it returns.
func run(ctx context.Context, xircdBin, dir, listen string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	srv, err := prosodytest.Start(prosodytest.Options{})
	if err != nil {
		return fmt.Errorf("starting Prosody: %w", err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			log.Printf("stopping Prosody: %v", err)
		}
	}()
	if ctx.Err() != nil {
		return nil // stopped while Prosody was starting
	}

	const userPass, echoPass = "demo-password", "echo-password"
	me, err := srv.Register("me", userPass)
	if err != nil {
		return err
	}
	echo, err := srv.Register("echo", echoPass)
	if err != nil {
		return err
	}
	if err := srv.SetRoster("me", []prosodytest.RosterEntry{{JID: echo, Name: "echo", Groups: []string{"Demo"}, Subscription: "both"}}); err != nil {
		return err
	}
	if err := srv.SetRoster("echo", []prosodytest.RosterEntry{{JID: me, Name: "me", Subscription: "both"}}); err != nil {
		return err
	}

	bot, err := xmpp.New(xmpp.Config{JID: echo, Password: echoPass, Server: srv.Addr, CAFile: srv.CAFile, Resource: "bot"})
	if err != nil {
		return err
	}
	go runEcho(ctx, bot)
	bot.Start()
	defer bot.Close()

	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(abs, "xircd.toml")
	cfg := fmt.Sprintf(`# Written by the xircd demo.
[irc]
listen = %q
motd = "Welcome to the xircd demo. Your contact 'echo' answers every message."
[xmpp]
jid = %q
password = %q
server = %q
ca_file = %q
muc_service = %q
[bridge]
state_dir = %q
`, listen, me, userPass, srv.Addr, srv.CAFile, srv.MUCDomain, filepath.Join(abs, "state"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return err
	}

	host, port, _ := strings.Cut(listen, ":")
	fmt.Printf(`
Prosody is running on %s; its files, in %s, are removed when the demo stops.
Your XMPP account is %s (password %q); your contact echo@%s answers every message.
xircd's configuration is %s. Starting xircd on %s now.

Connect an IRC client:
    irssi -c %s -p %s
    weechat:  /server add xircd %s/%s -notls  then  /connect xircd
then say hello to echo: type in the &xmpp channel  "echo: hello"  or  /msg echo hello
Press Ctrl-C to stop everything.

`, srv.Addr, srv.Dir, me, userPass, srv.Domain, cfgPath, listen, host, port, host, port)

	cmd := exec.CommandContext(ctx, xircdBin, "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	// Its own process group: Ctrl-C and a closed terminal signal the demo
	// alone, which stops xircd with SIGTERM and then cleans up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		return fmt.Errorf("xircd: %w", err)
	}
	return nil
}

// runEcho answers every chat message with the same text, and every
// subscription request with approval.
func runEcho(ctx context.Context, s *xmpp.Session) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.EventsReady():
			ev, ok := s.NextEvent()
			if !ok {
				return
			}
			switch ev := ev.(type) {
			case xmpp.Message:
				if ev.Type == "error" || ev.Body == "" || ev.Carbon != xmpp.NotCarbon {
					continue
				}
				s.SendMessage(xmpp.OutMessage{To: ev.From, Type: "chat", Body: "echo: " + ev.Body})
			case xmpp.Subscription:
				if ev.Type == "subscribe" {
					s.Approve(ev.From)
				}
			}
		}
	}
}
