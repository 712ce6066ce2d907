package llavanext

import (
	"fmt"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/clip"
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/layers"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/encoder/safetensors"
)

// Model is a loaded LLaVA-NeXT backbone that computes pooled hidden states.
// It is safe for concurrent use.
type Model struct {
	*layers.Base[bool] // programs by "has images"
	Config             *Config
	DType              dtypes.DType
}

// LoadOptions tunes Load.
type LoadOptions struct {
	// DType of weights and activations: Float32 (default) or BFloat16.
	DType                    dtypes.DType
	AllowUnknownConfigFields bool
	MaxCompiledShapes        int
	// Adapter, if set, is merged into the base weights at load time.
	Adapter *peft.Adapter
}

// Load reads config.json and the safetensors weights of dir.
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
	store, dt, err := layers.LoadStore(ckpt, cfg.weightSet(), opts.DType, opts.Adapter)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, DType: dt}
	m.Base = layers.NewBase("llavanext", backend, store, opts.MaxCompiledShapes, func(bool) func(*model.Scope, []*Node) []*Node {
		return func(scope *model.Scope, in []*Node) []*Node {
			emb, hidden := m.embed(scope, in, nil)
			return []*Node{hidden, emb}
		}
	})
	return m, nil
}

// embed builds the forward from Batch.Inputs() nodes: 3 for a text-only
// batch (ids, valid, pooled), 6 with images (+ crops, featSrc, cropRef).
// With dropout seeds [B], the vision side's adapter layers draw their
// masks from per-crop seeds (layers.CropSeeds).
func (m *Model) embed(scope *model.Scope, in []*Node, seeds *Node) (emb, hidden *Node) {
	return clip.Embed(in, seeds, func(seeds *Node) clip.Forward {
		return newNet(scope, m.Config, m.DType, m.AdapterGraph(seeds))
	})
}

// EmbedGraph builds the embedding computation inside a caller's graph (for
// training); dropoutSeeds [B] switch adapter dropout on.
func (m *Model) EmbedGraph(scope *model.Scope, inputs []*Node, dropoutSeeds *Node) *Node {
	emb, _ := m.embed(scope, inputs, dropoutSeeds)
	return emb
}

// AttachLoRA adds trainable adapter variables on the linear layers the
// target names match (see layers.AttachAdapter): VLM2Vec's LLaVA targets
// (q/k/v/o_proj, down_proj) adapt the decoder and CLIP's attention
// projections alike. Vision-side layers draw dropout masks per crop.
func (m *Model) AttachLoRA(cfg peft.Config, from *peft.Adapter, seed uint64) error {
	return m.Attach(cfg, from, seed, layers.AttachOptions{
		Modules:   m.Config.LinearModules(),
		Canonical: func(mod string) string { return layers.TrimWeight(canonicalName(mod + ".weight")) },
	})
}

// Batch is one forward pass worth of inputs (see Backbone.Assemble for the
// visual table's layout).
type Batch = clip.Batch

// ShardAxes says how the inputs split over devices (gradcache.Sharder).
func (m *Model) ShardAxes(inputs []any) []int { return clip.ShardAxes(inputs) }

// Forward runs the batch.
func (m *Model) Forward(b *Batch) (*family.Output, error) {
	if len(b.IDs) == 0 {
		return nil, fmt.Errorf("llavanext: empty batch")
	}
	hidden, emb, err := m.Run(b.HasImages(), b.Inputs()...)
	if err != nil {
		return nil, err
	}
	return &family.Output{Hidden: hidden, Embeddings: emb}, nil
}
