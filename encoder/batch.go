package encoder

import (
	"fmt"

	"github.com/org/vlm2vec/encoder/qwen2vl"
)

// Bucketing: every batch is padded to the configured batch size, its token
// length to the next bucket and its patch count to the next power of two,
// so the number of distinct shapes (each one a compiled program) stays
// small and bounded by the longest input, not by the number of inputs.

// lengthBucket rounds a sequence length up: to a multiple of 8 up to 64,
// of 16 up to 128, of 32 up to 256, then of 128. The decoder's cost grows
// with the padded length, and short prompts are the common case (an image
// query with 16 visual tokens and an instruction is about 33 tokens: padded
// to 64 it cost the 2B-wide training step 30% more than at 40); the steps
// widen with the length so the number of compiled programs stays small (15
// buckets up to 256 tokens).
func lengthBucket(n int) int {
	step := 128
	switch {
	case n <= 16:
		return 16
	case n <= 64:
		step = 8
	case n <= 128:
		step = 16
	case n <= 256:
		step = 32
	}
	return (n + step - 1) / step * step
}

// patchBucket rounds a patch count up to a power of two (at least 64); it
// stays a multiple of the 2x2 merge.
func patchBucket(n int) int {
	b := 64
	for b < n {
		b *= 2
	}
	return b
}

// run pads prepared inputs into one model batch and runs it.
func (e *Encoder) run(rows []*prepared) (*qwen2vl.Output, error) {
	batch, shape, err := e.assemble(rows, e.set.batchSize)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.shapes[shape] = true
	e.mu.Unlock()
	return e.model.Forward(batch)
}

// Batch tokenizes and processes inputs into one padded model batch of size
// rows (>= len(inputs); filler rows are single pad tokens), with the same
// bucketing as Embed. Training code builds its chunks with it.
func (e *Encoder) Batch(inputs []Input, rows int) (*qwen2vl.Batch, error) {
	if rows < len(inputs) {
		return nil, fmt.Errorf("encoder: %d inputs do not fit a batch of %d", len(inputs), rows)
	}
	prepared := make([]*prepared, len(inputs))
	for i, in := range inputs {
		p, err := e.prepare(in)
		if err != nil {
			return nil, fmt.Errorf("encoder: input %d: %w", i, err)
		}
		prepared[i] = p
	}
	b, _, err := e.assemble(prepared, rows)
	return b, err
}

// assemble pads prepared inputs into a batch of b rows (right padding: the
// pooled token is each row's last real token) and names its shape.
func (e *Encoder) assemble(rows []*prepared, b int) (*qwen2vl.Batch, string, error) {
	maxLen := 1
	for _, r := range rows {
		maxLen = max(maxLen, len(r.ids))
	}
	s := lengthBucket(maxLen)
	batch := &qwen2vl.Batch{}
	var grids []qwen2vl.GridTHW
	nextFeat := int32(0)
	merge := e.cfg.VisionConfig.SpatialMergeSize
	for i := 0; i < b; i++ {
		ids := make([]int32, s)
		valid := make([]bool, s)
		src := make([]int32, s)
		for k := range ids {
			ids[k] = int32(e.padID)
			src[k] = -1
		}
		var row *prepared
		if i < len(rows) {
			row = rows[i]
		} else {
			// Filler rows keep the batch shape fixed: one real pad token each.
			row = &prepared{ids: []int32{int32(e.padID)}}
		}
		copy(ids, row.ids)
		grids = append(grids, row.grids...)
		for _, img := range row.images {
			batch.Pixels = appendPatches(batch.Pixels, img)
		}
		for k := range row.ids {
			valid[k] = true
			if len(row.images) > 0 && int(row.ids[k]) == e.imageID {
				src[k] = nextFeat
				nextFeat++
			}
		}
		pos, err := qwen2vl.TextPositions(intIDs(row.ids), row.grids, e.cfg, e.set.positions)
		if err != nil {
			return nil, "", err
		}
		for a := 0; a < 3; a++ {
			p := make([]int32, s)
			copy(p, pos[a])
			batch.Positions[a] = append(batch.Positions[a], p)
		}
		batch.IDs = append(batch.IDs, ids)
		batch.Valid = append(batch.Valid, valid)
		batch.FeatSrc = append(batch.FeatSrc, src)
		batch.Pooled = append(batch.Pooled, int32(len(row.ids)-1))
	}
	shape := fmt.Sprintf("text %dx%d", b, s)
	if len(grids) > 0 {
		batch.RowCol, batch.Segment = qwen2vl.VisionPositions(grids, merge)
		n := len(batch.Pixels)
		nb := patchBucket(n)
		pad := make([]float32, e.cfg.PatchDim())
		for k := n; k < nb; k++ {
			// Padding patches join no attention block (segment -1) and no
			// token reads their merged features.
			batch.Pixels = append(batch.Pixels, pad)
			batch.RowCol = append(batch.RowCol, [2]int32{})
			batch.Segment = append(batch.Segment, -1)
		}
		shape = fmt.Sprintf("vision %dx%d patches %d", b, s, nb)
	} else {
		batch.FeatSrc = nil
	}
	return batch, shape, nil
}

func appendPatches(dst [][]float32, img *qwen2vl.ProcessedImage) [][]float32 {
	for p := 0; p < img.NumPatches; p++ {
		dst = append(dst, img.PixelValues[p*img.PatchDim:(p+1)*img.PatchDim])
	}
	return dst
}

func intIDs(ids []int32) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}
