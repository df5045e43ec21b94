package bridge

import (
	"log/slog"
	"sync"
)

// fileWriter writes state files away from the owner goroutine: a write
// and its fsync can take tens of milliseconds on a busy disk, during
// which the owner would hold up every message of the user (the catch-up
// point is written every second while messages flow). Each path keeps
// only its latest content; flush waits for everything written before.
type fileWriter struct {
	log       *slog.Logger
	writeFile func(path string, data []byte) error // writeFileAtomic; tests may replace it

	mu      sync.Mutex
	written sync.Cond // signalled when the writing goroutine ends
	pending map[string][]byte
	running bool // a goroutine writes what is pending
}

func newFileWriter(log *slog.Logger) *fileWriter {
	w := &fileWriter{log: log, writeFile: writeFileAtomic}
	w.written.L = &w.mu
	return w
}

// write has data written to path (writeFileAtomic) soon.
func (w *fileWriter) write(path string, data []byte) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.pending == nil {
		w.pending = map[string][]byte{}
	}
	w.pending[path] = data
	if !w.running {
		w.running = true
		go w.run()
	}
}

// run writes until nothing is pending, logging failures: losing a nick
// mapping or a catch-up point must not stop the gateway.
func (w *fileWriter) run() {
	w.mu.Lock()
	for len(w.pending) > 0 {
		batch := w.pending
		w.pending = nil
		w.mu.Unlock()
		for path, data := range batch {
			if err := w.writeFile(path, data); err != nil {
				w.log.Error("saving state failed", "path", path, "err", err)
			}
		}
		w.mu.Lock()
	}
	w.running = false
	w.written.Broadcast()
	w.mu.Unlock()
}

// flush returns once everything written before is on disk.
func (w *fileWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.running {
		w.written.Wait()
	}
}
