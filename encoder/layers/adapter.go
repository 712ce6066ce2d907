package layers

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/peft"
)

// Trainable LoRA/DoRA adapters live next to the weight they adapt:
// model.layers.0.self_attn.q_proj.{lora_A,lora_B,lora_magnitude_vector},
// float32 whatever the compute dtype (the master copy is what the optimizer
// updates).
const (
	suffixA   = ".lora_A"
	suffixB   = ".lora_B"
	suffixMag = ".lora_magnitude_vector"
)

// Adapter is a trainable LoRA/DoRA adapter attached to a model's store: its
// PEFT settings and the linear modules it adapts (checkpoint names without
// ".weight").
type Adapter struct {
	Config  peft.Config
	Modules map[string]bool
}

// Graph returns the adapter's branch for one graph. seeds [B] (uint32, one
// per example) switch dropout on; nil leaves it off (inference).
func (a *Adapter) Graph(seeds *Node) *AdapterGraph {
	return &AdapterGraph{cfg: a.Config, modules: a.Modules, seeds: seeds}
}

// AdapterGraph adds the adapter branch to adapted linear layers of one graph.
type AdapterGraph struct {
	cfg     peft.Config
	modules map[string]bool
	// seeds [B] uint32 drives dropout, one seed per example (nil disables
	// dropout: inference). A mask value is a hash of (example seed, layer,
	// position), so an example gets the same masks whichever batch or chunk
	// it is computed in: GradCache's second pass replays the first exactly,
	// and a chunked step equals the full-batch step even with dropout on.
	seeds *Node
	layer uint32 // counts dropout sites in graph-building order
	// hashBase caches, per activation shape, the part of the mask hash that
	// does not depend on the layer (seed and position mixed): the Go
	// backend runs every elementwise op as a pass over memory, and dropout
	// sits on seven inputs per decoder layer.
	hashBase map[[3]int]*Node
}

// CropSeeds derives dropout seeds [N] for rows that are parts of examples
// (image crops through a vision tower) from the examples' seeds [B]:
// ref [N, 2] holds each part's example and its index among that example's
// parts. A part's seed depends only on its example's seed and its index, so
// its masks, like an example's, do not depend on the batch or chunk it is
// computed in; the index and a constant are mixed in so that no part
// shares a seed with an example or another part.
func CropSeeds(seeds, ref *Node) *Node {
	g := seeds.Graph()
	n := ref.Shape().Dimensions[0]
	row := Slice(ref, AxisRange(), AxisRange(0, 1))                                           // [N, 1]
	slot := ConvertDType(Reshape(Slice(ref, AxisRange(), AxisRange(1, 2)), n), dtypes.Uint32) // [N]
	own := Gather(ConvertDType(seeds, dtypes.Uint32), ConvertDType(row, dtypes.Int32))        // [N]
	u32 := func(v uint32) *Node { return BroadcastToDims(Scalar(g, dtypes.Uint32, v), n) }
	mix := Mul(Add(slot, u32(1)), u32(0x5bd1e995))
	h := BitwiseXor(own, mix)
	h = BitwiseXor(h, BitwiseShiftRightLogicalScalar(h, uint32(13)))
	return Mul(h, u32(0xc2b2ae35))
}

// Adapts reports whether the adapter has a branch on a linear module.
func (l *AdapterGraph) Adapts(module string) bool { return l.modules[module] }

// dropout zeroes each element of x [B, S, F] with probability p and scales
// the rest by 1/(1-p), as nn.Dropout in training; each call site (layer)
// draws an independent mask.
func (l *AdapterGraph) dropout(x *Node) *Node {
	p := l.cfg.LoraDropout
	if l.seeds == nil || p <= 0 {
		return x
	}
	l.layer++
	dims := x.Shape().Dimensions
	if len(dims) != 3 {
		panic(fmt.Sprintf("layers: adapter dropout wants [batch, seq, features], got %v", dims))
	}
	key := [3]int{dims[0], dims[1], dims[2]}
	if l.hashBase == nil {
		l.hashBase = map[[3]int]*Node{}
	}
	base := l.hashBase[key]
	if base == nil {
		base = hashBase(l.seeds, dims)
		l.hashBase[key] = base
	}
	keep := keepMask(base, l.layer, p)
	return Where(keep, MulScalar(x, 1/(1-p)), ZerosLike(x))
}

// The mask of element (b, s, f) at dropout site `layer` is decided by a
// 32-bit hash of (seeds[b], layer, s·F + f) with good avalanche (the
// "lowbias32" finaliser): its top 24 bits, as a uniform u in [0, 1), keep
// the element when u >= p.

// hashBase is the hash input without the layer term:
// seeds[b] ^ (s·F + f)·0x85ebca6b, shape dims = [B, S, F].
func hashBase(seeds *Node, dims []int) *Node {
	g := seeds.Graph()
	u32 := func(v uint32) *Node { return BroadcastToDims(Scalar(g, dtypes.Uint32, v), dims...) }
	seed := BroadcastToDims(Reshape(ConvertDType(seeds, dtypes.Uint32), dims[0], 1, 1), dims...)
	pos := Add(Mul(Iota(g, shapes.Make(dtypes.Uint32, dims...), 1), u32(uint32(dims[2]))), Iota(g, shapes.Make(dtypes.Uint32, dims...), 2))
	return BitwiseXor(seed, Mul(pos, u32(0x85ebca6b)))
}

