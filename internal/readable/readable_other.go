//go:build !linux

package readable

// start reports that there is no poller here: Await runs its function
// at once, and that function's read waits.
func (p *poller) start() bool { return false }

func (p *poller) arm(fd int, id uint64, added bool) error { return nil }

func (p *poller) remove(fd int) {}
