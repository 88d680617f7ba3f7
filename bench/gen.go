package main

// The generator makes the realistic record shape every workload uses, from a
// seed alone: each process (one per workload) rebuilds the same lists and ids,
// and a value is regenerated from (seed, list, record, version) when needed
// rather than kept, so that the records themselves never weigh on a
// workload's measured heap.

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// Value sizes: log-normal around a 700-byte median, with a tail fatter than a
// single log-normal can give (p90 ≈ 1 KB, p99 ≈ 2 KB and about one value in
// 10,000 near 30 KB), so the size is a piecewise log-linear function of one
// standard normal draw.
const (
	medianSize = 700
	p90Size    = 1000
	p99Size    = 2000
	maxSize    = 30 << 10
	minSize    = 64
	z90, z99   = 1.2816, 2.3263
	z9999      = 3.719 // where the tail reaches maxSize
)

// Rec names one generated record: the list it belongs to and its index there.
type Rec struct {
	List int // index into Gen.Lists
	Idx  int // index into that list's Ids
}

// Gen is the generated data set's shape: list names and sorted ids.
type Gen struct {
	Seed  uint64     // the seed every record, id and value derives from
	Lists []string   // list names, in byte order
	IDs   [][]string // per list, ids in byte order (the order they arrive in)
	All   []Rec      // every record, in arrival order (list by list, ids sorted)
}

// NewGen builds n records spread over up to nLists lists with Zipf-like
// sizes: list i holds a share proportional to 1/(i+1).
func NewGen(seed uint64, n, nLists int) *Gen {
	nLists = max(1, min(nLists, n, len(sections)))
	rng := rand.New(rand.NewPCG(seed, 0x6c697374))
	names := slices.Clone(sections[:nLists])
	slices.Sort(names)
	rng.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
	counts := zipfCounts(n, nLists)
	g := &Gen{Seed: seed, IDs: make([][]string, nLists)}
	order := make([]int, nLists) // list indices sorted by name
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(names[a], names[b]) })
	for pos, i := range order {
		g.Lists = append(g.Lists, names[i])
		g.IDs[pos] = packageNames(rng, counts[i])
	}
	for l, ids := range g.IDs {
		for k := range ids {
			g.All = append(g.All, Rec{List: l, Idx: k})
		}
	}
	return g
}

// zipfCounts splits n into k parts proportional to 1/(i+1), each at least 1.
func zipfCounts(n, k int) []int {
	var h float64
	for i := range k {
		h += 1 / float64(i+1)
	}
	counts := make([]int, k)
	left := n
	for i := range k {
		c := max(1, int(float64(n)/(float64(i+1)*h)))
		c = min(c, left-(k-1-i)) // leave one for each list still to come
		counts[i] = c
		left -= c
	}
	counts[0] += left
	return counts
}

