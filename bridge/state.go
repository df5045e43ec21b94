package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"maps"
	"os"
	"path/filepath"
)

// stateFileName is the file in state_dir holding the bridge's state.
const stateFileName = "bridge.json"

// stateFile is what persists across restarts: each contact's nick (by bare
// JID), which nicks the user chose, settings changed with "set", and
// contacts' OMEMO modes.
type stateFile struct {
	Nicks     map[string]string `json:"nicks"`
	Overrides map[string]bool   `json:"overrides,omitempty"`
	Settings  map[string]string `json:"settings,omitempty"`
	// OMEMO is each contact's OMEMO mode (omemoOn or omemoOff) by bare
	// JID; auto, the default, is not kept.
	OMEMO map[string]string `json:"omemo,omitempty"`

	dir string // state_dir; "" when nothing persists
	// rosterNicks yields the saved nicks kept outside Nicks, by roster
	// contacts (Bridge.savedNick); nil for none.
	rosterNicks iter.Seq2[string, string]
}

// loadState reads dir's state file; a missing file is an empty state.
func loadState(dir string) (*stateFile, error) {
	st := &stateFile{}
	if dir != "" {
		st.dir = dir
		data, err := os.ReadFile(st.path())
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("bridge: reading state: %w", err)
		default:
			if err := json.Unmarshal(data, st); err != nil {
				return nil, fmt.Errorf("bridge: state file %s is corrupt: %w", st.path(), err)
			}
		}
	}
	if st.Nicks == nil {
		st.Nicks = map[string]string{}
	}
	return st, nil
}

// path is the state file's path. A user's files are named as needed
// from state_dir rather than kept, each path a string of its own.
func (st *stateFile) path() string { return filepath.Join(st.dir, stateFileName) }

// save writes the state atomically (writeFileAtomic).
func (st *stateFile) save() error {
	if st.dir == "" {
		return nil
	}
	data, err := st.encode()
	if err != nil {
		return err
	}
	return writeFileAtomic(st.path(), data)
}

// encode is the state file's content.
func (st *stateFile) encode() ([]byte, error) {
	if st.rosterNicks != nil {
		all := *st
		all.Nicks = maps.Clone(st.Nicks)
		maps.Insert(all.Nicks, st.rosterNicks)
		st = &all
	}
	data, err := json.MarshalIndent(st, "", "  ")
	return append(data, '\n'), err
}

// writeFileAtomic writes a file of state_dir atomically: a temporary file
// in the same directory, synced, then renamed over the old one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}

// saveState marks the state changed; Run writes it once the current event
// is handled, so a roster of hundreds costs one write.
func (b *Bridge) saveState() { b.stateDirty = true }

// flushState has a changed state written (fileWriter).
func (b *Bridge) flushState() {
	if !b.stateDirty {
		return
	}
	b.stateDirty = false
	if b.state.dir == "" {
		return
	}
	data, err := b.state.encode()
	if err != nil {
		b.log.Error("saving state failed", "path", b.state.path(), "err", err)
		return
	}
	b.files.write(b.state.path(), data)
}
