package qwen3vl

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/layers"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/encoder/qwen2vl"
	"github.com/org/vlm2vec/encoder/safetensors"
)

// Model is a loaded Qwen3-VL backbone that computes pooled hidden states.
// It is safe for concurrent use.
type Model struct {
	*layers.Base[execKind]
	Config *Config
	DType  dtypes.DType
	fused  bool
}

// execKind selects an inference program: with or without the vision tower,
// with the explicit attention mask or the model's default attention.
type execKind struct{ vision, masked bool }

// LoadOptions tunes Load.
type LoadOptions struct {
	// DType of weights and activations: Float32 (default) or BFloat16.
	DType                    dtypes.DType
	AllowUnknownConfigFields bool
	MaxCompiledShapes        int
	// Adapter, if set, is merged into the base weights at load time.
	Adapter *peft.Adapter
}

// Load reads config.json and the safetensors weights of dir; the
// checkpoint must match the config exactly.
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
	set := cfg.weightSet()
	if cfg.TieWordEmbeddings {
		// A tied head is written out by some savers and left out by others.
		for _, n := range ckpt.Names() {
			if n == "lm_head.weight" {
				set.Expected[n] = []int{cfg.TextConfig.VocabSize, cfg.TextConfig.HiddenSize}
			}
		}
	}
	store, dt, err := layers.LoadStore(ckpt, set, opts.DType, opts.Adapter)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, DType: dt}
	m.Base = layers.NewBase("qwen3vl", backend, store, opts.MaxCompiledShapes, func(kind execKind) func(*model.Scope, []*Node) []*Node {
		fused := m.fused && !kind.masked
		return func(scope *model.Scope, in []*Node) []*Node {
			emb, hidden := m.embedWith(scope, in, nil, fused)
			return []*Node{hidden, emb}
		}
	})
	// As Qwen2-VL: the backend's fused attention only where it pays (XLA
	// on CUDA in bf16).
	m.fused = backend.Capabilities().Operations[compute.OpTypeFusedScaledDotProductAttention] && !layers.IsGoBackend(backend) && dt == dtypes.BFloat16
	return m, nil
}

// numInputs of a text-only batch and of one with visuals.
const (
	textInputs      = 4
	numVisionInputs = 11
)

func (m *Model) embedWith(scope *model.Scope, in []*Node, seeds *Node, fused bool) (emb, hidden *Node) {
	n := newNet(scope, m.Config, m.DType, m.AdapterGraph(seeds), fused)
	var visual, featSrc *Node
	var deepstack []*Node
	switch len(in) {
	case textInputs:
	case numVisionInputs:
		visual, deepstack = n.visionTower(visionInputsOf(in))
		featSrc = in[10]
	default:
		panic(fmt.Sprintf("qwen3vl: embedding graph wants %d or %d inputs, got %d", textInputs, numVisionInputs, len(in)))
	}
	hidden = n.decoder(in[0], in[1], in[2], in[3], visual, deepstack, featSrc)
	return layers.NormalizeL2(hidden), hidden
}

func visionInputsOf(in []*Node) visionInputs {
	return visionInputs{pixels: in[4], rowCol: in[5], blockIndex: in[6], blockSlot: in[7], posIdx: in[8], posWeight: in[9]}
}

// EmbedGraph builds the embedding computation inside a caller's graph (for
// training) from Batch.Inputs() nodes; dropoutSeeds [B] switch the
// adapter's dropout on. It returns L2-normalised embeddings [B, hidden].
func (m *Model) EmbedGraph(scope *model.Scope, inputs []*Node, dropoutSeeds *Node) *Node {
	emb, _ := m.embedWith(scope, inputs, dropoutSeeds, m.fused)
	return emb
}

// ShardAxes says how Inputs split over devices: rows of the token tensors,
// M-RoPE positions along their batch axis, patch rows of the vision
// tensors; the attention block layout stays whole.
func (m *Model) ShardAxes(inputs []any) []int {
	axes := []int{0, 1, 0, 0, 0, 0, -1, 0, 0, 0, 0}
	return axes[:min(len(inputs), len(axes))]
}

// AttachLoRA adds trainable adapter variables to the decoder's linear
// layers (see layers.AttachAdapter); the vision tower is refused.
func (m *Model) AttachLoRA(cfg peft.Config, from *peft.Adapter, seed uint64) error {
	return m.Attach(cfg, from, seed, layers.AttachOptions{
		Modules: m.Config.LinearModules(),
		Refuse: func(mod string) error {
			if strings.HasPrefix(mod, "visual.") {
				return fmt.Errorf("qwen3vl: target_modules %v match vision-tower layer %s; adapters on the vision tower are not supported", cfg.TargetModules, mod)
			}
			return nil
		},
		Canonical: func(mod string) string { return layers.TrimWeight(qwen2vl.CanonicalName(mod + ".weight")) },
		Prefix:    "qwen3vl",
	})
}

// Batch is one forward pass worth of inputs, already padded: Qwen2-VL's
// batch plus the position-table taps of each patch.
type Batch struct {
	qwen2vl.Batch
	// PosIdx and PosWeight [N][4] are each patch's bilinear taps into the
	// learned vision position table.
	PosIdx    [][4]int32
	PosWeight [][4]float32
	shape     string
}

// Shape names the compiled program the batch runs (family.Batch).
func (b *Batch) Shape() string { return b.shape }

// Inputs converts the batch into the model's input tensors, in the order
// EmbedGraph expects them.
func (b *Batch) Inputs() []any {
	args := b.Batch.Inputs()
	if len(b.Pixels) == 0 {
		return args
	}
	idx := make([]int32, 0, 4*len(b.PosIdx))
	w := make([]float32, 0, 4*len(b.PosWeight))
	for i := range b.PosIdx {
		idx = append(idx, b.PosIdx[i][:]...)
		w = append(w, b.PosWeight[i][:]...)
	}
	featSrc := args[len(args)-1]
	args = append(args[:len(args)-1],
		tensors.FromFlatDataAndDimensions(idx, len(b.PosIdx), 4),
		tensors.FromFlatDataAndDimensions(w, len(b.PosWeight), 4),
		featSrc)
	return args
}

// Forward runs the batch.
func (m *Model) Forward(b *Batch) (*family.Output, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	hidden, emb, err := m.Run(execKind{vision: len(b.Pixels) > 0, masked: !b.RightPadded()}, b.Inputs()...)
	if err != nil {
		return nil, err
	}
	return &family.Output{Hidden: hidden, Embeddings: emb}, nil
}
