package gradcache

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// AdamW is PyTorch's torch.optim.AdamW, the Hugging Face Trainer's default
// (β 0.9/0.999, ε 1e-8, decoupled weight decay), preceded by global
// gradient-norm clipping as the Trainer does (max_grad_norm 1.0):
//
//	g ← g · min(1, maxNorm / (‖g‖ + 1e-6))
//	θ ← θ (1 − lr·wd)
//	m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//	θ ← θ − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
//
// Moments are float32 variables under /gradcache/adamw; the update runs on
// the device in one program.
type AdamW struct {
	Beta1, Beta2, Epsilon, WeightDecay float64
	// MaxGradNorm clips the global gradient norm; 0 disables clipping.
	MaxGradNorm float64
}

// DefaultAdamW returns the Hugging Face Trainer's defaults.
func DefaultAdamW() AdamW {
	return AdamW{Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, WeightDecay: 0, MaxGradNorm: 1}
}

// Optimizer applies AdamW to a GradCache's accumulated gradients.
type Optimizer struct {
	cfg   AdamW
	gc    *GradCache
	m, v  []*model.Variable
	step  *model.Variable
	exec  *model.Exec
	store *model.Store
}

// AdamWPrefix is the store scope of the optimizer state.
const AdamWPrefix = "/gradcache/adamw"

// NewOptimizer creates (or reuses, after a checkpoint restore) the moment
// variables for gc's trainable variables.
func NewOptimizer(gc *GradCache, cfg AdamW) (*Optimizer, error) {
	if cfg.Beta1 < 0 || cfg.Beta1 >= 1 || cfg.Beta2 < 0 || cfg.Beta2 >= 1 || cfg.Epsilon <= 0 || cfg.WeightDecay < 0 || cfg.MaxGradNorm < 0 {
		return nil, fmt.Errorf("gradcache: invalid AdamW settings %+v", cfg)
	}
	store := gc.m.Store()
	o := &Optimizer{cfg: cfg, gc: gc, store: store}
	get := func(path string, shape shapes.Shape) (*model.Variable, error) {
		if v := store.GetVariable(path); v != nil {
			return v, nil
		}
		v, err := store.CreateVariable(path, tensors.FromShape(shape))
		if err != nil {
			return nil, err
		}
		zero(v)
		return v, nil
	}
	for _, p := range gc.vars {
		shape := shapes.Make(dtypes.Float32, p.Shape().Dimensions...)
		m, err := get(AdamWPrefix+"/m"+p.Path(), shape)
		if err != nil {
			return nil, err
		}
		v, err := get(AdamWPrefix+"/v"+p.Path(), shape)
		if err != nil {
			return nil, err
		}
		m.SetTrainable(false)
		v.SetTrainable(false)
		o.m, o.v = append(o.m, m), append(o.v, v)
	}
	var err error
	if o.step, err = get(AdamWPrefix+"/step", shapes.Make(dtypes.Int64)); err != nil {
		return nil, err
	}
	o.step.SetTrainable(false)
	o.exec, err = model.NewExec(gc.m.Backend(), store, func(scope *model.Scope, lr *Node) []*Node {
		return o.update(scope, lr)
	})
	if err != nil {
		return nil, err
	}
	if gc.mesh != nil {
		// Every replica applies the same update to the same (all-reduced)
		// gradients, so weights stay on the devices between steps.
		o.exec.AutoSharding(gc.mesh)
	}
	return o, nil
}

// Step is the number of updates applied so far.
func (o *Optimizer) Step() int64 {
	t, err := o.step.Value()
	if err != nil {
		return 0
	}
	return tensors.ToScalar[int64](t)
}

// update builds the AdamW program; it returns the pre-clipping global
// gradient norm (what the Trainer logs as grad_norm).
func (o *Optimizer) update(scope *model.Scope, lr *Node) []*Node {
	g := lr.Graph()
	scope.SetTraining(g, true)
	grads := make([]*Node, len(o.gc.vars))
	var sq *Node
	for i, a := range o.gc.accum {
		grads[i] = a.NodeValue(g)
		s := ReduceAllSum(Square(grads[i]))
		if sq == nil {
			sq = s
		} else {
			sq = Add(sq, s)
		}
	}
	norm := Sqrt(sq)
	clip := ScalarOne(g, dtypes.Float32)
	if o.cfg.MaxGradNorm > 0 {
		clip = Min(clip, Div(Scalar(g, dtypes.Float32, o.cfg.MaxGradNorm), AddScalar(norm, 1e-6)))
	}
	step := AddScalar(o.step.NodeValue(g), 1)
	o.step.SetNodeValue(step)
	t := ConvertDType(step, dtypes.Float32)
	bc1 := OneMinus(Pow(Scalar(g, dtypes.Float32, o.cfg.Beta1), t))
	bc2 := OneMinus(Pow(Scalar(g, dtypes.Float32, o.cfg.Beta2), t))
	lr32 := ConvertDType(lr, dtypes.Float32)
	for i, p := range o.gc.vars {
		dims := p.Shape().Dimensions
		bcast := func(x *Node) *Node { return BroadcastToDims(x, dims...) }
		grad := Mul(grads[i], bcast(clip))
		m := Add(MulScalar(o.m[i].NodeValue(g), o.cfg.Beta1), MulScalar(grad, 1-o.cfg.Beta1))
		v := Add(MulScalar(o.v[i].NodeValue(g), o.cfg.Beta2), MulScalar(Square(grad), 1-o.cfg.Beta2))
		o.m[i].SetNodeValue(m)
		o.v[i].SetNodeValue(v)
		theta := ConvertDType(p.NodeValue(g), dtypes.Float32)
		if o.cfg.WeightDecay > 0 {
			theta = Mul(theta, bcast(OneMinus(MulScalar(lr32, o.cfg.WeightDecay))))
		}
		denom := AddScalar(Sqrt(Div(v, bcast(bc2))), o.cfg.Epsilon)
		theta = Sub(theta, Mul(bcast(lr32), Div(Div(m, bcast(bc1)), denom)))
		p.SetNodeValue(ConvertDType(theta, p.DType()))
	}
	return []*Node{norm}
}

// Apply performs one update with learning rate lr from the accumulated
// gradients, then zeroes them. It returns the global gradient norm before
// clipping.
func (o *Optimizer) Apply(lr float64) (float64, error) {
	if math.IsNaN(lr) || lr < 0 {
		return 0, fmt.Errorf("gradcache: learning rate %v", lr)
	}
	args := make([]any, o.gc.Devices()) // one learning rate per device
	for i := range args {
		args[i] = float32(lr)
	}
	out, err := o.exec.Exec(args...)
	if err != nil {
		return 0, fmt.Errorf("gradcache: optimizer: %w", err)
	}
	norm := float64(tensors.ToScalar[float32](out[0]))
	for _, t := range out {
		t.MustFinalizeAll()
	}
	o.gc.ZeroGradients()
	if err := o.gc.refresh(); err != nil {
		return norm, err
	}
	return norm, nil
}
