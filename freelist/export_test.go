package freelist

import "github.com/streamcrypt/scdb/pager"

// RecordedFree lists, in order, the pages f records as free outside a
// transaction: free and pending alike.
func RecordedFree(f *Freelist) []uint64 {
	var out []uint64
	for _, s := range []*runSet{&f.free, &f.pending} {
		s.each(func(r run) bool {
			for p := r.start; p < r.end(); p++ {
				out = append(out, p)
			}
			return true
		})
	}
	return sortedPages(out)
}

func sortedPages(p []uint64) []uint64 {
	// Insertion into a fresh set keeps this free of another import.
	s := newRunSet(false)
	for _, x := range p {
		if err := s.add(run{x, 1}); err != nil {
			panic(err) // free and pending overlap
		}
	}
	out := p[:0]
	s.each(func(r run) bool {
		for x := r.start; x < r.end(); x++ {
			out = append(out, x)
		}
		return true
	})
	return out
}

// Loaded reports whether f has read its pages (Open defers that).
func Loaded(f *Freelist) bool { return f.src == nil }

// LogPages and CheckpointPages are the freelist pages of the last commit.
func LogPages(f *Freelist) []pager.Ref        { return f.disk.log }
func CheckpointPages(f *Freelist) []pager.Ref { return f.disk.ckpt }

// TypeCheckpoint is the page type of a checkpoint page.
const TypeCheckpoint = pager.TypeFreelist

// LogHeaderSize and CheckpointHeaderSize are the page header sizes.
const (
	LogHeaderSize        = logHeaderSize
	CheckpointHeaderSize = ckptHeaderSize
)
