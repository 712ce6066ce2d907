package phi3v

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"

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

// Model is a loaded Phi-3-V backbone that computes pooled hidden states.
// It is safe for concurrent use.
type Model struct {
	Config *Config
	DType  dtypes.DType

	backend  compute.Backend
	store    *model.Store
	maxCache int
	adapter  *layers.Adapter

	mu    sync.Mutex
	execs map[bool]*model.Exec // by "has images"
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
	dt := opts.DType
	if dt == dtypes.InvalidDType {
		dt = dtypes.Float32
	}
	if dt != dtypes.Float32 && dt != dtypes.BFloat16 {
		return nil, fmt.Errorf("phi3v: dtype %s unsupported (Float32 or BFloat16)", dt)
	}
	_, alias := ckpt.Info(wteAlias)
	store := model.NewStore()
	if err := layers.LoadWeights(store, ckpt, cfg.weightSet(alias), dt, opts.Adapter); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, DType: dt, backend: backend, store: store, maxCache: opts.MaxCompiledShapes}
	if m.maxCache <= 0 {
		m.maxCache = 32
	}
	return m, m.Refresh()
}

// Refresh drops the inference programs; call it after weights change.
func (m *Model) Refresh() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.execs {
		e.Finalize()
	}
	m.execs = map[bool]*model.Exec{}
	return nil
}

// embed builds the forward from Batch.Inputs() nodes: 3 for a text-only
// batch (ids, valid, pooled), 5 with images (+ crops, featSrc).
func (m *Model) embed(scope *model.Scope, in []*Node, seeds *Node) (emb, hidden *Node) {
	var adapter *layers.AdapterGraph
	if m.adapter != nil {
		adapter = m.adapter.Graph(seeds)
	}
	n := newNet(scope, m.Config, m.DType, adapter)
	var visual, featSrc *Node
	switch len(in) {
	case 3:
	case 5:
		visual, featSrc = n.visualTable(in[3]), in[4]
	default:
		panic(fmt.Sprintf("phi3v: embedding graph wants 3 or 5 inputs, got %d", len(in)))
	}
	hidden = n.decoder(in[0], in[1], in[2], visual, featSrc)
	return layers.NormalizeL2(hidden), hidden
}

// EmbedGraph builds the embedding computation inside a caller's graph (for
// training); dropoutSeeds [B] switch adapter dropout on.
func (m *Model) EmbedGraph(scope *model.Scope, inputs []*Node, dropoutSeeds *Node) *Node {
	emb, _ := m.embed(scope, inputs, dropoutSeeds)
	return emb
}

// SetFullFineTuning makes every weight trainable.
func (m *Model) SetFullFineTuning() {
	for v := range m.store.IterVariables() {
		v.SetTrainable(true)
	}
}

// Store exposes the weights.
func (m *Model) Store() *model.Store { return m.store }

// Backend is the compute backend the model runs on.
func (m *Model) Backend() compute.Backend { return m.backend }

// TrainableVariables lists the variables an optimizer should update.
func (m *Model) TrainableVariables() []*model.Variable { return layers.TrainableVariables(m.store) }

// AttachLoRA adds trainable adapter variables on the decoder's linear
// layers (see layers.AttachAdapter). Layers of the vision tower and the
// image projection are refused: their rows are crops, not examples, so
// per-example dropout has no meaning there; merge such adapters at load
// instead. VLM2Vec's default target list also names CLIP's q/k/v/out_proj,
// so pass the decoder's modules (qkv_proj, o_proj, gate_up_proj,
// down_proj) explicitly.
func (m *Model) AttachLoRA(cfg peft.Config, from *peft.Adapter, seed uint64) error {
	if m.adapter != nil {
		return fmt.Errorf("phi3v: the model already has an adapter attached")
	}
	a, err := layers.AttachAdapter(m.store, cfg, from, seed, layers.AttachOptions{
		Modules: m.Config.LinearModules(),
		Refuse: func(mod string) error {
			if strings.HasPrefix(mod, imagePrefix) {
				return fmt.Errorf("phi3v: target_modules %v match %s outside the decoder; train adapters on the decoder only (vision-tower adapters can be merged at load)", cfg.TargetModules, mod)
			}
			return nil
		},
		Prefix: "phi3v",
	})
	if err != nil {
		return err
	}
	m.adapter = a
	return nil
}

// Adapter reads the trained adapter back, in PEFT's layout.
func (m *Model) Adapter() (*peft.Adapter, error) {
	if m.adapter == nil {
		return nil, fmt.Errorf("phi3v: no adapter attached")
	}
	return m.adapter.Read(m.store)
}

// Batch is one forward pass worth of inputs, right-padded.
type Batch struct {
	IDs    [][]int32
	Valid  [][]bool
	Pooled []int32
	// Crops [N][576·3·14²]: every image's global crop then its local
	// crops, patches flattened for the patch embedding (clip.Im2Col);
	// empty for a text-only batch.
	Crops [][]float32
	// FeatSrc [B][S]: the visual-table row feeding each token (merged crop
	// features in order, then sub_GN, then glb_GN), or -1.
	FeatSrc [][]int32

	grid, patchDim int
	shape          string
}

// Shape names the compiled program the batch runs.
func (b *Batch) Shape() string { return b.shape }

// Inputs converts the batch into the model's input tensors.
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
	if len(b.Crops) > 0 {
		flat := make([]float32, 0, len(b.Crops)*len(b.Crops[0]))
		for _, c := range b.Crops {
			flat = append(flat, c...)
		}
		src := make([]int32, 0, rows*seq)
		for _, r := range b.FeatSrc {
			src = append(src, r...)
		}
		args = append(args,
			tensors.FromFlatDataAndDimensions(flat, len(b.Crops), b.grid*b.grid, b.patchDim),
			tensors.FromFlatDataAndDimensions(src, rows, seq))
	}
	return args
}

// ShardAxes says how the inputs split over devices (gradcache.Sharder):
// rows of the token tensors; crops stay whole (their features are
// addressed by FeatSrc across rows).
func (m *Model) ShardAxes(inputs []any) []int {
	axes := []int{0, 0, 0, -1, 0}
	return axes[:min(len(inputs), len(axes))]
}

// Forward runs the batch. Graph-construction panics become errors.
func (m *Model) Forward(b *Batch) (out *family.Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("phi3v: forward failed: %v", r)
		}
	}()
	if len(b.IDs) == 0 {
		return nil, fmt.Errorf("phi3v: empty batch")
	}
	args := b.Inputs()
	vision := len(b.Crops) > 0
	m.mu.Lock()
	e := m.execs[vision]
	if e == nil {
		e, err = model.NewExec(m.backend, m.store, func(scope *model.Scope, in []*Node) []*Node {
			emb, hidden := m.embed(scope, in, nil)
			return []*Node{hidden, emb}
		})
		if err == nil {
			e.SetMaxCache(m.maxCache)
			m.execs[vision] = e
		}
	}
	var res []*tensors.Tensor
	if err == nil {
		res, err = e.Exec(args...)
	}
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("phi3v: %w", err)
	}
	out = &family.Output{Hidden: res[0].Value().([][]float32), Embeddings: res[1].Value().([][]float32)}
	for _, r := range res {
		r.MustFinalizeAll()
	}
	return out, nil
}
