package bridge

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"xircd/xmpp"
)

// With Config.LoginWork, a new OMEMO device, the device list and the
// bundle wait for their turn; the work of a login that a newer one
// replaced is dropped. The device made then is written once, its signed
// pre-key counted from then.
func TestLoginWorkWaitsForItsTurn(t *testing.T) {
	var mu sync.Mutex
	var starts []func()
	deviceWrites := 0
	scheduled := func() []func() {
		mu.Lock()
		defer mu.Unlock()
		return starts
	}
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir, LoginWork: func(start func()) {
		mu.Lock()
		defer mu.Unlock()
		starts = append(starts, start)
	}}, func(b *Bridge) {
		b.now = func() time.Time { return fixedNow }
		write := b.files.writeFile
		b.files.writeFile = func(path string, data []byte) error {
			if filepath.Base(path) == omemoFileName {
				mu.Lock()
				deviceWrites++
				mu.Unlock()
			}
			return write(path, data)
		}
	})
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
	if _, err := os.Stat(filepath.Join(dir, omemoFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the OMEMO device was made before its turn: %v", err)
	}
	scheduled()[1]()
	h.barrier()
	dev := storedDevice(t, h, dir)
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish devices [%d]", dev.DeviceID), fmt.Sprintf("publish bundle %d", dev.DeviceID))
	if !dev.SignedPreKeyMade.Equal(fixedNow) {
		t.Fatalf("stored device: signed pre-key made %v, want %v", dev.SignedPreKeyMade, fixedNow)
	}
	h.b.files.flush()
	mu.Lock()
	defer mu.Unlock()
	if deviceWrites != 1 {
		t.Fatalf("the new device was written %d times, want once", deviceWrites)
	}
}
