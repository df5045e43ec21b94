// Command demo runs xircd against a throwaway local XMPP server: it starts
// Prosody on 127.0.0.1 with an account for the user and a contact "echo" who
// answers every message, writes a configuration for xircd and runs it in the
// foreground until Ctrl-C. Nothing outside the demo directory is touched.
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

	if err := os.MkdirAll(*dir, 0o700); err != nil {
		log.Fatal(err)
	}
	srv, err := prosodytest.Start(prosodytest.Options{})
	if err != nil {
		log.Fatalf("starting Prosody: %v", err)
	}
	defer srv.Stop()

	const userPass, echoPass = "demo-password", "echo-password"
	me, err := srv.Register("me", userPass)
	if err != nil {
		log.Fatal(err)
	}
	echo, err := srv.Register("echo", echoPass)
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.SetRoster("me", []prosodytest.RosterEntry{{JID: echo, Name: "echo", Groups: []string{"Demo"}, Subscription: "both"}}); err != nil {
		log.Fatal(err)
	}
	if err := srv.SetRoster("echo", []prosodytest.RosterEntry{{JID: me, Name: "me", Subscription: "both"}}); err != nil {
		log.Fatal(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	bot, err := xmpp.New(xmpp.Config{JID: echo, Password: echoPass, Server: srv.Addr, CAFile: srv.CAFile, Resource: "bot"})
	if err != nil {
		log.Fatal(err)
	}
	go runEcho(ctx, bot)
	bot.Start()
	defer bot.Close()

	abs, _ := filepath.Abs(*dir)
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
`, *listen, me, userPass, srv.Addr, srv.CAFile, srv.MUCDomain, filepath.Join(abs, "state"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		log.Fatal(err)
	}

	host, port, _ := strings.Cut(*listen, ":")
	fmt.Printf(`
Prosody is running on %s (its files are in %s).
Your XMPP account is %s (password %q); your contact echo@%s answers every message.
xircd's configuration is %s. Starting xircd on %s now.

Connect an IRC client:
    irssi -c %s -p %s
    weechat:  /server add xircd %s/%s -notls  then  /connect xircd
then say hello to echo: type in the &xmpp channel  "echo: hello"  or  /msg echo hello
Press Ctrl-C to stop everything.

`, srv.Addr, srv.Dir, me, userPass, srv.Domain, cfgPath, *listen, host, port, host, port)

	cmd := exec.CommandContext(ctx, *xircdBin, "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil && ctx.Err() == nil {
		log.Printf("xircd: %v", err)
	}
}

// runEcho answers every chat message with the same text, and every
// subscription request with approval.
func runEcho(ctx context.Context, s *xmpp.Session) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-s.Events():
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
