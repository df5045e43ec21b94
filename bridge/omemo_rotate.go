package bridge

import (
	"crypto/rand"
	"time"
)

// Signed pre-key rotation: xircd replaces its device's signed pre-key every
// omemo.SignedPreKeyRotation, as libsignal-based clients do, and
// republishes its bundle; the device keeps the replaced ones for
// omemo.SignedPreKeyGrace, so that a contact who fetched an older bundle
// can still start a session. The schedule counts from the time the
// device's store keeps; a store without it (a new device, or one written
// before rotation) starts counting at the next login.

// rotationRetry is how long xircd waits to rotate again when the rotated
// keys could not be saved.
const rotationRetry = time.Hour

// stopper is a timer that can be stopped (*time.Timer).
type stopper interface{ Stop() bool }

// omemoRotation is the timer of the next rotation.
type omemoRotation struct {
	timer stopper
	// afterFunc starts the timer; nil is time.AfterFunc (tests replace it
	// to fire the timer themselves).
	afterFunc func(time.Duration, func()) stopper
}

// opRotateSignedPreKey: the rotation timer fired.
type opRotateSignedPreKey struct{}

func (opRotateSignedPreKey) isOp() {}

// rotateSignedPreKey replaces the device's signed pre-key if it is due,
// saves the device and arms the timer for the next rotation; true when
// the bundle changed. A device that does not know when its signed pre-key
// was made takes now. Keys that cannot be saved are not used: the old
// ones stay (a bundle nobody can answer after a restart is worse) and
// xircd tries again after rotationRetry.
func (b *Bridge) rotateSignedPreKey() bool {
	now := b.now()
	rotated := false
	switch due := b.omemo.dev.RotationDue(); {
	case due.IsZero():
		dev, err := b.omemo.keys()
		if err == nil {
			dev.SignedPreKeyMade = now
			err = b.omemo.save(dev)
		}
		if err != nil {
			b.log.Error("OMEMO keys not saved", "err", err)
			b.omemo.dev.SignedPreKeyMade = now
		}
	case !now.Before(due):
		// The rotation is made on the keys read from the store, used
		// once saved.
		dev, err := b.omemo.keys()
		if err == nil {
			err = dev.RotateSignedPreKey(rand.Reader, now)
		}
		if err == nil {
			err = b.omemo.saveNow(dev)
		}
		if err != nil {
			b.log.Error("OMEMO signed pre-key not rotated", "err", err)
			b.armRotation(rotationRetry)
			return false
		}
		rotated = true
	}
	b.armRotation(b.omemo.dev.RotationDue().Sub(now))
	return rotated
}

// armRotation (re)starts the rotation timer to fire after wait.
func (b *Bridge) armRotation(wait time.Duration) {
	r := &b.omemo.rotation
	if r.timer != nil {
		r.timer.Stop()
	}
	after := r.afterFunc
	if after == nil {
		after = func(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }
	}
	r.timer = after(max(wait, 0), func() { b.post(opRotateSignedPreKey{}) })
}

// onRotationTimer rotates when due and republishes the bundle; while
// disconnected, the next login publishes it.
func (b *Bridge) onRotationTimer() {
	b.omemo.rotation.timer = nil
	if b.omemo.dev == nil {
		return
	}
	if b.rotateSignedPreKey() && b.connected {
		b.publishBundle()
	}
}

// stopRotation stops the rotation timer when the bridge ends.
func (b *Bridge) stopRotation() {
	if t := b.omemo.rotation.timer; t != nil {
		t.Stop()
	}
}
