package bridge

import (
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"xircd/xmpp"
	"xircd/xmpp/omemo"
)

// OMEMO (XEP-0384 0.3): xircd is one OMEMO device of the user's account.
// Its keys live in state_dir (omemoFileName, mode 0600); without a
// state_dir it has no device, since a new one at every start would fill
// the account's device list. After each login (not a resumption) it
// fetches the account's device list, adds itself when missing, keeping
// every other device, and publishes its bundle.

// omemoFileName is the file in state_dir holding xircd's OMEMO device.
const omemoFileName = "omemo.json"

// omemoState is xircd's OMEMO device.
type omemoState struct {
	dev     *omemo.Device // nil: no device (no state_dir, or it cannot be saved)
	path    string
	problem string // what went wrong loading the device, told once connected
}

// loadOMEMO loads the device kept in dir or makes and saves a new one. A
// damaged store is replaced by a new device: contacts' clients then see a
// new device of the account, which beats having none, and the user is
// told.
func loadOMEMO(dir string) omemoState {
	if dir == "" {
		return omemoState{}
	}
	st := omemoState{path: filepath.Join(dir, omemoFileName)}
	dev, err := omemo.LoadDevice(st.path)
	if err == nil {
		st.dev = dev
		return st
	}
	if !errors.Is(err, fs.ErrNotExist) {
		st.problem = "The OMEMO key store could not be read (" + oneLine(err.Error()) + "); xircd made a new OMEMO device. "
	}
	if dev, err = omemo.NewDevice(rand.Reader); err == nil {
		err = os.MkdirAll(dir, 0o700)
	}
	if err == nil {
		err = omemo.SaveDevice(st.path, dev)
	}
	if err != nil {
		st.problem += "xircd has no OMEMO device: " + oneLine(err.Error()) + "."
		return st
	}
	st.dev = dev
	return st
}

// omemoConnected tells what went wrong loading the device, once, and
// makes sure the account lists the device: the device list is fetched,
// and its answer (onOMEMODevices) publishes what is missing.
func (b *Bridge) omemoConnected() {
	if b.omemo.problem != "" {
		b.announce(b.omemo.problem, true)
		b.omemo.problem = ""
	}
	if b.omemo.dev == nil {
		return
	}
	err := b.startRequest(request{kind: requestOMEMODevices}, func(ctx context.Context) (string, error) {
		return b.x.OMEMODevices(ctx, "")
	})
	if err != nil {
		b.log.Info("OMEMO device list not fetched", "err", err)
	}
}

// onOMEMODevices takes the account's device list: xircd adds its device
// when it is missing, then publishes its bundle.
func (b *Bridge) onOMEMODevices(ev xmpp.OMEMODeviceList) {
	if _, ok := b.answered(ev.ID); !ok {
		return
	}
	if ev.Err != nil {
		b.announce("OMEMO: the account's device list could not be read ("+oneLine(ev.Err.Error())+"); contacts cannot encrypt to xircd.", true)
		return
	}
	own := b.omemo.dev.DeviceID
	if !slices.Contains(ev.Devices, own) {
		ids := append(slices.Clone(ev.Devices), own)
		b.omemoPublish(func(ctx context.Context) (string, error) { return b.x.PublishOMEMODevices(ctx, ids) })
	}
	b.omemoPublish(func(ctx context.Context) (string, error) { return b.x.PublishOMEMOBundle(ctx, b.omemo.dev.Bundle()) })
}

func (b *Bridge) omemoPublish(send func(ctx context.Context) (string, error)) {
	if err := b.startRequest(request{kind: requestOMEMOPublish}, send); err != nil {
		b.log.Info("OMEMO publication not sent", "err", err)
	}
}

// onOMEMOPublished tells a refused publication: contacts cannot encrypt
// to xircd.
func (b *Bridge) onOMEMOPublished(ev xmpp.RequestDone) {
	if ev.Err != nil {
		b.announce("OMEMO: the XMPP server refused "+ev.Op+" ("+oneLine(ev.Err.Error())+"); contacts cannot encrypt to xircd.", true)
	}
}
