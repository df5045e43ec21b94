package readable

import "syscall"

// start starts the process's poller the first time, and reports whether
// it runs.
func (p *poller) start() bool {
	p.once.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		p.fd, p.ok = fd, true
		go p.wait()
	})
	return p.ok
}

// wait fires the Awaits whose sockets the kernel reports, for ever.
func (p *poller) wait() {
	var events [64]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(p.fd, events[:], -1)
		if err != nil {
			// EINTR; nothing else can happen to a valid epoll descriptor
			// and buffer.
			continue
		}
		for _, ev := range events[:n] {
			p.fire(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32)
		}
	}
}

// arm asks the kernel for one event once fd can be read, carrying id.
// An fd that is readable already gives its event at once.
func (p *poller) arm(fd int, id uint64, added bool) error {
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(id)),
		Pad:    int32(uint32(id >> 32)),
	}
	op := syscall.EPOLL_CTL_MOD
	if !added {
		op = syscall.EPOLL_CTL_ADD
	}
	return syscall.EpollCtl(p.fd, op, fd, &ev)
}

func (p *poller) remove(fd int) {
	syscall.EpollCtl(p.fd, syscall.EPOLL_CTL_DEL, fd, nil)
}