// packageNames returns n distinct Debian-like package names, sorted.
func packageNames(rng *rand.Rand, n int) []string {
	seen := make(map[string]bool, n)
	out := make([]string, 0, n)
	for len(out) < n {
		name := packageName(rng)
		if len(seen) > 4*n { // small name space exhausted: force uniqueness
			name = fmt.Sprintf("%s%d", name, len(out))
		}
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func packageName(rng *rand.Rand) string {
	var b strings.Builder
	if rng.IntN(3) == 0 {
		b.WriteString(prefixes[rng.IntN(len(prefixes))])
	}
	for i := range 1 + rng.IntN(3) {
		if i > 0 && rng.IntN(3) == 0 {
			b.WriteByte('-')
		}
		b.WriteString(syllables[rng.IntN(len(syllables))])
	}
	if rng.IntN(3) == 0 {
		fmt.Fprintf(&b, "%d", rng.IntN(10))
	}
	if rng.IntN(3) == 0 {
		b.WriteString(suffixes[rng.IntN(len(suffixes))])
	}
	return b.String()
}

// ID returns the list name and id of r.
func (g *Gen) ID(r Rec) (list, id string) { return g.Lists[r.List], g.IDs[r.List][r.Idx] }

// rng returns the generator that fixes the value of r at version ver: the
// same in every process.
func (g *Gen) rng(r Rec, ver int) *rand.Rand {
	return rand.New(rand.NewPCG(g.Seed^uint64(r.List)<<40^uint64(ver)<<32, uint64(r.Idx)))
}

// Size returns the length of r's value at version ver without building it.
func (g *Gen) Size(r Rec, ver int) int { return stanzaSize(g.rng(r, ver)) }

func stanzaSize(rng *rand.Rand) int {
	z := rng.NormFloat64()
	var lnSize float64
	switch {
	case z <= z90:
		lnSize = math.Log(medianSize) + z*math.Log(p90Size/float64(medianSize))/z90
	case z <= z99:
		lnSize = math.Log(p90Size) + (z-z90)*math.Log(p99Size/float64(p90Size))/(z99-z90)
	default:
		lnSize = math.Log(p99Size) + (z-z99)*math.Log(maxSize/float64(p99Size))/(z9999-z99)
	}
	return max(minSize, min(maxSize, int(math.Exp(lnSize))))
}

// Value appends r's value at version ver to dst: a package stanza of
// "Field: value" lines and a wrapped description, cut to the drawn size.
func (g *Gen) Value(dst []byte, r Rec, ver int) []byte {
	rng := g.rng(r, ver)
	size := stanzaSize(rng)
	list, id := g.ID(r)
	start := len(dst)
	dst = fmt.Appendf(dst, "Package: %s\nVersion: %d.%d.%d-%d\nArchitecture: %s\n",
		id, rng.IntN(10), rng.IntN(30), rng.IntN(100), 1+rng.IntN(5), arches[rng.IntN(len(arches))])
	dst = fmt.Appendf(dst, "Maintainer: %s <%s@debian.org>\nInstalled-Size: %d\nDepends: ",
		maintainers[rng.IntN(len(maintainers))], syllables[rng.IntN(len(syllables))], 16+rng.IntN(40000))
	for i := range 1 + rng.IntN(5) {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = fmt.Appendf(dst, "%s (>= %d.%d)", packageName(rng), rng.IntN(5), rng.IntN(20))
	}
	dst = fmt.Appendf(dst, "\nSection: %s\nPriority: optional\nHomepage: https://%s.org/\nDescription:", list, id)
	return appendWords(dst, rng, start, size)
}

// appendWords fills dst with wrapped description lines until the value
// begun at start is exactly size bytes long.
func appendWords(dst []byte, rng *rand.Rand, start, size int) []byte {
	line := 12
	for len(dst)-start < size {
		w := words[rng.IntN(len(words))]
		if line+1+len(w) > 72 {
			dst = append(dst, "\n "...)
			line = 1
		}
		dst = append(dst, ' ')
		dst = append(dst, w...)
		line += 1 + len(w)
	}
	dst = dst[:start+size]
	dst[len(dst)-1] = '\n'
	return dst
}

// TextValue appends a description of exactly size bytes fixed by (seed, i):
// the values of the fragmentation and commit workloads.
func TextValue(dst []byte, seed uint64, i, size int) []byte {
	rng := rand.New(rand.NewPCG(seed^0x74657874, uint64(i)))
	start := len(dst)
	dst = append(dst, "Description:"...)
	return appendWords(dst, rng, start, size)
}

// Tiny is the tiny-record shape: list "tiny", 16-byte ids in increasing
// order, 100-byte random values.
const tinyList, tinyValueSize = "tiny", 100

// TinyID is the id of tiny record i.
func TinyID(i int) string { return fmt.Sprintf("%016x", uint64(i)) }

// TinyValue appends the value of tiny record i to dst.
func TinyValue(dst []byte, seed uint64, i int) []byte {
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	for range tinyValueSize / 8 {
		dst = fmt.Appendf(dst, "%08x", rng.Uint32())
	}
	return append(dst, "tiny"...)
}

// hugeReader streams size pseudo-random bytes fixed by seed, so a huge value
// can be written without ever being held (ChaCha8 runs at GB/s).
type hugeReader struct {
	src  *rand.ChaCha8
	left int64
}

func newHugeReader(seed uint64, size int64) *hugeReader {
	var s [32]byte
	for i := range 4 {
		for j := range 8 {
			s[i*8+j] = byte(seed >> (8 * j))
		}
	}
	return &hugeReader{src: rand.NewChaCha8(s), left: size}
}

func (h *hugeReader) Read(p []byte) (int, error) {
	if h.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), h.left)]
	h.src.Read(p)
	h.left -= int64(len(p))
	return len(p), nil
}
