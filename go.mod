module xircd

go 1.25.0

require (
	filippo.io/edwards25519 v1.2.0
	github.com/BurntSushi/toml v1.6.0
	github.com/xdg-go/scram v1.4.0
	gopkg.in/irc.v4 v4.0.0
)

require (
	github.com/xdg-go/stringprep v1.0.4 // indirect
	golang.org/x/text v0.38.0 // indirect
)

require (
	github.com/google/uuid v1.6.0 // indirect
	github.com/xmppo/go-xmpp v0.3.7
	golang.org/x/net v0.56.0 // indirect
	golang.org/x/time v0.0.0-20220722155302-e5dcc9cfc0b9 // indirect
)
