package clip

import "github.com/gomlx/gomlx/core/tensors"

// Batch is one forward pass of a family whose image tokens read rows of a
// visual table computed from CLIP crops (LLaVA-NeXT, Phi-3-V): token rows
// right-padded, the crops of every image, and per token the table row
// feeding it. The table's layout (which rows follow the crops' features)
// is the family's.
type Batch struct {
	IDs    [][]int32
	Valid  [][]bool
	Pooled []int32
	// Crops [N][grid²·channels·patch²]: every crop of every image in the
	// Im2Col layout; empty for a text-only batch.
	Crops [][]float32
	// FeatSrc [B][S]: the visual-table row feeding each token, or -1.
	FeatSrc [][]int32
	// CropRef [N]: each crop's example (row) and its index among that
	// example's crops; the vision tower's adapter dropout is seeded from
	// them (layers.CropSeeds). Filler crops point at row 0 with an index
	// past every real crop's.
	CropRef [][2]int32

	// Grid is the tower's patch grid side, PatchDim channels·patch².
	Grid, PatchDim int
	// Name names the compiled program the batch runs.
	Name string
}

// Shape names the compiled program the batch runs (family.Batch).
func (b *Batch) Shape() string { return b.Name }

// HasImages reports whether the batch carries crops.
func (b *Batch) HasImages() bool { return len(b.Crops) > 0 }

// Inputs converts the batch into the model's input tensors: ids, valid,
// pooled, and with images crops [N, grid², patchDim], featSrc and cropRef
// [N, 2].
func (b *Batch) Inputs() []any {
	rows, seq := len(b.IDs), len(b.IDs[0])
	ids := make([]int32, 0, rows*seq)
	valid := make([]bool, 0, rows*seq)
	for r := range b.IDs {
		ids = append(ids, b.IDs[r]...)
		valid = append(valid, b.Valid[r]...)
	}
	args := []any{
		tensors.FromFlatDataAndDimensions(ids, rows, seq),
		tensors.FromFlatDataAndDimensions(valid, rows, seq),
		tensors.FromValue(b.Pooled),
	}
	if b.HasImages() {
		flat := make([]float32, 0, len(b.Crops)*len(b.Crops[0]))
		for _, c := range b.Crops {
			flat = append(flat, c...)
		}
		src := make([]int32, 0, rows*seq)
		for _, r := range b.FeatSrc {
			src = append(src, r...)
		}
		ref := make([]int32, 0, 2*len(b.CropRef))
		for _, r := range b.CropRef {
			ref = append(ref, r[0], r[1])
		}
		args = append(args,
			tensors.FromFlatDataAndDimensions(flat, len(b.Crops), b.Grid*b.Grid, b.PatchDim),
			tensors.FromFlatDataAndDimensions(src, rows, seq),
			tensors.FromFlatDataAndDimensions(ref, len(b.CropRef), 2))
	}
	return args
}

// ShardAxes says how Inputs split over devices (gradcache.Sharder): rows
// of the token tensors; crops and their references stay whole (FeatSrc
// addresses their features across rows).
func ShardAxes(inputs []any) []int {
	axes := []int{0, 0, 0, -1, 0, -1}
	return axes[:min(len(inputs), len(axes))]
}