// keepMask finishes the hash for one dropout site and compares its top 24
// bits with p in integers: u = top/2^24 is exact in float32, so u >= p
// exactly when top >= ceil(p·2^24) (p rounded to float32 first, as the
// float comparison would).
func keepMask(base *Node, layer uint32, p float64) *Node {
	g := base.Graph()
	dims := base.Shape().Dimensions
	u32 := func(v uint32) *Node { return BroadcastToDims(Scalar(g, dtypes.Uint32, v), dims...) }
	h := BitwiseXor(base, u32(layer*0x9e3779b9))
	h = BitwiseXor(h, BitwiseShiftRightLogicalScalar(h, uint32(16)))
	h = Mul(h, u32(0x7feb352d))
	h = BitwiseXor(h, BitwiseShiftRightLogicalScalar(h, uint32(15)))
	h = Mul(h, u32(0x846ca68b))
	h = BitwiseXor(h, BitwiseShiftRightLogicalScalar(h, uint32(16)))
	threshold := uint32(math.Ceil(float64(float32(p)) * (1 << 24)))
	return GreaterOrEqual(BitwiseShiftRightLogicalScalar(h, uint32(8)), u32(threshold))
}

// linear is PEFT's LoRA (and DoRA) forward for an nn.Linear:
//
//	LoRA: y = x Wᵀ + b + s · drop(x) Aᵀ Bᵀ
//	DoRA: y = x Wᵀ + b + (c - 1) ⊙ drop(x) Wᵀ + c ⊙ s · drop(x) Aᵀ Bᵀ,
//	      c = m / ‖W + s·B·A‖ (row norms, no gradient through the norm)
//
// In DoRA the base path is taken once without and once with dropout, as
// PEFT does; without dropout the sum is m/‖·‖ ⊙ (x Wᵀ + s x Aᵀ Bᵀ) + b, the
// merged layer.
func (l *AdapterGraph) linear(n *Net, x *Node, name string, bias bool) *Node {
	g := x.Graph()
	y := n.PlainLinear(x, name, bias)
	dt := y.DType()
	s := l.cfg.Scale()
	a := ConvertDType(n.Weight(g, name+suffixA), dt) // [r, in]
	b := ConvertDType(n.Weight(g, name+suffixB), dt) // [out, r]
	dims := x.Shape().Dimensions
	in := dims[len(dims)-1]
	out := b.Shape().Dimensions[0]
	xd := Reshape(l.dropout(x), -1, in)
	loraOut := Contract("nr,or->no", Contract("ni,ri->nr", xd, a), b) // [rows, out]
	outDims := append(append([]int{}, dims[:len(dims)-1]...), out)
	if !l.cfg.UseDora {
		return Add(y, Reshape(MulScalar(loraOut, s), outDims...))
	}
	w := ConvertDType(n.Weight(g, name+".weight"), dtypes.Float32)
	delta := Contract("or,ri->oi", ConvertDType(b, dtypes.Float32), ConvertDType(a, dtypes.Float32))
	full := Add(w, MulScalar(delta, s))
	norm := StopGradient(Sqrt(ReduceSum(Square(full), -1))) // [out]
	c := Div(n.Weight(g, name+suffixMag), norm)             // [out], float32
	rows := xd.Shape().Dimensions[0]
	cb := ConvertDType(BroadcastToDims(Reshape(c, 1, out), rows, out), dt)
	baseD := Contract("ni,oi->no", xd, ConvertDType(w, dt))
	extra := Add(Mul(Sub(cb, OnesLike(cb)), baseD), MulScalar(Mul(cb, loraOut), s))
	return Add(y, Reshape(extra, outDims...))
}

// AttachOptions describes where an adapter may go in one model.
type AttachOptions struct {
	// Modules are the model's adaptable linear modules (checkpoint names
	// without ".weight").
	Modules []string
	// Refuse, if set, rejects a module the target names match (for example
	// vision-tower layers a family's graph cannot adapt per example).
	Refuse func(module string) error
	// Canonical maps a module name as an adapter file spells it to the
	// model's (checkpoints and adapters of one family may use several
	// naming schemes).
	Canonical func(module string) string
	// Prefix names the caller in errors ("qwen2vl").
	Prefix string
}

