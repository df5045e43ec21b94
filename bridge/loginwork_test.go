package bridge

import (
	"fmt"
	"sync"
	"testing"

	"xircd/xmpp"
)

// With Config.LoginWork, the OMEMO device list and bundle wait for their
// turn; the work of a login that a newer one replaced is dropped.
func TestLoginWorkWaitsForItsTurn(t *testing.T) {
	var mu sync.Mutex
	var starts []func()
	scheduled := func() []func() {
		mu.Lock()
		defer mu.Unlock()
		return starts
	}
	h := newHarness(t, Config{StateDir: t.TempDir(), LoginWork: func(start func()) {
		mu.Lock()
		defer mu.Unlock()
		starts = append(starts, start)
	}})
	dev := h.b.omemo.dev.DeviceID
	h.connect()
	h.expectOMEMOCalls()
	if n := len(scheduled()); n != 1 {
		t.Fatalf("%d works scheduled after a login, want 1", n)
	}
	h.event(xmpp.Disconnected{})
	h.connect()
	h.expectOMEMOCalls()
	if n := len(scheduled()); n != 2 {
		t.Fatalf("%d works scheduled after two logins, want 2", n)
	}
	scheduled()[0]()
	h.expectOMEMOCalls()
	scheduled()[1]()
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d]", dev), fmt.Sprintf("publish bundle %d", dev))
}
