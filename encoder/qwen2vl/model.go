package qwen2vl

import (
	"fmt"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/layers"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/encoder/safetensors"
)

// Model is a loaded Qwen2-VL backbone that computes pooled hidden states.
// It is safe for concurrent use.
type Model struct {
	*layers.Base[execKind] // weights, adapter, inference programs
	Config                 *Config
	DType                  dtypes.DType

	fused bool // decoder attention through the backend's fused op
}

// execKind selects an inference program: with or without the vision tower,
// and with the explicit attention mask (a batch that is not right-padded)
// or the model's default attention.
type execKind struct{ vision, masked bool }

// LoadOptions tunes Load.
type LoadOptions struct {
	// DType of weights and activations: Float32 (default) or BFloat16.
	// Norms, softmax and rotary tables are float32 either way.
	DType dtypes.DType
	// AllowUnknownConfigFields accepts config.json fields this package does
	// not know instead of failing.
	AllowUnknownConfigFields bool
	// MaxCompiledShapes bounds each executable's cache of compiled shapes.
	MaxCompiledShapes int
	// Adapter, if set, is merged into the base weights at load time (LoRA or
	// DoRA, as PEFT's merge_and_unload does).
	Adapter *peft.Adapter
	// Attention picks the decoder's attention implementation.
	Attention Attention
}

// Attention is the decoder's attention implementation.
type Attention int

const (
	// AttentionAuto uses the backend's fused attention op where it pays:
	// XLA on CUDA in bf16 (cuDNN flash attention). Elsewhere it is
	// AttentionMasked: the Go backend's fused op measured slower than the
	// masked form (5x on the small model, 1.4x at 2B widths, f32).
	AttentionAuto Attention = iota
	// AttentionMasked is the explicit form: float32 scores and softmax with
	// a causal and key-padding mask.
	AttentionMasked
	// AttentionFused uses the backend's fused op wherever it has one (for
	// tests and measurements).
	AttentionFused
)

// Load reads config.json and the safetensors weights of dir. The
// checkpoint must match the config exactly (every tensor present, nothing
// unexpected, shapes right); the error names each problem.
func Load(backend compute.Backend, dir string, opts LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(filepath.Join(dir, "config.json"), opts.AllowUnknownConfigFields)
	if err != nil {
		return nil, err
	}
	ckpt, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		return nil, err
	}
	defer ckpt.Close()
	return FromCheckpoint(backend, cfg, ckpt, opts)
}

// FromCheckpoint builds a Model from a parsed config and an open checkpoint.
func FromCheckpoint(backend compute.Backend, cfg *Config, ckpt *safetensors.Checkpoint, opts LoadOptions) (*Model, error) {
	store, dt, err := layers.LoadStore(ckpt, cfg.weightSet(), opts.DType, opts.Adapter)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, DType: dt}
	m.Base = layers.NewBase("qwen2vl", backend, store, opts.MaxCompiledShapes, func(kind execKind) func(*model.Scope, []*Node) []*Node {
		fused := m.fused && !kind.masked
		return func(scope *model.Scope, in []*Node) []*Node {
			emb, hidden := m.embedWith(scope, in, nil, fused)
			return []*Node{hidden, emb}
		}
	})
	hasFused := backend.Capabilities().Operations[compute.OpTypeFusedScaledDotProductAttention]
	switch opts.Attention {
	case AttentionAuto:
		m.fused = hasFused && !layers.IsGoBackend(backend) && dt == dtypes.BFloat16
	case AttentionFused:
		m.fused = hasFused
	case AttentionMasked:
	default:
		return nil, fmt.Errorf("qwen2vl: unknown attention %d", opts.Attention)
	}
	return m, nil
}

// embed builds the whole forward from Batch.Inputs() nodes: 4 inputs for a
// text-only batch, 8 with images. seeds, when not nil, are per-example
// dropout seeds [B] for the adapter.
func (m *Model) embed(scope *model.Scope, in []*Node, seeds *Node) (emb, hidden *Node) {
	return m.embedWith(scope, in, seeds, m.fused)
}

// embedWith is embed with the decoder's attention path chosen.
func (m *Model) embedWith(scope *model.Scope, in []*Node, seeds *Node, fused bool) (emb, hidden *Node) {
	n := newNet(scope, m.Config, m.DType, m.AdapterGraph(seeds), fused)
	var visual, featSrc *Node
	if len(in) == 9 {
		visual = n.visionTower(in[4], in[5], in[6], in[7])
		featSrc = in[8]
	} else if len(in) != 4 {
		panic(fmt.Sprintf("qwen2vl: embedding graph wants 4 or 9 inputs, got %d", len(in)))
	}
	hidden = n.decoder(in[0], in[1], in[2], in[3], visual, featSrc)
	return layers.NormalizeL2(hidden), hidden
}

// EmbedGraph builds the embedding computation inside a caller's graph (for
// training): inputs are the nodes of Batch.Inputs(); dropoutSeeds [B]
// (uint32, one per example) switch the adapter's dropout on, nil leaves it
// off. It returns the L2-normalised embeddings [B, hidden] in float32. The
// batches must be right-padded (Batch.RightPadded), as encoder.Batch makes
// them.
func (m *Model) EmbedGraph(scope *model.Scope, inputs []*Node, dropoutSeeds *Node) *Node {
	emb, _ := m.embed(scope, inputs, dropoutSeeds)
	return emb
}

