package qwen2vl

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

// loraGraph adds the adapter branch to adapted linear layers of one graph.
type loraGraph struct {
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

func (l *loraGraph) adapts(module string) bool { return l.modules[module] }

// dropout zeroes each element of x [B, S, F] with probability p and scales
// the rest by 1/(1-p), as nn.Dropout in training; each call site (layer)
// draws an independent mask.
func (l *loraGraph) dropout(x *Node) *Node {
	p := l.cfg.LoraDropout
	if l.seeds == nil || p <= 0 {
		return x
	}
	l.layer++
	dims := x.Shape().Dimensions
	if len(dims) != 3 {
		panic(fmt.Sprintf("qwen2vl: adapter dropout wants [batch, seq, features], got %v", dims))
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
func (l *loraGraph) linear(n *net, x *Node, name string, bias bool) *Node {
	g := x.Graph()
	y := n.plainLinear(x, name, bias)
	dt := y.DType()
	s := l.cfg.Scale()
	a := ConvertDType(n.weight(g, name+suffixA), dt) // [r, in]
	b := ConvertDType(n.weight(g, name+suffixB), dt) // [out, r]
	dims := x.Shape().Dimensions
	in := dims[len(dims)-1]
	out := b.Shape().Dimensions[0]
	xd := Reshape(l.dropout(x), -1, in)
	loraOut := Einsum("nr,or->no", Einsum("ni,ri->nr", xd, a), b) // [rows, out]
	outDims := append(append([]int{}, dims[:len(dims)-1]...), out)
	if !l.cfg.UseDora {
		return Add(y, Reshape(MulScalar(loraOut, s), outDims...))
	}
	w := ConvertDType(n.weight(g, name+".weight"), dtypes.Float32)
	delta := Einsum("or,ri->oi", ConvertDType(b, dtypes.Float32), ConvertDType(a, dtypes.Float32))
	full := Add(w, MulScalar(delta, s))
	norm := StopGradient(Sqrt(ReduceSum(Square(full), -1))) // [out]
	c := Div(n.weight(g, name+suffixMag), norm)             // [out], float32
	rows := xd.Shape().Dimensions[0]
	cb := ConvertDType(BroadcastToDims(Reshape(c, 1, out), rows, out), dt)
	baseD := Einsum("ni,oi->no", xd, ConvertDType(w, dt))
	extra := Add(Mul(Sub(cb, OnesLike(cb)), baseD), MulScalar(Mul(cb, loraOut), s))
	return Add(y, Reshape(extra, outDims...))
}

// LinearModules lists the model's adaptable linear layers (module paths).
func (c *Config) LinearModules() []string {
	var out []string
	for name, shape := range c.ExpectedWeights() {
		if len(shape) == 2 && name != "model.embed_tokens.weight" && !unusedWeights[name] {
			out = append(out, name[:len(name)-len(".weight")])
		}
	}
	sort.Strings(out)
	return out
}

// AttachLoRA adds trainable adapter variables to the model for training.
// With from == nil they are initialised as VLM2Vec configures PEFT
// (init_lora_weights="gaussian": A ~ N(0, 1/r²), B = 0; DoRA magnitude =
// the base weight's row norms) from seed; otherwise from's values are used.
// Base weights become frozen. The model must have been loaded without
// merging an adapter.
func (m *Model) AttachLoRA(cfg peft.Config, from *peft.Adapter, seed uint64) error {
	if err := cfg.Check(); err != nil {
		return err
	}
	if m.lora != nil {
		return fmt.Errorf("qwen2vl: the model already has an adapter attached")
	}
	modules := map[string]bool{}
	for _, mod := range m.Config.LinearModules() {
		if cfg.Matches(mod) {
			if strings.HasPrefix(mod, visualPrefix) {
				// VLM2Vec's target names never match the vision tower; its
				// layers see [patches, features], not per-example rows.
				return fmt.Errorf("qwen2vl: target_modules %v match vision-tower layer %s; adapters on the vision tower are not supported", cfg.TargetModules, mod)
			}
			modules[mod] = true
		}
	}
	if len(modules) == 0 {
		return fmt.Errorf("qwen2vl: target_modules %v match no linear layer", cfg.TargetModules)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	fromLayers := map[string]*peft.Layer{}
	if from != nil {
		for k, l := range from.Layers {
			fromLayers[strings.TrimSuffix(canonicalName(k+".weight"), ".weight")] = l
		}
	}
	for v := range m.store.IterVariables() {
		v.SetTrainable(false)
	}
	mods := make([]string, 0, len(modules))
	for mod := range modules {
		mods = append(mods, mod)
	}
	sort.Strings(mods) // deterministic initialisation order
	for _, mod := range mods {
		wv := m.store.GetVariable(variablePath(mod + ".weight"))
		wt := wv.MustValue()
		out, in := wt.Shape().Dimensions[0], wt.Shape().Dimensions[1]
		var a, b, mag []float32
		if from != nil {
			l, ok := fromLayers[mod]
			if !ok {
				return fmt.Errorf("qwen2vl: adapter has no weights for %s", mod)
			}
			if l.In != in || l.Out != out || l.Rank != cfg.R {
				return fmt.Errorf("qwen2vl: adapter layer %s is [%d,%d] rank %d; model needs [%d,%d] rank %d", mod, l.Out, l.In, l.Rank, out, in, cfg.R)
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
		if _, err := m.store.CreateVariable(variablePath(mod+suffixA), tensors.FromFlatDataAndDimensions(a, cfg.R, in)); err != nil {
			return err
		}
		if _, err := m.store.CreateVariable(variablePath(mod+suffixB), tensors.FromFlatDataAndDimensions(b, out, cfg.R)); err != nil {
			return err
		}
		if cfg.UseDora {
			if len(mag) != out {
				return fmt.Errorf("qwen2vl: DoRA magnitude for %s has %d entries, want %d", mod, len(mag), out)
			}
			if _, err := m.store.CreateVariable(variablePath(mod+suffixMag), tensors.FromFlatDataAndDimensions(mag, out)); err != nil {
				return err
			}
		}
	}
	m.lora = &loraGraph{cfg: cfg, modules: modules}
	return nil
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

// Adapter reads the trained adapter back from the store, in PEFT's layout.
func (m *Model) Adapter() (*peft.Adapter, error) {
	if m.lora == nil {
		return nil, fmt.Errorf("qwen2vl: no adapter attached")
	}
	a := &peft.Adapter{Config: m.lora.cfg, Layers: map[string]*peft.Layer{}}
	for mod := range m.lora.modules {
		get := func(suffix string) ([]float32, []int, error) {
			v := m.store.GetVariable(variablePath(mod + suffix))
			if v == nil {
				return nil, nil, fmt.Errorf("qwen2vl: missing adapter variable %s%s", mod, suffix)
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
		if m.lora.cfg.UseDora {
			if l.Magnitude, _, err = get(suffixMag); err != nil {
				return nil, err
			}
		}
		a.Layers[mod] = l
	}
	return a, nil
}

// TrainableVariables lists the variables an optimizer should update.
func (m *Model) TrainableVariables() []*model.Variable {
	var out []*model.Variable
	for v := range m.store.IterVariables() {
		if v.Trainable {
			out = append(out, v)
		}
	}
	return out
}
