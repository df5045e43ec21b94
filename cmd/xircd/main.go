// Command xircd is an IRC server that puts an XMPP account's contacts and
// group chats into any IRC client.
package main

import (
	"flag"
	"fmt"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	configPath := flag.String("config", "xircd.toml", "path to the configuration file")
	checkOnly := flag.Bool("check-config", false, "validate the configuration and exit")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("xircd", version)
		return
	}
	if _, err := loadConfig(*configPath); err != nil {
		fmt.Fprintln(os.Stderr, "xircd:", err)
		os.Exit(2)
	}
	if *checkOnly {
		fmt.Println("xircd: configuration OK")
		return
	}
	fmt.Fprintln(os.Stderr, "xircd: not wired yet")
	os.Exit(1)
}