// AttachAdapter adds trainable adapter variables to store for training.
// With from == nil they are initialised as VLM2Vec configures PEFT
// (init_lora_weights="gaussian": A ~ N(0, 1/r²), B = 0; DoRA magnitude =
// the base weight's row norms) from seed; otherwise from's values are used.
// Every other variable becomes frozen.
func AttachAdapter(store *model.Store, cfg peft.Config, from *peft.Adapter, seed uint64, o AttachOptions) (*Adapter, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	pre := o.Prefix
	if pre == "" {
		pre = "layers"
	}
	modules := map[string]bool{}
	for _, mod := range o.Modules {
		if cfg.Matches(mod) {
			if o.Refuse != nil {
				if err := o.Refuse(mod); err != nil {
					return nil, err
				}
			}
			modules[mod] = true
		}
	}
	if len(modules) == 0 {
		return nil, fmt.Errorf("%s: target_modules %v match no linear layer", pre, cfg.TargetModules)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	fromLayers := map[string]*peft.Layer{}
	if from != nil {
		for k, l := range from.Layers {
			if o.Canonical != nil {
				k = o.Canonical(k)
			}
			fromLayers[k] = l
		}
	}
	for v := range store.IterVariables() {
		v.SetTrainable(false)
	}
	mods := make([]string, 0, len(modules))
	for mod := range modules {
		mods = append(mods, mod)
	}
	sort.Strings(mods) // deterministic initialisation order
	for _, mod := range mods {
		wv := store.GetVariable(VariablePath(mod + ".weight"))
		if wv == nil {
			return nil, fmt.Errorf("%s: no weight for adaptable module %s", pre, mod)
		}
		wt := wv.MustValue()
		out, in := wt.Shape().Dimensions[0], wt.Shape().Dimensions[1]
		var a, b, mag []float32
		if from != nil {
			l, ok := fromLayers[mod]
			if !ok {
				return nil, fmt.Errorf("%s: adapter has no weights for %s", pre, mod)
			}
			if l.In != in || l.Out != out || l.Rank != cfg.R {
				return nil, fmt.Errorf("%s: adapter layer %s is [%d,%d] rank %d; model needs [%d,%d] rank %d", pre, mod, l.Out, l.In, l.Rank, out, in, cfg.R)
			}
			a, b, mag = l.A, l.B, l.Magnitude
		} else {
			a = make([]float32, cfg.R*in)
			for i := range a {
				a[i] = float32(rng.NormFloat64() / float64(cfg.R))
			}
			b = make([]float32, out*cfg.R)
			if cfg.UseDora {
				mag = rowNorms(wt, out, in)
			}
		}
		if _, err := store.CreateVariable(VariablePath(mod+suffixA), tensors.FromFlatDataAndDimensions(a, cfg.R, in)); err != nil {
			return nil, err
		}
		if _, err := store.CreateVariable(VariablePath(mod+suffixB), tensors.FromFlatDataAndDimensions(b, out, cfg.R)); err != nil {
			return nil, err
		}
		if cfg.UseDora {
			if len(mag) != out {
				return nil, fmt.Errorf("%s: DoRA magnitude for %s has %d entries, want %d", pre, mod, len(mag), out)
			}
			if _, err := store.CreateVariable(VariablePath(mod+suffixMag), tensors.FromFlatDataAndDimensions(mag, out)); err != nil {
				return nil, err
			}
		}
	}
	return &Adapter{Config: cfg, Modules: modules}, nil
}

func rowNorms(w *tensors.Tensor, out, in int) []float32 {
	vals := make([]float32, out*in)
	if w.DType() == dtypes.BFloat16 {
		for i, v := range tensors.MustCopyFlatData[bfloat16.BFloat16](w) {
			vals[i] = v.Float32()
		}
	} else {
		copy(vals, tensors.MustCopyFlatData[float32](w))
	}
	mag := make([]float32, out)
	for o := 0; o < out; o++ {
		var s float64
		for _, v := range vals[o*in : (o+1)*in] {
			s += float64(v) * float64(v)
		}
		mag[o] = float32(math.Sqrt(s))
	}
	return mag
}

// Read returns the adapter's current values from store, in PEFT's layout.
func (a *Adapter) Read(store *model.Store) (*peft.Adapter, error) {
	out := &peft.Adapter{Config: a.Config, Layers: map[string]*peft.Layer{}}
	for mod := range a.Modules {
		get := func(suffix string) ([]float32, []int, error) {
			v := store.GetVariable(VariablePath(mod + suffix))
			if v == nil {
				return nil, nil, fmt.Errorf("layers: missing adapter variable %s%s", mod, suffix)
			}
			t, err := v.Value()
			if err != nil {
				return nil, nil, err
			}
			vals, err := tensors.CopyFlatData[float32](t)
			return vals, t.Shape().Dimensions, err
		}
		A, sa, err := get(suffixA)
		if err != nil {
			return nil, err
		}
		B, sb, err := get(suffixB)
		if err != nil {
			return nil, err
		}
		l := &peft.Layer{Module: mod, A: A, B: B, Rank: sa[0], In: sa[1], Out: sb[0]}
		if a.Config.UseDora {
			if l.Magnitude, _, err = get(suffixMag); err != nil {
				return nil, err
			}
		}
		out.Layers[mod] = l
	}
	return out, nil
}

// TrainableVariables lists the store's variables an optimizer should update.
func TrainableVariables(store *model.Store) []*model.Variable {
	var out []*model.Variable
	for v := range store.IterVariables() {
		if v.Trainable {
			out = append(out, v)
		}
	}
	return out
}

// TrimWeight drops a ".weight" suffix: adapter files name modules, weight
// maps name tensors.
func TrimWeight(name string) string { return strings.TrimSuffix(name, ".weight") }
