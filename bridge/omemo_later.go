package bridge

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// omemoAtStart loads xircd's OMEMO device. With Config.LoginWork and no
// device kept yet, making one (a hundred key pairs, some 10 ms of CPU) is
// left to the login's work instead: a crowd of new users then logs in
// without it.
func omemoAtStart(cfg Config, files *fileWriter) omemoState {
	if cfg.LoginWork != nil && cfg.StateDir != "" {
		if _, err := os.Stat(filepath.Join(cfg.StateDir, omemoFileName)); errors.Is(err, fs.ErrNotExist) {
			return omemoState{later: true}
		}
	}
	return loadOMEMO(cfg.StateDir, files, time.Time{})
}

// omemoDevice makes the device omemoAtStart left for later, telling what
// went wrong; it reports whether xircd has a device. Its signed pre-key
// counts from now, as rotateSignedPreKey would set it next: the device is
// then written once, not read back and written again.
func (b *Bridge) omemoDevice() bool {
	if b.omemo.later {
		b.omemo = loadOMEMO(b.cfg.StateDir, b.files, b.now())
		if b.omemo.problem != "" {
			b.announce(b.omemo.problem, true)
			b.omemo.problem = ""
		}
	}
	return b.omemo.dev != nil
}
