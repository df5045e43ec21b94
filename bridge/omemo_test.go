package bridge

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// xircd's OMEMO device is made once and kept in state_dir (mode 0600);
// after login it joins the account's device list, keeping the devices
// already there, and publishes its bundle. Once listed, it is not
// published again.
func TestOMEMODevicePublished(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, Config{StateDir: dir})
	path := filepath.Join(dir, omemoFileName)
	dev, err := omemo.LoadDevice(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key store %v, %v; want mode 0600", fi, err)
	}
	h.x.omemoDevices = []uint32{4242}
	h.connect()
	h.expectOMEMOCalls("devices ",
		fmt.Sprintf("publish devices [4242 %d]", dev.DeviceID),
		fmt.Sprintf("publish bundle %d", dev.DeviceID))
	h.stop()

	h = newHarness(t, Config{StateDir: dir})
	if h.b.omemo.dev.DeviceID != dev.DeviceID {
		t.Fatalf("device %d after a restart, want %d", h.b.omemo.dev.DeviceID, dev.DeviceID)
	}
	h.x.omemoDevices = []uint32{4242, dev.DeviceID}
	h.connect()
	h.expectOMEMOCalls("devices ", fmt.Sprintf("publish bundle %d", dev.DeviceID))
}

// A damaged key store is replaced by a new device, and the user is told
// why once connected; the gateway runs on.
func TestOMEMOCorruptStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, omemoFileName)
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, Config{StateDir: dir})
	c := h.attach("me")
	c.take()
	h.connect()
	lines := c.take()
	if !slices.ContainsFunc(lines, func(l string) bool {
		return strings.Contains(l, "The OMEMO key store could not be read") && strings.Contains(l, "xircd made a new OMEMO device")
	}) {
		t.Fatalf("no notice of the damaged key store in %q", lines)
	}
	dev, err := omemo.LoadDevice(path)
	if err != nil || dev.DeviceID != h.b.omemo.dev.DeviceID {
		t.Fatalf("new device not saved: %v", err)
	}
}

// Without a state_dir, xircd has no OMEMO device: a new one at every
// start would fill the account's device list.
func TestOMEMONoStateDir(t *testing.T) {
	h := newHarness(t, Config{})
	h.connect()
	h.expectOMEMOCalls()
}

// A refused publication is told: contacts cannot encrypt to xircd.
func TestOMEMOPublicationRefused(t *testing.T) {
	h := newHarness(t, Config{StateDir: t.TempDir()})
	h.x.omemoRefusal = &xmpp.StanzaError{Type: "cancel", Condition: "forbidden"}
	c := h.attach("me")
	c.take()
	h.connect()
	lines := c.take()
	if !slices.ContainsFunc(lines, func(l string) bool {
		return strings.Contains(l, "OMEMO: the XMPP server refused publish-omemo-bundle (forbidden); contacts cannot encrypt to xircd.")
	}) {
		t.Fatalf("no notice of the refusal in %q", lines)
	}
}
