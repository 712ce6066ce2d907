// Package gradcache trains contrastive embedding models with batches far
// larger than memory allows, with gradients equal to the full-batch ones
// (Gao et al., 2021, as VLM2Vec uses it):
//
//  1. embed every chunk of queries and targets without keeping activations;
//  2. compute the loss on the whole batch of embeddings and its gradient
//     with respect to each embedding, once;
//  3. run each chunk again with gradients and back-propagate the surrogate
//     sum(embedding ⊙ cached gradient), accumulating parameter gradients.
//
// The loss depends on the parameters only through the embeddings, so the
// accumulated gradient is exactly the full-batch gradient; memory holds one
// chunk's activations plus the batch's embeddings. Dropout must replay
// identically in both passes: the model's dropout is a function of
// per-example seeds (see qwen2vl.Model.EmbedGraph), so it does.
package gradcache

import (
	"context"
	"fmt"
	"sort"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Model is what GradCache trains: a model that builds its embedding
// computation inside a graph.
type Model interface {
	Backend() compute.Backend
	Store() *model.Store
	// EmbedGraph returns float32 embeddings [rows, dim] for the input nodes
	// of one chunk; dropoutSeeds [rows] (uint32) switch dropout on.
	EmbedGraph(scope *model.Scope, inputs []*Node, dropoutSeeds *Node) *Node
	TrainableVariables() []*model.Variable
}

// Refresher is a Model whose inference programs must be rebuilt after its
// weights change (family models: Refresh drops them, the next Embed
// rebuilds). GradCache refreshes it after every optimizer step and resume,
// so embeddings never come from stale weights.
type Refresher interface {
	Refresh() error
}

func (gc *GradCache) refresh() error {
	if r, ok := gc.m.(Refresher); ok {
		if err := r.Refresh(); err != nil {
			return fmt.Errorf("gradcache: refreshing the model after a weight update: %w", err)
		}
	}
	return nil
}

// LossFn is the contrastive loss on the whole batch of embeddings:
// queries [N, d], targets [M, d] -> scalar. loss.InfoNCE fits.
type LossFn func(queries, targets *Node) *Node

// Chunk is one forward pass worth of inputs: the model's input tensors,
// padded to a fixed number of rows of which the first Rows are real, and
// one dropout seed per row.
type Chunk struct {
	Inputs []any
	Rows   int
	Seeds  []uint32
}

// GradCache runs the two-pass algorithm for one model and loss. Parameter
// gradients accumulate in float32 variables beside the store's weights
// (under /gradcache/grad/...) until ZeroGradients.
type GradCache struct {
	m    Model
	loss LossFn

	vars  []*model.Variable // trainable, in a fixed order
	accum []*model.Variable // one accumulator per trainable variable

	embedExec, backExec, lossExec *model.Exec

	// Data parallelism (NewDataParallel): the device mesh, nil on one
	// device, and the pass programs by sharding layout.
	mesh    *distributed.DeviceMesh
	sharded map[string]*model.Exec
}

// GradPrefix is the store scope holding accumulated gradients.
const GradPrefix = "/gradcache/grad"

// New prepares GradCache for m's current trainable variables.
func New(m Model, loss LossFn) (*GradCache, error) {
	if loss == nil {
		return nil, fmt.Errorf("gradcache: nil loss")
	}
	gc := &GradCache{m: m, loss: loss, vars: m.TrainableVariables()}
	if len(gc.vars) == 0 {
		return nil, fmt.Errorf("gradcache: the model has no trainable variables")
	}
	sort.Slice(gc.vars, func(i, j int) bool { return gc.vars[i].Path() < gc.vars[j].Path() })
	store := m.Store()
	for _, v := range gc.vars {
		path := GradPrefix + v.Path()
		acc := store.GetVariable(path)
		if acc == nil {
			var err error
			acc, err = store.CreateVariable(path, tensors.FromShape(shapes.Make(dtypes.Float32, v.Shape().Dimensions...)))
			if err != nil {
				return nil, fmt.Errorf("gradcache: %w", err)
			}
			zero(acc)
		}
		acc.SetTrainable(false)
		gc.accum = append(gc.accum, acc)
	}
	gc.embedExec = gc.newEmbedExec()
	gc.backExec = gc.newBackExec()
	var err error
	// The loss and its gradient with respect to every embedding.
	gc.lossExec, err = model.NewExec(m.Backend(), store, func(scope *model.Scope, q, t *Node) []*Node {
		l := loss(q, t)
		grads := Gradient(l, q, t)
		return []*Node{l, grads[0], grads[1]}
	})
	if err != nil {
		return nil, err
	}
	return gc, nil
}

// newEmbedExec builds pass 1: embeddings only. Marked as training so the
// backend reads the weights as parameters (a constant-folded program would
// keep stale weights after the optimizer changes them). Its inputs are a
// chunk's inputs and its dropout seeds.
func (gc *GradCache) newEmbedExec() *model.Exec {
	return model.MustNewExec(gc.m.Backend(), gc.m.Store(), func(scope *model.Scope, in []*Node) *Node {
		scope.SetTraining(in[0].Graph(), true)
		return gc.m.EmbedGraph(scope, in[:len(in)-1], in[len(in)-1])
	})
}

// newBackExec builds pass 2: re-embed a chunk with gradients and
// accumulate d(sum(emb ⊙ g))/dθ, which is the chunk's share of dL/dθ. Its
// inputs are a chunk's inputs, its seeds and the cached gradient rows.
func (gc *GradCache) newBackExec() *model.Exec {
	return model.MustNewExec(gc.m.Backend(), gc.m.Store(), func(scope *model.Scope, in []*Node) *Node {
		g := in[0].Graph()
		scope.SetTraining(g, true)
		n := len(in)
		emb := gc.m.EmbedGraph(scope, in[:n-2], in[n-2])
		surrogate := ReduceAllSum(Mul(emb, in[n-1]))
		gc.accumulate(g, surrogate)
		return surrogate
	})
}

// accumulate adds d(objective)/dθ to the accumulators of the variables the
// graph uses (a text-only chunk does not touch the vision tower).
func (gc *GradCache) accumulate(g *Graph, objective *Node) {
	var used []int
	var nodes []*Node
	for i, v := range gc.vars {
		if v.InUseByGraph(g) {
			used = append(used, i)
			nodes = append(nodes, v.NodeValue(g))
		}
	}
	grads := Gradient(objective, nodes...)
	for k, i := range used {
		acc := gc.accum[i]
		acc.SetNodeValue(Add(acc.NodeValue(g), ConvertDType(grads[k], dtypes.Float32)))
	}
}

func zero(v *model.Variable) {
	t := tensors.FromShape(v.Shape())
	v.MustSetValue(t)
}

// Variables lists the trained variables in the order Gradients uses.
func (gc *GradCache) Variables() []*model.Variable { return gc.vars }

// Accumulators lists the gradient accumulators, aligned with Variables.
func (gc *GradCache) Accumulators() []*model.Variable { return gc.accum }

// ZeroGradients resets the accumulators (after an optimizer step).
func (gc *GradCache) ZeroGradients() {
	for _, a := range gc.accum {
		zero(a)
	}
}

// Gradients returns a copy of the accumulated gradients, by variable path.
func (gc *GradCache) Gradients() (map[string][]float32, error) {
	out := map[string][]float32{}
	for i, a := range gc.accum {
		t, err := a.Value()
		if err != nil {
			return nil, err
		}
		if out[gc.vars[i].Path()], err = tensors.CopyFlatData[float32](t); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func seedsTensor(c Chunk) (*tensors.Tensor, error) {
	rows := 0
	if t, ok := c.Inputs[0].(*tensors.Tensor); ok {
		rows = t.Shape().Dimensions[0]
	}
	if len(c.Seeds) != rows {
		return nil, fmt.Errorf("gradcache: chunk has %d rows but %d dropout seeds", rows, len(c.Seeds))
	}
	return tensors.FromValue(c.Seeds), nil
}

// embedChunks runs pass 1 over chunks and returns the real rows'
// embeddings, concatenated.
func (gc *GradCache) embedChunks(ctx context.Context, chunks []Chunk) ([][]float32, error) {
	var all [][]float32
	for _, c := range chunks {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		seeds, err := seedsTensor(c)
		if err != nil {
			return nil, err
		}
		out, err := gc.run(passEmbed, append(append([]any{}, c.Inputs...), seeds))
		if err != nil {
			return nil, fmt.Errorf("gradcache: embedding pass: %w", err)
		}
		emb := out[0].Value().([][]float32)
		out[0].MustFinalizeAll()
		all = append(all, emb[:c.Rows]...)
	}
	return all, nil
}

// backChunks runs pass 2: each chunk with its rows of the cached gradient.
func (gc *GradCache) backChunks(ctx context.Context, chunks []Chunk, grads [][]float32) error {
	off := 0
	for _, c := range chunks {
		if err := ctx.Err(); err != nil {
			return err
		}
		seeds, err := seedsTensor(c)
		if err != nil {
			return err
		}
		g := make([][]float32, len(c.Seeds))
		copy(g, grads[off:off+c.Rows])
		for r := c.Rows; r < len(g); r++ {
			g[r] = make([]float32, len(grads[0])) // filler rows contribute nothing
		}
		off += c.Rows
		out, err := gc.run(passBack, append(append([]any{}, c.Inputs...), seeds, tensors.FromValue(g)))
		if err != nil {
			return fmt.Errorf("gradcache: gradient pass: %w", err)
		}
		for _, o := range out {
			o.MustFinalizeAll()
		}
	}
	return nil
}

// Accumulate runs GradCache over one batch given as query and target
// chunks (chunk sizes are independent and need not divide the batch),
// adds the parameter gradients to the accumulators and returns the loss.
func (gc *GradCache) Accumulate(ctx context.Context, queries, targets []Chunk) (float64, error) {
	q, err := gc.embedChunks(ctx, queries)
	if err != nil {
		return 0, err
	}
	t, err := gc.embedChunks(ctx, targets)
	if err != nil {
		return 0, err
	}
	if len(q) == 0 || len(t) == 0 {
		return 0, fmt.Errorf("gradcache: empty batch (%d queries, %d targets)", len(q), len(t))
	}
	out, err := gc.lossExec.Exec(tensors.FromValue(q), tensors.FromValue(t))
	if err != nil {
		return 0, fmt.Errorf("gradcache: loss: %w", err)
	}
	loss := float64(tensors.ToScalar[float32](out[0]))
	gq := out[1].Value().([][]float32)
	gt := out[2].Value().([][]float32)
	for _, o := range out {
		o.MustFinalizeAll()
	}
	if err := gc.backChunks(ctx, queries, gq); err != nil {
		return 0, err
	}
	if err := gc.backChunks(ctx, targets, gt); err != nil {
		return 0, err
	}
	return loss, nil
}

// FullBatch computes the same loss and gradients without caching: every
// chunk's forward stays in one graph and the loss is differentiated
// directly, so memory grows with the batch. It is the reference GradCache
// must equal, and the baseline of its overhead; gradients go to the same
// accumulators. Each call builds (and compiles) a new program.
func (gc *GradCache) FullBatch(ctx context.Context, queries, targets []Chunk) (float64, error) {
	if gc.mesh != nil {
		return 0, fmt.Errorf("gradcache: FullBatch runs on one device; use a GradCache from New")
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	fb, err := gc.newFullBatch(queries, targets)
	if err != nil {
		return 0, err
	}
	defer fb.exec.Finalize()
	return fb.run()
}

// fullBatch is the program of one FullBatch call, reusable on the same
// inputs (benchmarks time it without recompiling).
type fullBatch struct {
	exec *model.Exec
	args []any
}

func (gc *GradCache) newFullBatch(queries, targets []Chunk) (*fullBatch, error) {
	fb := &fullBatch{}
	type span struct{ n, rows int }
	var spans []span
	for _, c := range append(append([]Chunk{}, queries...), targets...) {
		seeds, err := seedsTensor(c)
		if err != nil {
			return nil, err
		}
		fb.args = append(append(fb.args, c.Inputs...), seeds)
		spans = append(spans, span{len(c.Inputs), c.Rows})
	}
	nq := len(queries)
	var err error
	fb.exec, err = model.NewExec(gc.m.Backend(), gc.m.Store(), func(scope *model.Scope, in []*Node) *Node {
		g := in[0].Graph()
		scope.SetTraining(g, true)
		var q, t []*Node
		off := 0
		for i, s := range spans {
			emb := Slice(gc.m.EmbedGraph(scope, in[off:off+s.n], in[off+s.n]), AxisRange(0, s.rows))
			if i < nq {
				q = append(q, emb)
			} else {
				t = append(t, emb)
			}
			off += s.n + 1
		}
		l := gc.loss(Concatenate(q, 0), Concatenate(t, 0))
		gc.accumulate(g, l)
		return l
	})
	return fb, err
}

func (fb *fullBatch) run() (float64, error) {
	out, err := fb.exec.Exec(fb.args...)
	if err != nil {
		return 0, fmt.Errorf("gradcache: full batch: %w", err)
	}
	l := float64(tensors.ToScalar[float32](out[0]))
	out[0].MustFinalizeAll()
	return l, nil
}
