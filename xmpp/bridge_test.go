package xmpp_test

import (
	"xircd/bridge"
	"xircd/xmpp"
)

// The bridge drives the session through its XMPP interface.
var _ bridge.XMPP = (*xmpp.Session)(nil)
