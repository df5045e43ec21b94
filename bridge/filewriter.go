package bridge

import (
	"log/slog"
	"os"
	"sync"

	"xircd/internal/fifo"
)

// fileWriter writes state files away from the owner goroutine: a write
// and its fsync can take tens of milliseconds on a busy disk, during
// which the owner would hold up every message of the user (the catch-up
// point is written every second while messages flow). Each path keeps
// only its latest content; flush waits for everything written before;
// read returns a file as last written, on disk or not yet. The owner
// goroutine alone writes. The writing is done by fileWorkers, shared by
// every user of the process.
type fileWriter struct {
	log       *slog.Logger
	writeFile func(path string, data []byte) error // writeFileAtomic; tests may replace it

	mu      sync.Mutex
	written sync.Cond // signalled when the writing goroutine ends
	pending map[string][]byte
	writing map[string][]byte // what the goroutine is writing now
	// unwritten is what could not be written, until a later write of
	// its path succeeds: read returns it all the same, so that a change
	// (a one-time pre-key used up) holds while the process runs.
	unwritten map[string][]byte
	running   bool // queued for a fileWorkers goroutine, or being written by one
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
		fileWork.queue(w)
	}
}

// fileWorkers write the pending files of every user of the process, at
// most maxFileWorkers at a time. A goroutine per user waiting in its
// fsync would cost each user a stack of 4 KiB (creating and syncing a
// file runs deeper than the 2 KiB a goroutine starts with) whenever a
// message to every user at once has each of them save its catch-up
// point; a few goroutines write them all in turn. They run only while
// writers are queued. A user's files may wait behind other users' (so may
// writeNow and flush, which wait for them): the disk takes the fsyncs one
// after another anyway.
type fileWorkers struct {
	mu      sync.Mutex
	waiting fifo.Queue[*fileWriter]
	running int
}

// maxFileWorkers is how many files of the process are written at once.
const maxFileWorkers = 4

// fileWork writes the state files of every Bridge of the process.
var fileWork fileWorkers

// queue has w's pending files written, starting a goroutine unless
// maxFileWorkers run.
func (f *fileWorkers) queue(w *fileWriter) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waiting.Push(w)
	if f.running < maxFileWorkers {
		f.running++
		go f.work()
	}
}

// work runs the queued writers until none waits.
func (f *fileWorkers) work() {
	for {
		f.mu.Lock()
		w, ok := f.waiting.Pop()
		if !ok {
			f.running--
			f.mu.Unlock()
			return
		}
		f.mu.Unlock()
		w.run()
	}
}

// run writes until nothing is pending, logging failures: losing a nick
// mapping or a catch-up point must not stop the gateway.
func (w *fileWriter) run() {
	w.mu.Lock()
	for len(w.pending) > 0 {
		batch := w.pending
		w.pending, w.writing = nil, batch
		w.mu.Unlock()
		failed := map[string]error{}
		for path, data := range batch {
			if err := w.writeFile(path, data); err != nil {
				w.log.Error("saving state failed", "path", path, "err", err)
				failed[path] = err
			}
		}
		w.mu.Lock()
		for path, data := range batch {
			w.setUnwritten(path, data, failed[path] != nil)
		}
		w.writing = nil
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

// setUnwritten notes whether writing data to path failed.
func (w *fileWriter) setUnwritten(path string, data []byte, failed bool) {
	switch {
	case failed && w.unwritten == nil:
		w.unwritten = map[string][]byte{path: data}
	case failed:
		w.unwritten[path] = data
	default:
		delete(w.unwritten, path)
	}
}

// writeNow writes data to path at once, after what is queued, and returns
// the error: for a change that must not be used unless it is on disk. A
// failed writeNow changes nothing read returns.
func (w *fileWriter) writeNow(path string, data []byte) error {
	w.mu.Lock()
	delete(w.pending, path) // older than data
	for w.running {
		w.written.Wait()
	}
	w.mu.Unlock()
	err := w.writeFile(path, data)
	if err == nil {
		w.mu.Lock()
		w.setUnwritten(path, data, false)
		w.mu.Unlock()
	}
	return err
}

// read returns path's content as last written: queued, being written or
// failed to write, else the file.
func (w *fileWriter) read(path string) ([]byte, error) {
	w.mu.Lock()
	for _, written := range []map[string][]byte{w.pending, w.writing, w.unwritten} {
		if data, ok := written[path]; ok {
			w.mu.Unlock()
			return data, nil
		}
	}
	w.mu.Unlock()
	// Only the owner goroutine writes: nothing can be queued for path
	// before the file is read.
	return os.ReadFile(path)
}
