package pager

import (
	"errors"
	"fmt"

	"github.com/streamcrypt/scdb/internal/errs"
)

// SnapshotLocker is a File that other opens of the same file can share:
// readers announce the generations they read, and the writer asks for the
// oldest one announced by any other open (FORMAT.md §9.5). An OSFile is one
// on Linux; a File without it is never shared.
type SnapshotLocker interface {
	// LockSnapshot announces that this open reads generation gen.
	LockSnapshot(gen uint64) error
	// UnlockSnapshot withdraws LockSnapshot(gen).
	UnlockSnapshot(gen uint64) error
	// OldestForeignSnapshot returns the lowest generation below `below`
	// that another open of the file announced, if any.
	OldestForeignSnapshot(below uint64) (uint64, bool, error)
}

// MaxLockedGen is the highest generation a snapshot lock names (FORMAT.md
// §9.5): a snapshot of a later generation is announced as this one, which
// only makes a writer keep more pages.
const MaxLockedGen = 1<<61 - 1

// LockedGen is the generation a snapshot of gen is announced as.
func LockedGen(gen uint64) uint64 { return min(gen, MaxLockedGen) }

// maxSnapshotTries bounds how often BeginSnapshot chases a writer that
// commits between reading the meta and announcing it; each try takes a few
// microseconds, a commit at least one write and (usually) two fsyncs.
const maxSnapshotTries = 1000

// BeginSnapshot returns the newest committed state for a read snapshot and,
// in a read-only pager, announces its generation to writers in other
// processes, so that none of them reuses a page it reaches until
// EndSnapshot. It re-reads the meta pages, since another process may have
// committed since the last look. The announcement is made, then checked
// against the meta again: a writer that committed in between may already
// have reused pages the older state needs, so the snapshot moves on to the
// newer state instead.
func (p *Pager) BeginSnapshot() (Meta, error) {
	if !p.opts.ReadOnly {
		return p.Meta(), nil // this pager is the only writer
	}
	for try := 0; try < maxSnapshotTries; try++ {
		m, err := p.refresh()
		if err != nil {
			return Meta{}, err
		}
		if err := p.holdSnapshot(m.Gen); err != nil {
			return Meta{}, err
		}
		again, err := p.refresh()
		if err == nil && again.Gen == m.Gen {
			return m, nil
		}
		p.EndSnapshot(m.Gen)
		if err != nil {
			return Meta{}, err
		}
	}
	return Meta{}, fmt.Errorf("%w: the writer committed %d times while a snapshot was being taken", errs.ErrLocked, maxSnapshotTries)
}

// EndSnapshot withdraws what BeginSnapshot announced for gen.
func (p *Pager) EndSnapshot(gen uint64) {
	if !p.opts.ReadOnly {
		return
	}
	key := LockedGen(gen)
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	if p.snaps[key]--; p.snaps[key] > 0 {
		return
	}
	delete(p.snaps, key)
	// Close takes snapMu too, so the descriptor is still this file's.
	if sl, ok := p.f.(SnapshotLocker); ok && !p.closed.Load() {
		_ = sl.UnlockSnapshot(key) // a failure leaves the lock until Close, which drops it
	}
}

// holdSnapshot takes the lock on gen the first time it is read here.
func (p *Pager) holdSnapshot(gen uint64) error {
	key := LockedGen(gen)
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	if p.closed.Load() {
		return errs.ErrClosed
	}
	if p.snaps[key] == 0 {
		if sl, ok := p.f.(SnapshotLocker); ok {
			if err := sl.LockSnapshot(key); err != nil {
				return fmt.Errorf("pager: announce snapshot %d: %w", gen, err)
			}
		}
	}
	p.snaps[key]++
	return nil
}

// ReplacedAt reports whether path no longer names the file this pager has
// open (only an OS file can tell; others say false).
func (p *Pager) ReplacedAt(path string) bool {
	f, ok := p.f.(OSFile)
	return ok && path != "" && f.replacedAt(path)
}

// OldestForeignSnapshot returns the lowest generation below `below` that a
// read snapshot in another open of the file (another process, or another
// read-only DB in this one) holds; found is false if there is none.
func (p *Pager) OldestForeignSnapshot(below uint64) (gen uint64, found bool, err error) {
	sl, ok := p.f.(SnapshotLocker)
	if !ok {
		return 0, false, nil
	}
	return sl.OldestForeignSnapshot(below)
}

// Refresh re-reads the meta pages of a read-only pager and adopts the
// newest valid one: another process may have committed. It announces
// nothing; a reader takes its state from BeginSnapshot.
func (p *Pager) Refresh() (Meta, error) {
	if !p.opts.ReadOnly {
		return p.Meta(), nil
	}
	return p.refresh()
}

func (p *Pager) refresh() (Meta, error) {
	m, _, err := p.chooseRetrying()
	if err != nil {
		if p.closed.Load() {
			return Meta{}, errors.Join(errs.ErrClosed, err)
		}
		return Meta{}, err
	}
	// Goroutines of one read-only DB refresh at once: the state kept only
	// moves forward, and each caller gets the meta it read itself. What
	// MetaFault says stays what Open found.
	p.mu.Lock()
	if m.Gen >= p.meta.Gen {
		p.meta = m
	}
	p.mu.Unlock()
	return m, nil
}

// maxRefreshTries bounds how often refresh reads the meta pages again when
// the file looks shorter than the meta it chose: a writer's trim after a
// newer commit explains it once or twice, a truncated file every time.
const maxRefreshTries = 8
