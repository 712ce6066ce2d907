package mmeb

import (
	"encoding/binary"
	"math/bits"
)

// Quirks reproduces two defects of the reference's scoring
// (src/utils/eval_utils/metrics.py and eval.py), for comparing with its
// published numbers. The default scoring (no quirks) is the correct one;
// docs/mmeb.md lists the measured differences.
type Quirks struct {
	// LabelSetOrder pairs graded relevances with labels the way the
	// reference does: it de-duplicates the labels through a Python set and
	// zips the set's iteration order with the grades in their original
	// order, so a query with several graded documents can credit a grade
	// to the wrong document. The set order is CPython 3.11's for
	// PythonHashSeed.
	LabelSetOrder bool
	// PythonHashSeed is the PYTHONHASHSEED the set order is computed for
	// (0: hash randomisation off). The reference ran with random seeds,
	// so its own numbers moved between runs; sweeping this shows by how
	// much.
	PythonHashSeed uint32
	// NumpyTies orders candidates with equal scores as numpy's scalar
	// argsort (introsort, not stable) does, instead of keeping the earlier
	// candidate first. This is numpy 1.26's order on CPUs without
	// AVX-512; with AVX-512 numpy switches to a vectorised sort whose tie
	// order is not reproduced here.
	NumpyTies bool
}

// scrambledGrades pairs grades with labels as the reference's metrics do:
// labels = list(set(labels)) in CPython's order, then dict(zip(labels,
// grades)) with the grades still in their original order (zip stops at
// the shorter list).
func scrambledGrades(labels []string, grades []float64, seed uint32) ([]string, []float64) {
	order := pySetOrder(labels, seed)
	n := min(len(order), len(grades))
	return order[:n], grades[:n]
}

// scores32 is each candidate's dot product with q as float32, the type
// the reference's numpy scores have (summed in float64 here, then
// rounded, so identical candidates still tie exactly).
func scores32(q []float32, cands [][]float32) []float32 {
	d := dots(q, cands)
	out := make([]float32, len(d))
	for i, s := range d {
		out[i] = float32(s)
	}
	return out
}

// pyHashKey is the SipHash key CPython derives from PYTHONHASHSEED: zero
// for 0, else 16 bytes of its linear congruential generator.
func pyHashKey(seed uint32) (k0, k1 uint64) {
	if seed == 0 {
		return 0, 0
	}
	var b [16]byte
	x := seed
	for i := range b {
		x = x*214013 + 2531011
		b[i] = byte(x >> 16)
	}
	return binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
}

// pyStrHash is hash(s) for a Python 3.11+ str: SipHash-1-3 over the
// string's internal representation (one byte per character when all are
// below U+0100, else two or four bytes, little-endian), -1 mapped to -2.
func pyStrHash(s string, k0, k1 uint64) int64 {
	rs := []rune(s)
	if len(rs) == 0 {
		return 0
	}
	width := 1
	for _, r := range rs {
		switch {
		case r > 0xffff:
			width = 4
		case r > 0xff && width < 2:
			width = 2
		}
	}
	buf := make([]byte, 0, len(rs)*width)
	for _, r := range rs {
		switch width {
		case 1:
			buf = append(buf, byte(r))
		case 2:
			buf = binary.LittleEndian.AppendUint16(buf, uint16(r))
		default:
			buf = binary.LittleEndian.AppendUint32(buf, uint32(r))
		}
	}
	h := int64(sipHash13(k0, k1, buf))
	if h == -1 {
		h = -2
	}
	return h
}

// sipHash13 is SipHash with one compression and three finalisation rounds.
func sipHash13(k0, k1 uint64, p []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v2 += v3
		v1 = bits.RotateLeft64(v1, 13) ^ v0
		v3 = bits.RotateLeft64(v3, 16) ^ v2
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v1
		v0 += v3
		v1 = bits.RotateLeft64(v1, 17) ^ v2
		v3 = bits.RotateLeft64(v3, 21) ^ v0
		v2 = bits.RotateLeft64(v2, 32)
	}
	b := uint64(len(p)) << 56
	for ; len(p) >= 8; p = p[8:] {
		m := binary.LittleEndian.Uint64(p)
		v3 ^= m
		round()
		v0 ^= m
	}
	for i, c := range p {
		b |= uint64(c) << (8 * i)
	}
	v3 ^= b
	round()
	v0 ^= b
	v2 ^= 0xff
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}