// Batch is one forward pass worth of inputs, already padded.
type Batch struct {
	// IDs [B][S] token ids; Valid marks real (non-pad) tokens.
	IDs   [][]int32
	Valid [][]bool
	// Positions [3][B][S] M-RoPE position ids.
	Positions [3][][]int32
	// Pooled [B] index of the token whose hidden state is the embedding.
	Pooled []int32

	// Vision inputs, empty for a text-only batch.
	Pixels  [][]float32 // [N][patchDim]
	RowCol  [][2]int32  // [N] rotary positions
	Segment []int32     // [N] attention segments
	FeatSrc [][]int32   // [B][S] merged-feature row feeding each token, or -1

	shape string // the program's name, set by Backbone.Assemble
}

// Shape names the compiled program the batch runs (family.Batch).
func (b *Batch) Shape() string { return b.shape }

// Output holds the pooled final-norm hidden states and their L2-normalised
// embeddings, both [B][hidden].
type Output = family.Output

// Validate checks the batch's layout: at least one row, rows of one
// length, at least one real token per row and the pooled index on one.
func (b *Batch) Validate() error {
	if len(b.IDs) == 0 {
		return fmt.Errorf("qwen2vl: empty batch")
	}
	s := len(b.IDs[0])
	if len(b.Valid) != len(b.IDs) || len(b.Pooled) != len(b.IDs) {
		return fmt.Errorf("qwen2vl: batch of %d rows has %d validity rows and %d pooled indices", len(b.IDs), len(b.Valid), len(b.Pooled))
	}
	for r := range b.IDs {
		if len(b.IDs[r]) != s || len(b.Valid[r]) != s {
			return fmt.Errorf("qwen2vl: batch row %d has %d ids and %d validity flags, row 0 has %d", r, len(b.IDs[r]), len(b.Valid[r]), s)
		}
		if p := int(b.Pooled[r]); p < 0 || p >= s || !b.Valid[r][p] {
			return fmt.Errorf("qwen2vl: batch row %d pools token %d, which is not a real token", r, p)
		}
	}
	return nil
}

// RightPadded reports whether every row's real tokens come first (Valid is
// a prefix), the layout the encoder builds and the fused causal attention
// path requires (see causalAttention). EmbedGraph assumes it.
func (b *Batch) RightPadded() bool {
	for _, row := range b.Valid {
		for k := 1; k < len(row); k++ {
			if row[k] && !row[k-1] {
				return false
			}
		}
	}
	return true
}

// Inputs converts the batch into the model's input tensors, in the order
// EmbedGraph expects them.
func (b *Batch) Inputs() []any {
	rows, seq := len(b.IDs), 0
	if rows > 0 {
		seq = len(b.IDs[0])
	}
	args := []any{
		flat2(b.IDs, rows, seq),
		flat3(b.Positions, rows, seq),
		flatBool(b.Valid, rows, seq),
		tensors.FromValue(b.Pooled),
	}
	if len(b.Pixels) > 0 {
		// One flat copy: converting [][]float32 row by row (shape inference
		// per row) cost more than the small model's forward pass.
		dim := len(b.Pixels[0])
		pix := make([]float32, 0, len(b.Pixels)*dim)
		for _, p := range b.Pixels {
			pix = append(pix, p...)
		}
		rc := make([]int32, 0, 2*len(b.RowCol))
		for _, p := range b.RowCol {
			rc = append(rc, p[0], p[1])
		}
		index, slot := layers.BlockLayout(b.Segment)
		args = append(args,
			tensors.FromFlatDataAndDimensions(pix, len(b.Pixels), dim),
			tensors.FromFlatDataAndDimensions(rc, len(b.RowCol), 2),
			flat2(index, len(index), len(index[0])),
			tensors.FromValue(slot),
			flat2(b.FeatSrc, rows, seq))
	}
	return args
}

// ShardAxes says how the inputs of Inputs split over devices for data
// parallelism (gradcache.Sharder): rows of the token tensors, M-RoPE
// positions along their batch axis, patch rows of the vision tensors; the
// attention block layout stays whole.
func (m *Model) ShardAxes(inputs []any) []int {
	axes := []int{0, 1, 0, 0, 0, 0, -1, 0, 0}
	if len(inputs) < len(axes) {
		return axes[:len(inputs)]
	}
	return axes
}

func flat2(x [][]int32, rows, cols int) *tensors.Tensor {
	out := make([]int32, 0, rows*cols)
	for _, r := range x {
		out = append(out, r...)
	}
	return tensors.FromFlatDataAndDimensions(out, rows, cols)
}

func flat3(x [3][][]int32, rows, cols int) *tensors.Tensor {
	out := make([]int32, 0, 3*rows*cols)
	for _, plane := range x {
		for _, r := range plane {
			out = append(out, r...)
		}
	}
	return tensors.FromFlatDataAndDimensions(out, 3, rows, cols)
}

func flatBool(x [][]bool, rows, cols int) *tensors.Tensor {
	out := make([]bool, 0, rows*cols)
	for _, r := range x {
		out = append(out, r...)
	}
	return tensors.FromFlatDataAndDimensions(out, rows, cols)
}

// Forward runs the batch.
func (m *Model) Forward(b *Batch) (*Output, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	hidden, emb, err := m.Run(execKind{vision: len(b.Pixels) > 0, masked: !b.RightPadded()}, b.Inputs()...)
	if err != nil {
		return nil, err
	}
	return &Output{Hidden: hidden, Embeddings: emb}, nil
}
