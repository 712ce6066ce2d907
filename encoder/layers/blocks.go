package layers

// Vision attention never crosses an image (or a video's temporal group):
// each such segment is its own attention block. Rather than one N x N
// attention over all patches of a batch with a block-diagonal mask (most of
// it masked out), patches are gathered into [blocks, length] slots, each
// block attends within itself, and the results are gathered back. Block
// count and length are rounded up to powers of two so a stream of batches
// compiles few programs.

// BlockLayout maps segments to attention blocks. segment[i] is patch i's
// segment; a negative id marks a padding patch, which joins no block. It
// returns index [blocks][length] (the patch in each slot, -1 for an empty
// slot) and slot [N] (each patch's flat slot, blocks*length for padding
// patches, which read a zero row). Segments must be contiguous runs.
func BlockLayout(segment []int32) (index [][]int32, slot []int32) {
	type run struct{ start, n int }
	var runs []run
	for i, s := range segment {
		if s < 0 {
			continue
		}
		if len(runs) > 0 && i > 0 && segment[i-1] == s {
			runs[len(runs)-1].n++
			continue
		}
		runs = append(runs, run{i, 1})
	}
	longest := 1
	for _, r := range runs {
		longest = max(longest, r.n)
	}
	length := pow2AtLeast(longest, 16)
	blocks := pow2AtLeast(len(runs), 1)
	index = make([][]int32, blocks)
	for b := range index {
		index[b] = make([]int32, length)
		for l := range index[b] {
			index[b][l] = -1
		}
	}
	slot = make([]int32, len(segment))
	for i := range slot {
		slot[i] = int32(blocks * length)
	}
	for b, r := range runs {
		for k := 0; k < r.n; k++ {
			index[b][k] = int32(r.start + k)
			slot[r.start+k] = int32(b*length + k)
		}
	}
	return index, slot
}

func pow2AtLeast(n, floor int) int {
	p := floor
	for p < n {
		p *= 2
	}
	return p
}
