package layers

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

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

// Blocks is BlockLayout's map inside a graph: index [blocks, length] and
// slot [N] as nodes, ready to run attention per block over rows of N.
type Blocks struct {
	gather, scatter, keyMask *Node
	blocks, length           int
}

// NewBlocks builds the gather/scatter maps and the key mask of empty slots.
func NewBlocks(index, slot *Node) *Blocks {
	blocks, length := index.Shape().Dimensions[0], index.Shape().Dimensions[1]
	n := slot.Shape().Dimensions[0]
	idx := ConvertDType(index, dtypes.Int32)
	valid := GreaterOrEqual(idx, ZerosLike(idx)) // [blocks, length]
	return &Blocks{
		gather:  Reshape(Max(idx, ZerosLike(idx)), blocks*length, 1), // empty slots read row 0, then are masked
		scatter: Reshape(ConvertDType(slot, dtypes.Int32), n, 1),
		keyMask: BroadcastToDims(Reshape(valid, blocks, 1, 1, length), blocks, 1, length, length),
		blocks:  blocks, length: length,
	}
}

// Attend is softmax attention within each block over rows q, k, v
// [N, heads, hd]; it returns [N, heads*hd] in row order (padding rows, in
// no block, get zeros).
func (b *Blocks) Attend(q, k, v *Node) *Node {
	nh, hd := q.Shape().Dimensions[1], q.Shape().Dimensions[2]
	split := func(x *Node) *Node {
		return TransposeAllDims(Reshape(Gather(x, b.gather), b.blocks, b.length, nh, hd), 0, 2, 1, 3)
	}
	a := Attention(split(q), split(k), split(v), b.keyMask) // [blocks, nh, length, hd]
	a = Reshape(TransposeAllDims(a, 0, 2, 1, 3), b.blocks*b.length, nh*hd)
	a = Concatenate([]*Node{a, ZerosLike(Slice(a, AxisRange(0, 1)))}, 0)
	return Gather(a, b.scatter)
}
