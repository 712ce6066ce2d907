package clip

import (
	"fmt"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/org/vlm2vec/encoder/layers"
)

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

// Forward is a CLIP family's forward: the visual table its image tokens read
// (from crops [N, grid², patchDim]) and the decoder to the pooled hidden
// states [B, hidden] (float32).
type Forward interface {
	VisualTable(crops *graph.Node) *graph.Node
	Decoder(ids, valid, pooled, visual, featSrc *graph.Node) *graph.Node
}

// Embed builds a CLIP family's forward from Batch.Inputs() nodes (3 for a
// text-only batch, 6 with images) and returns the L2-normalised embeddings
// and the hidden states. newGraph(seeds) builds the family's graph with
// adapter dropout seeded by seeds (nil: off); the vision side gets
// per-crop seeds derived from the examples' (layers.CropSeeds).
func Embed(in []*graph.Node, seeds *graph.Node, newGraph func(seeds *graph.Node) Forward) (emb, hidden *graph.Node) {
	g := newGraph(seeds)
	var visual, featSrc *graph.Node
	switch len(in) {
	case 3:
	case 6:
		vg := g
		if seeds != nil {
			vg = newGraph(layers.CropSeeds(seeds, in[5]))
		}
		visual, featSrc = vg.VisualTable(in[3]), in[4]
	default:
		panic(fmt.Sprintf("clip: embedding graph wants 3 or 6 inputs, got %d", len(in)))
	}
	hidden = g.Decoder(in[0], in[1], in[2], visual, featSrc)
	return layers.NormalizeL2(hidden), hidden
}
