package layers

import (
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/internal/testutil"
)

func backend(t testing.TB) compute.Backend { return testutil.Backend(t) }

// storeWith makes a store holding the given checkpoint-named tensors.
func storeWith(t *testing.T, vars map[string]*tensors.Tensor) *model.Store {
	t.Helper()
	s := model.NewStore()
	for name, v := range vars {
		if _, err := s.CreateVariable(VariablePath(name), v); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func near(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %.7g, want %.7g", what, i, got[i], want[i])
		}
	}
}

func flat32(v any) []float64 {
	var out []float64
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case float32:
			out = append(out, float64(x))
		case []float32:
			for _, e := range x {
				out = append(out, float64(e))
			}
		case [][]float32:
			for _, e := range x {
				walk(e)
			}
		case [][][]float32:
			for _, e := range x {
				walk(e)
			}
		case [][][][]float32:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// run builds fn over the store and returns its float32 outputs flattened.
func run(t *testing.T, s *model.Store, fn func(n *Net, in []*Node) *Node, inputs ...any) []float64 {
	t.Helper()
	e, err := model.NewExec(backend(t), s, func(scope *model.Scope, in []*Node) *Node {
		return fn(&Net{Scope: scope, DType: dtypes.Float32}, in)
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Exec(inputs...)
	if err != nil {
		t.Fatal(err)
	}
	return flat32(out[0].Value())
}

// TestLinearNorms checks Linear, RMSNorm, LayerNorm and NormalizeL2 against
// host arithmetic on a 2x3 input.
func TestLinearNorms(t *testing.T) {
	x := [][]float32{{1, -2, 0.5}, {3, 0.25, -1}}
	w := [][]float32{{0.1, 0.2, -0.3}, {-0.5, 0.4, 0.6}}
	b := []float32{0.01, -0.02}
	g := []float32{1.5, 0.5, -1}
	beta := []float32{0.1, 0, -0.1}
	s := storeWith(t, map[string]*tensors.Tensor{
		"lin.weight": tensors.FromValue(w), "lin.bias": tensors.FromValue(b),
		"n.weight": tensors.FromValue(g), "n.bias": tensors.FromValue(beta),
	})
	var wantLin, wantRMS, wantLN, wantL2 []float64
	for _, r := range x {
		for o := range w {
			v := float64(b[o])
			for i := range r {
				v += float64(r[i]) * float64(w[o][i])
			}
			wantLin = append(wantLin, v)
		}
		var ss, mean, norm float64
		for _, v := range r {
			ss += float64(v) * float64(v)
			mean += float64(v)
		}
		mean /= 3
		var vr float64
		for _, v := range r {
			vr += (float64(v) - mean) * (float64(v) - mean)
		}
		vr /= 3
		norm = math.Sqrt(ss)
		for i, v := range r {
			wantRMS = append(wantRMS, float64(g[i])*float64(v)/math.Sqrt(ss/3+1e-6))
			wantLN = append(wantLN, (float64(v)-mean)/math.Sqrt(vr+1e-5)*float64(g[i])+float64(beta[i]))
			wantL2 = append(wantL2, float64(v)/norm)
		}
	}
	near(t, "linear", run(t, s, func(n *Net, in []*Node) *Node { return n.Linear(in[0], "lin", true) }, x), wantLin, 1e-6)
	near(t, "rmsnorm", run(t, s, func(n *Net, in []*Node) *Node { return n.RMSNorm(in[0], "n", 1e-6) }, x), wantRMS, 1e-6)
	near(t, "layernorm", run(t, s, func(n *Net, in []*Node) *Node { return n.LayerNorm(in[0], "n", 1e-5) }, x), wantLN, 1e-5)
	near(t, "l2", run(t, s, func(_ *Net, in []*Node) *Node { return NormalizeL2(in[0]) }, x), wantL2, 1e-6)
	// A zero row stays finite (the norm is clamped, as F.normalize does).
	z := run(t, s, func(_ *Net, in []*Node) *Node { return NormalizeL2(in[0]) }, [][]float32{{0, 0, 0}})
	near(t, "l2 of zero", z, []float64{0, 0, 0}, 0)
}

// TestRotary checks ApplyRotary with tables from InvFreq against the
// rotate_half formula on the host.
func TestRotary(t *testing.T) {
	const d, theta, pos = 8, 10000.0, 5.0
	x := []float32{0.3, -1, 2, 0.5, 1, 0.25, -0.75, 1.5}
	var want []float64
	for i := 0; i < d; i++ {
		f := 1 / math.Pow(theta, float64(2*(i%(d/2)))/d)
		a := pos * float64(float32(f))
		var rot float64
		if i < d/2 {
			rot = -float64(x[i+d/2])
		} else {
			rot = float64(x[i-d/2])
		}
		want = append(want, float64(x[i])*math.Cos(a)+rot*math.Sin(a))
	}
	got := run(t, model.NewStore(), func(_ *Net, in []*Node) *Node {
		g := in[0].Graph()
		ang := MulScalar(InvFreq(g, d, theta), pos)
		ang = Concatenate([]*Node{ang, ang}, -1)
		return ApplyRotary(in[0], Cos(ang), Sin(ang))
	}, x)
	near(t, "rotary", got, want, 1e-6)
}

// TestAttentionGQA: grouped-query attention with a causal padding mask
// equals attention computed head by head on the host, each query head
// reading its KV group; a padding query that sees only itself stays finite.
func TestAttentionGQA(t *testing.T) {
	const b, h, kv, s, d = 1, 4, 2, 3, 2
	val := func(i int) float32 { return float32(math.Sin(float64(i)*0.7) * 1.3) }
	mk := func(heads, off int) [][][][]float32 {
		out := make([][][][]float32, b)
		for bi := range out {
			out[bi] = make([][][]float32, heads)
			for hi := range out[bi] {
				out[bi][hi] = make([][]float32, s)
				for si := range out[bi][hi] {
					out[bi][hi][si] = make([]float32, d)
					for di := range out[bi][hi][si] {
						out[bi][hi][si][di] = val(off + ((hi*s+si)*d + di))
					}
				}
			}
		}
		return out
	}
	q, k, v := mk(h, 0), mk(kv, 100), mk(kv, 200)
	valid := [][]bool{{true, true, false}}
	var want []float64
	for hi := 0; hi < h; hi++ {
		g := hi / (h / kv)
		for qi := 0; qi < s; qi++ {
			var sc []float64
			mx := math.Inf(-1)
			for ki := 0; ki < s; ki++ {
				ok := (ki <= qi && valid[0][ki]) || ki == qi
				if !ok {
					sc = append(sc, math.Inf(-1))
					continue
				}
				var dot float64
				for di := 0; di < d; di++ {
					dot += float64(q[0][hi][qi][di]) * float64(k[0][g][ki][di])
				}
				dot /= math.Sqrt(d)
				sc = append(sc, dot)
				mx = math.Max(mx, dot)
			}
			var z float64
			for i := range sc {
				sc[i] = math.Exp(sc[i] - mx)
				z += sc[i]
			}
			for di := 0; di < d; di++ {
				var o float64
				for ki := range sc {
					o += sc[ki] / z * float64(v[0][g][ki][di])
				}
				want = append(want, o)
			}
		}
	}
	got := run(t, model.NewStore(), func(_ *Net, in []*Node) *Node {
		return Attention(in[0], in[1], in[2], CausalMask(in[3]))
	}, q, k, v, valid)
	near(t, "attention", got, want, 1e-5)
}

// TestSwiGLUAndActivations checks the gated MLP and the GELU variants.
func TestSwiGLUAndActivations(t *testing.T) {
	x := [][]float32{{0.5, -1.5}}
	gw := [][]float32{{1, 0.5}, {-0.25, 2}}
	uw := [][]float32{{0.3, -0.2}, {1, 1}}
	dw := [][]float32{{0.7, -0.4}}
	s := storeWith(t, map[string]*tensors.Tensor{
		"mlp.gate_proj.weight": tensors.FromValue(gw), "mlp.up_proj.weight": tensors.FromValue(uw), "mlp.down_proj.weight": tensors.FromValue(dw),
	})
	mv := func(m [][]float32, v []float64) []float64 {
		var out []float64
		for _, r := range m {
			var s float64
			for i := range r {
				s += float64(r[i]) * v[i]
			}
			out = append(out, s)
		}
		return out
	}
	in := []float64{0.5, -1.5}
	gt, up := mv(gw, in), mv(uw, in)
	hid := make([]float64, 2)
	for i := range hid {
		hid[i] = gt[i] / (1 + math.Exp(-gt[i])) * up[i]
	}
	near(t, "swiglu", run(t, s, func(n *Net, in []*Node) *Node { return n.SwiGLU(in[0], "mlp.") }, x), mv(dw, hid), 1e-6)
	var gelu, tanh, quick []float64
	for _, v := range in {
		gelu = append(gelu, v/2*(1+math.Erf(v/math.Sqrt2)))
		tanh = append(tanh, v/2*(1+math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))))
		quick = append(quick, v/(1+math.Exp(-1.702*v)))
	}
	near(t, "gelu", run(t, s, func(_ *Net, in []*Node) *Node { return GELUErf(in[0]) }, x), gelu, 1e-6)
	near(t, "gelu_tanh", run(t, s, func(_ *Net, in []*Node) *Node { return GELUTanh(in[0]) }, x), tanh, 1e-6)
	near(t, "quick_gelu", run(t, s, func(_ *Net, in []*Node) *Node { return QuickGELU(in[0]) }, x), quick, 1e-6)
}

// TestSlidingCausalMask: query i sees keys j with i-window < j <= i that
// are real tokens (and always itself); window 0 is plain causal.
func TestSlidingCausalMask(t *testing.T) {
	valid := [][]bool{{true, true, true, true, true, false}}
	for _, window := range []int{0, 2, 6} {
		got := run(t, model.NewStore(), func(n *Net, in []*Node) *Node {
			return ConvertDType(SlidingCausalMask(in[0], window), dtypes.Float32)
		}, valid)
		for i := 0; i < 6; i++ {
			for j := 0; j < 6; j++ {
				want := j <= i && j < 5 && (window == 0 || i-j < window)
				if i == j {
					want = true
				}
				if (got[i*6+j] == 1) != want {
					t.Errorf("window %d: query %d key %d visible=%v", window, i, j, got[i*6+j] == 1)
				}
			}
		}
	}
}