// pySetOrder returns list(set(keys)) as CPython 3.11 orders it: keys are
// added one by one to an open-addressing table (8 slots to start, linear
// probing over up to 9 neighbours then perturbed jumps, grown to hold 4x
// the entries once 3/5 full) and read back in slot order.
func pySetOrder(keys []string, seed uint32) []string {
	k0, k1 := pyHashKey(seed)
	type slot struct {
		key  string
		hash int64
		used bool
	}
	const linearProbes = 9
	table := make([]slot, 8)
	n := 0
	insert := func(t []slot, key string, h int64) bool { // false: already present
		mask := uint64(len(t) - 1)
		i := uint64(h) & mask
		perturb := uint64(h)
		for {
			probes := 0
			if i+linearProbes <= mask {
				probes = linearProbes
			}
			for j := uint64(0); j <= uint64(probes); j++ {
				e := &t[i+j]
				if !e.used {
					*e = slot{key, h, true}
					return true
				}
				if e.hash == h && e.key == key {
					return false
				}
			}
			perturb >>= 5
			i = (i*5 + 1 + perturb) & mask
		}
	}
	for _, k := range keys {
		h := pyStrHash(k, k0, k1)
		if !insert(table, k, h) {
			continue
		}
		n++
		if mask := len(table) - 1; n*5 >= mask*3 { // fill == used: nothing is ever removed
			min := n * 4
			if n > 50000 {
				min = n * 2
			}
			size := 8
			for size <= min {
				size <<= 1
			}
			grown := make([]slot, size)
			for _, e := range table {
				if e.used {
					insert(grown, e.key, e.hash)
				}
			}
			table = grown
		}
	}
	out := make([]string, 0, n)
	for _, e := range table {
		if e.used {
			out = append(out, e.key)
		}
	}
	return out
}

// numpyArgsortDesc returns np.argsort(-scores) as numpy's scalar
// introsort computes it for float32: median-of-three quicksort down to
// runs of 16 or fewer, insertion sort below, heapsort past 2*floor(log2 n)
// partition levels; NaN sorts last.
func numpyArgsortDesc(scores []float32) []int {
	v := make([]float32, len(scores))
	for i, s := range scores {
		v[i] = -s
	}
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	less := func(a, b float32) bool { return a < b || (b != b && a == a) }
	depth := 0
	for n := len(v); n > 1; n >>= 1 {
		depth++
	}
	var sortRange func(lo, hi, depth int)
	sortRange = func(lo, hi, depth int) {
		if depth < 0 {
			heapsortIdx(v, idx[lo:hi+1], less)
			return
		}
		for hi-lo > 15 {
			mid := lo + (hi-lo)>>1
			if less(v[idx[mid]], v[idx[lo]]) {
				idx[mid], idx[lo] = idx[lo], idx[mid]
			}
			if less(v[idx[hi]], v[idx[mid]]) {
				idx[hi], idx[mid] = idx[mid], idx[hi]
			}
			if less(v[idx[mid]], v[idx[lo]]) {
				idx[mid], idx[lo] = idx[lo], idx[mid]
			}
			pivot := v[idx[mid]]
			i, j := lo, hi-1
			idx[mid], idx[j] = idx[j], idx[mid]
			for {
				for i++; less(v[idx[i]], pivot); i++ {
				}
				for j--; less(pivot, v[idx[j]]); j-- {
				}
				if i >= j {
					break
				}
				idx[i], idx[j] = idx[j], idx[i]
			}
			idx[i], idx[hi-1] = idx[hi-1], idx[i]
			depth--
			// The larger side is set aside with the lowered depth (which
			// it checks when resumed); the loop goes on with the smaller
			// side without checking it. Disjoint ranges: order is free.
			if i-lo < hi-i {
				sortRange(i+1, hi, depth)
				hi = i - 1
			} else {
				sortRange(lo, i-1, depth)
				lo = i + 1
			}
		}
		for i := lo + 1; i <= hi; i++ {
			x := idx[i]
			j := i
			for j > lo && less(v[x], v[idx[j-1]]) {
				idx[j] = idx[j-1]
				j--
			}
			idx[j] = x
		}
	}
	if len(v) > 1 {
		sortRange(0, len(v)-1, depth*2)
	}
	return idx
}

// heapsortIdx sorts a (indices into v) by v as numpy's scalar argsort
// heapsort does (1-based sift-down heap).
func heapsortIdx(v []float32, a []int, less func(x, y float32) bool) {
	n := len(a)
	at := func(i int) *int { return &a[i-1] }
	sift := func(i, n, tmp int) {
		j := i * 2
		for j <= n {
			if j < n && less(v[*at(j)], v[*at(j + 1)]) {
				j++
			}
			if !less(v[tmp], v[*at(j)]) {
				break
			}
			*at(i) = *at(j)
			i = j
			j += j
		}
		*at(i) = tmp
	}
	for l := n >> 1; l > 0; l-- {
		sift(l, n, *at(l))
	}
	for n > 1 {
		tmp := *at(n)
		*at(n) = *at(1)
		n--
		sift(1, n, tmp)
	}
}
