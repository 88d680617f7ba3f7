package pager

import (
	"fmt"

	"github.com/streamcrypt/scdb/crypt"
	"github.com/streamcrypt/scdb/internal/errs"
)

// SlotInfo describes one key slot without revealing anything secret.
type SlotInfo struct {
	Kind byte            // crypt.SlotEmpty, crypt.SlotPassphrase or crypt.SlotRawKey
	KDF  crypt.KDFParams // Argon2id parameters of a passphrase slot
}

// Slots lists the header's key slots.
func (p *Pager) Slots() [NumSlots]SlotInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [NumSlots]SlotInfo
	for i := range p.hdr.slots {
		s := &p.hdr.slots[i]
		out[i] = SlotInfo{Kind: s.Kind()}
		if s.Kind() == crypt.SlotPassphrase {
			out[i].KDF = s.KDF()
		}
	}
	return out
}

// AddSlot wraps the data key for cred in the first empty slot and returns
// its index. The data pages are not touched.
func (p *Pager) AddSlot(cred crypt.Credential) (int, error) {
	return p.changeSlots(func(h *header) (int, error) {
		for i := range h.slots {
			if h.slots[i].Kind() == crypt.SlotEmpty {
				return i, p.fillSlot(h, i, cred)
			}
		}
		return -1, fmt.Errorf("%w: all %d key slots are in use", errs.ErrInvalid, NumSlots)
	})
}

// ReplaceSlot puts a slot for cred in place of slot i in one atomic header
// rewrite: this is how a passphrase is changed.
func (p *Pager) ReplaceSlot(i int, cred crypt.Credential) error {
	_, err := p.changeSlots(func(h *header) (int, error) {
		if err := checkSlotIndex(h, i); err != nil {
			return i, err
		}
		return i, p.fillSlot(h, i, cred)
	})
	return err
}

// RemoveSlot empties slot i. The last non-empty slot cannot be removed:
// that would leave a file nobody can open.
func (p *Pager) RemoveSlot(i int) error {
	_, err := p.changeSlots(func(h *header) (int, error) {
		if err := checkSlotIndex(h, i); err != nil {
			return i, err
		}
		used := 0
		for j := range h.slots {
			if h.slots[j].Kind() != crypt.SlotEmpty {
				used++
			}
		}
		if used == 1 {
			return i, fmt.Errorf("%w: slot %d is the only key slot left", errs.ErrInvalid, i)
		}
		h.slots[i] = crypt.Slot{}
		return i, nil
	})
	return err
}

func checkSlotIndex(h *header, i int) error {
	if i < 0 || i >= NumSlots || h.slots[i].Kind() == crypt.SlotEmpty {
		return fmt.Errorf("%w: no key slot %d", errs.ErrInvalid, i)
	}
	return nil
}

func (p *Pager) fillSlot(h *header, i int, cred crypt.Credential) error {
	s, err := crypt.NewSlot(p.dataKey, cred, p.opts.kdf(), h.keyID, p.opts.rand())
	if err != nil {
		return err
	}
	h.slots[i] = s
	return nil
}

// changeSlots applies edit to a copy of the header and writes it crash-safely:
// first over the copy not in use, synced, then over the other, synced. At
// every instant one intact copy holds either the old or the new slots.
func (p *Pager) changeSlots(edit func(h *header) (int, error)) (int, error) {
	if err := p.writable(); err != nil {
		return -1, err
	}
	p.mu.Lock()
	h := *p.hdr
	cur := p.hdrCopy
	p.mu.Unlock()
	idx, err := edit(&h)
	if err != nil {
		return idx, err
	}
	h.epoch++
	enc := h.encode()
	for _, c := range []int{1 - cur, cur} {
		if _, err := p.f.WriteAt(enc, int64(c*headerSize)); err != nil {
			return idx, p.poison(fmt.Errorf("pager: write header copy %d: %w", c, err))
		}
		if err := p.f.Sync(); err != nil {
			return idx, p.poison(fmt.Errorf("pager: sync header copy %d: %w", c, err))
		}
	}
	p.mu.Lock()
	p.hdr, p.hdrCopy = &h, 0
	p.mu.Unlock()
	return idx, nil
}
