package loss

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/gomlx/gomlx/ml/model"
)

type lossCase struct {
	name   string
	shards []refShard
	opts   Options
}

func singleCases() []lossCase {
	rng := rand.New(rand.NewPCG(7, 11))
	return []lossCase{
		{"k1 default tau", []refShard{{q: randRows(rng, 4, 8, true), t: randRows(rng, 4, 8, true)}}, Options{}},
		{"N=1 k=1", []refShard{{q: randRows(rng, 1, 8, true), t: randRows(rng, 1, 8, true)}}, Options{}},
		{"N=1 k=4", []refShard{{q: randRows(rng, 1, 8, true), t: randRows(rng, 4, 8, true)}}, Options{Temperature: 0.1}},
		{"k3 hard negatives layout", []refShard{{q: randRows(rng, 3, 8, true), t: randRows(rng, 9, 8, true)}}, Options{Temperature: 0.05}},
		{"explicit negatives", []refShard{{q: randRows(rng, 3, 8, true), t: randRows(rng, 3, 8, true), neg: randRows(rng, 6, 8, true)}}, Options{}},
		{"k2 plus explicit negatives symmetric", []refShard{{q: randRows(rng, 3, 8, true), t: randRows(rng, 6, 8, true), neg: randRows(rng, 2, 8, true)}}, Options{Symmetric: true, Temperature: 0.07}},
		{"symmetric k1", []refShard{{q: randRows(rng, 5, 8, true), t: randRows(rng, 5, 8, true)}}, Options{Symmetric: true}},
		{"ratio mask", []refShard{{q: randRows(rng, 6, 3, true), t: randRows(rng, 6, 3, true), neg: randRows(rng, 6, 3, true)}}, Options{Mask: FalseNegativeMask{Mode: MaskRatio, Ratio: 0.5}}},
		{"margin mask symmetric", []refShard{{q: randRows(rng, 6, 3, true), t: randRows(rng, 12, 3, true)}}, Options{Symmetric: true, Mask: FalseNegativeMask{Mode: MaskMargin, Margin: 0.1}}},
		{"unnormalised", []refShard{{q: randRows(rng, 4, 5, false), t: randRows(rng, 8, 5, false)}}, Options{Temperature: 1}},
	}
}

// TestInfoNCEMatchesReference compares loss and graph.Gradient against the
// float64 reference, in float64 (tight) and float32 (loose) graphs.
func TestInfoNCEMatchesReference(t *testing.T) {
	for _, c := range singleCases() {
		t.Run(c.name, func(t *testing.T) {
			want := refLoss(c.shards, c.opts.temperature(), c.opts.Symmetric, c.opts.Mask, 1)
			got64 := evalGraph(t, dtypes.Float64, c.shards, -1, c.opts)
			if got64.outputType != dtypes.Float64 {
				t.Errorf("float64 inputs gave a %s loss", got64.outputType)
			}
			compareOut(t, got64, want, 1e-10, false)
			got32 := evalGraph(t, dtypes.Float32, c.shards, -1, c.opts)
			if got32.outputType != dtypes.Float32 {
				t.Errorf("float32 inputs gave a %s loss", got32.outputType)
			}
			compareOut(t, got32, want, 2e-4, false)
		})
	}
}

// TestReferenceFormula pins the k=1 reference to the formula of spec §2
// written out directly: L = −(1/N) Σ log(exp(qᵢ·tᵢ/τ) / Σⱼ exp(qᵢ·tⱼ/τ)).
func TestReferenceFormula(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	q, tt := randRows(rng, 5, 6, true), randRows(rng, 5, 6, true)
	const tau = 0.5
	want := 0.0
	for i := range q {
		den := 0.0
		for j := range tt {
			den += math.Exp(dot(q[i], tt[j]) / tau)
		}
		want -= math.Log(math.Exp(dot(q[i], tt[i])/tau)/den) / 5
	}
	got := refLoss([]refShard{{q: q, t: tt}}, tau, false, FalseNegativeMask{}, 1).loss
	if math.Abs(got-want) > 1e-12 {
		t.Fatalf("reference %.15g, formula %.15g", got, want)
	}
}

// TestIdenticalEmbeddings: every logit equal, so the softmax is uniform and
// the loss is log M (M candidates), for both directions.
func TestIdenticalEmbeddings(t *testing.T) {
	v := []float64{0.6, 0.8, 0}
	rows := func(n int) [][]float64 {
		r := make([][]float64, n)
		for i := range r {
			r[i] = append([]float64{}, v...)
		}
		return r
	}
	for _, c := range []struct {
		n, m, neg int
		sym       bool
	}{{4, 4, 0, false}, {3, 9, 0, false}, {2, 2, 5, true}} {
		var neg [][]float64
		if c.neg > 0 {
			neg = rows(c.neg)
		}
		sh := []refShard{{q: rows(c.n), t: rows(c.m), neg: neg}}
		got := evalGraph(t, dtypes.Float32, sh, -1, Options{Symmetric: c.sym})
		want := math.Log(float64(c.m + c.neg))
		if c.sym {
			want = (want + math.Log(float64(c.n))) / 2
		}
		if math.Abs(got.loss-want) > 1e-5 {
			t.Errorf("N=%d M=%d neg=%d: loss %.7g, want log M = %.7g", c.n, c.m, c.neg, got.loss, want)
		}
	}
}

// TestZeroVectors: zero embeddings give all-zero logits (loss log M) and
// finite gradients.
func TestZeroVectors(t *testing.T) {
	sh := []refShard{{q: zeros(3, 4), t: zeros(6, 4)}}
	for _, opts := range []Options{{}, {Symmetric: true, Mask: FalseNegativeMask{Mode: MaskRatio, Ratio: 0.9}}} {
		got := evalGraph(t, dtypes.Float32, sh, -1, opts)
		want := refLoss(sh, opts.temperature(), opts.Symmetric, opts.Mask, 1)
		compareOut(t, got, want, 1e-5, false)
	}
	if got := evalGraph(t, dtypes.Float32, sh, -1, Options{}); math.Abs(got.loss-math.Log(6)) > 1e-6 {
		t.Errorf("loss %.7g, want log 6", got.loss)
	}
}

// TestLargeLogits: the log-sum-exp must not overflow, neither at VLM2Vec's
// scale (unit vectors, τ = 0.02: logits up to 50) nor with scores of 1e4
// (logits up to 5e5, far past float32's exp range).
func TestLargeLogits(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	unitQ, unitT := randRows(rng, 6, 16, true), randRows(rng, 12, 16, true)
	// Make some positives near-identical to their query: logits near 50.
	for i := range unitQ {
		copy(unitT[2*i], unitQ[i])
	}
	big := func(rows [][]float64) [][]float64 {
		out := zeros(len(rows), len(rows[0]))
		for i := range rows {
			for j := range rows[i] {
				out[i][j] = rows[i][j] * 100 // scores up to 1e4
			}
		}
		return out
	}
	cases := []struct {
		name string
		sh   []refShard
		opts Options
		tol  float64
	}{
		{"tau 0.02 unit", []refShard{{q: unitQ, t: unitT}}, Options{}, 2e-4},
		{"tau 0.02 unit symmetric masked", []refShard{{q: unitQ, t: unitT}}, Options{Symmetric: true, Mask: FalseNegativeMask{Mode: MaskMargin, Margin: 0.05}}, 2e-4},
		// float32 scores of 1e4 carry ~1e-3 absolute error, ×50 in logits:
		// compare relative to the loss itself.
		{"scores 1e4", []refShard{{q: big(unitQ), t: big(unitT)}}, Options{}, 1e-3},
		{"scores 1e4 masked", []refShard{{q: big(unitQ), t: big(unitT)}}, Options{Mask: FalseNegativeMask{Mode: MaskRatio, Ratio: 0.5}}, 1e-3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := evalGraph(t, dtypes.Float32, c.sh, -1, c.opts)
			want := refLoss(c.sh, c.opts.temperature(), c.opts.Symmetric, c.opts.Mask, 1)
			if math.IsNaN(got.loss) || math.IsInf(got.loss, 0) {
				t.Fatalf("loss %v", got.loss)
			}
			for r := range got.gq {
				for _, g := range [][][]float64{got.gq[r], got.gt[r]} {
					for _, row := range g {
						for _, x := range row {
							if math.IsNaN(x) || math.IsInf(x, 0) {
								t.Fatalf("non-finite gradient %v", x)
							}
						}
					}
				}
			}
			compareOut(t, got, want, c.tol, false)
		})
	}
}

// TestMaskRemovesAllNegatives: with every negative masked only the positive
// is left, so the loss and all gradients are exactly 0.
func TestMaskRemovesAllNegatives(t *testing.T) {
	v := []float64{1, 0}
	sh := []refShard{{q: [][]float64{v, v}, t: [][]float64{v, v, v, v}, neg: [][]float64{v}}}
	for _, opts := range []Options{
		{Mask: FalseNegativeMask{Mode: MaskRatio, Ratio: 0.5}},
		{Symmetric: true, Mask: FalseNegativeMask{Mode: MaskMargin, Margin: 0.01}},
	} {
		got := evalGraph(t, dtypes.Float32, sh, -1, opts)
		if got.loss != 0 {
			t.Errorf("%+v: loss %g, want 0", opts.Mask, got.loss)
		}
		for _, g := range [][][]float64{got.gq[0], got.gt[0], got.gneg[0]} {
			if d, _ := maxAbsDiff(g, zeros(len(g), 2)); d != 0 {
				t.Errorf("%+v: gradient %v, want 0", opts.Mask, g)
			}
		}
	}
	// Without the mask the same batch is uniform: log 5.
	if got := evalGraph(t, dtypes.Float32, sh, -1, Options{}); math.Abs(got.loss-math.Log(5)) > 1e-6 {
		t.Errorf("unmasked loss %g, want log 5", got.loss)
	}
}

// TestMaskNeverMasksPositive: a rule that would drop everything (ratio
// below the positive itself) still keeps the positive; a duplicate of the
// positive among the negatives is what masking exists to remove.
func TestMaskNeverMasksPositive(t *testing.T) {
	a, b := []float64{1, 0}, []float64{0, 1}
	// Query 0's positive a is duplicated as query 1's negative row.
	sh := []refShard{{q: [][]float64{a, b}, t: [][]float64{a, b, b, a}}}
	opts := Options{Temperature: 0.1, Mask: FalseNegativeMask{Mode: MaskRatio, Ratio: 0.9}}
	got := evalGraph(t, dtypes.Float32, sh, -1, opts)
	// Each query keeps its positive (score 1) and the orthogonal rows
	// (score 0); the duplicate (score 1 > 0.9) is masked: loss = log(1 + 2e^-10).
	want := math.Log1p(2 * math.Exp(-10))
	if math.Abs(got.loss-want) > 1e-6 {
		t.Errorf("loss %.9g, want %.9g", got.loss, want)
	}
	// A masked candidate scoring far above the positive (logit 5000 vs 50)
	// must not take part in the max, or every kept term underflows.
	far := []refShard{{q: [][]float64{a, b}, t: [][]float64{a, b}, neg: [][]float64{{100, 0}}}}
	got = evalGraph(t, dtypes.Float32, far, -1, Options{Mask: FalseNegativeMask{Mode: MaskMargin}})
	compareOut(t, got, refLoss(far, DefaultTemperature, false, FalseNegativeMask{Mode: MaskMargin}, 1), 1e-5, false)
	// Ratio −1: "mask everything above −s_pos" would include the positive.
	got = evalGraph(t, dtypes.Float32, sh, -1, Options{Mask: FalseNegativeMask{Mode: MaskRatio, Ratio: -1}})
	if got.loss != 0 {
		t.Errorf("loss %g, want 0 (positive alone)", got.loss)
	}
}

// TestBFloat16Inputs: bf16 embeddings are upcast before the scores, so the
// loss equals the float32 loss of the bf16-rounded values.
func TestBFloat16Inputs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	sh := []refShard{{q: randRows(rng, 4, 8, true), t: randRows(rng, 4, 8, true)}}
	run := func(dt dtypes.DType) float64 {
		exec, err := NewExec(goBackend(t), func(q, tt *Node) *Node {
			return InfoNCE(ConvertDType(q, dt), ConvertDType(tt, dt), Options{})
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		out, err := exec.Exec(toTensor(sh[0].q, dtypes.Float32), toTensor(sh[0].t, dtypes.Float32))
		if err != nil {
			t.Fatal(err)
		}
		if out[0].DType() != dtypes.Float32 {
			t.Errorf("%s inputs gave a %s loss", dt, out[0].DType())
		}
		return scalarOf(out[0])
	}
	// Reference on the rounded values.
	round := func(rows [][]float64) [][]float64 {
		out := zeros(len(rows), len(rows[0]))
		for i := range rows {
			for j, x := range rows[i] {
				bits := math.Float32bits(float32(x))
				bits += 0x7fff + (bits>>16)&1 // round to nearest even
				out[i][j] = float64(math.Float32frombits(bits &^ 0xffff))
			}
		}
		return out
	}
	want := refLoss([]refShard{{q: round(sh[0].q), t: round(sh[0].t)}}, DefaultTemperature, false, FalseNegativeMask{}, 1).loss
	if got := run(dtypes.BFloat16); math.Abs(got-want) > 1e-4*math.Max(1, want) {
		t.Errorf("bf16 loss %.7g, reference on rounded inputs %.7g", got, want)
	}
	if got := run(dtypes.Float16); math.IsNaN(got) {
		t.Errorf("f16 loss NaN")
	}
}

// TestLearnableTemperature: the log τ variable gets the reference gradient,
// clamping stops it, and LearnedTemperature reads τ back.
func TestLearnableTemperature(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	sh := []refShard{{q: randRows(rng, 4, 6, true), t: randRows(rng, 8, 6, true)}}
	store := model.NewStore()
	scope := store.RootScope().In("loss")
	opts := Options{Temperature: 0.07, TemperatureScope: scope, Symmetric: true}
	got := evalGraph(t, dtypes.Float32, sh, -1, opts)
	want := refLoss(sh, 0.07, true, FalseNegativeMask{}, 1)
	compareOut(t, got, want, 2e-4, true)
	tau, err := LearnedTemperature(scope)
	if err != nil || math.Abs(tau-0.07) > 1e-7 {
		t.Fatalf("LearnedTemperature = %g, %v; want 0.07", tau, err)
	}

	// Clamped from below at 0.1: τ is 0.1 and the gradient to log τ is 0.
	clamped := opts
	clamped.MinTemperature = 0.1
	got = evalGraph(t, dtypes.Float32, sh, -1, clamped)
	want = refLoss(sh, 0.1, true, FalseNegativeMask{}, 1)
	if math.Abs(got.loss-want.loss) > 1e-5*math.Max(1, want.loss) || got.gLogTau != 0 {
		t.Errorf("clamped: loss %g (want %g), grad log τ %g (want 0)", got.loss, want.loss, got.gLogTau)
	}
	// An upper clamp above the value changes nothing.
	upper := opts
	upper.MaxTemperature = 1
	got = evalGraph(t, dtypes.Float32, sh, -1, upper)
	compareOut(t, got, refLoss(sh, 0.07, true, FalseNegativeMask{}, 1), 2e-4, true)

	if _, err := LearnedTemperature(store.RootScope().In("other")); err == nil {
		t.Error("LearnedTemperature on an empty scope: no error")
	}
}

// TestComputeHost checks the host-slice API against the reference and its
// error reporting.
func TestComputeHost(t *testing.T) {
	be := goBackend(t)
	rng := rand.New(rand.NewPCG(21, 22))
	q64, t64, n64 := randRows(rng, 3, 5, true), randRows(rng, 6, 5, true), randRows(rng, 2, 5, true)
	f32 := func(rows [][]float64) [][]float32 {
		out := make([][]float32, len(rows))
		for i, r := range rows {
			for _, x := range r {
				out[i] = append(out[i], float32(x))
			}
		}
		return out
	}
	q, tt, neg := f32(q64), f32(t64), f32(n64)
	opts := Options{Symmetric: true, Temperature: 0.05}

	l, err := Compute(be, q, tt, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := refLoss([]refShard{{q: q64, t: t64}}, 0.05, true, FalseNegativeMask{}, 1)
	if math.Abs(l-want.loss) > 1e-5*math.Max(1, want.loss) {
		t.Errorf("Compute %.7g, reference %.7g", l, want.loss)
	}

	res, err := ComputeWithGradients(be, q, tt, neg, opts)
	if err != nil {
		t.Fatal(err)
	}
	want = refLoss([]refShard{{q: q64, t: t64, neg: n64}}, 0.05, true, FalseNegativeMask{}, 1)
	to64 := func(rows [][]float32) [][]float64 {
		out := zeros(len(rows), len(rows[0]))
		for i := range rows {
			for j, x := range rows[i] {
				out[i][j] = float64(x)
			}
		}
		return out
	}
	compareOut(t, graphOut{loss: res.Loss, gq: [][][]float64{to64(res.GradQueries)}, gt: [][][]float64{to64(res.GradTargets)}, gneg: [][][]float64{to64(res.GradNegatives)}}, want, 2e-4, false)
	if math.Abs(res.Temperature-0.05) > 1e-8 {
		t.Errorf("Temperature %g", res.Temperature)
	}

	// Learnable temperature through the host API.
	scope := model.NewStore().RootScope()
	res, err = ComputeWithGradients(be, q, tt, nil, Options{TemperatureScope: scope, Temperature: 0.05})
	if err != nil {
		t.Fatal(err)
	}
	want = refLoss([]refShard{{q: q64, t: t64}}, 0.05, false, FalseNegativeMask{}, 1)
	if math.Abs(res.GradLogTemperature-want.gLogTau) > 2e-4*math.Max(1, math.Abs(want.gLogTau)) {
		t.Errorf("grad log τ %g, reference %g", res.GradLogTemperature, want.gLogTau)
	}

	bad := []struct {
		name      string
		q, t, neg [][]float32
		opts      Options
		errPart   string
	}{
		{"no queries", nil, tt, nil, Options{}, "no queries"},
		{"no targets", q, nil, nil, Options{}, "no targets"},
		{"not a multiple", q, tt[:4], nil, Options{}, "not a multiple"},
		{"dim mismatch", q, [][]float32{{1, 2}, {3, 4}, {5, 6}}, nil, Options{}, "dimension"},
		{"ragged", [][]float32{{1, 2}, {3}}, [][]float32{{1, 2}, {3, 4}}, nil, Options{}, "row 1"},
		{"negative dim mismatch", q, tt, [][]float32{{1}}, Options{}, "negatives"},
		{"zero dim", [][]float32{{}}, [][]float32{{}}, nil, Options{}, "dimension 0"},
		{"bad temperature", q, tt, nil, Options{Temperature: -1}, "temperature"},
		{"bad margin", q, tt, nil, Options{Mask: FalseNegativeMask{Mode: MaskMargin, Margin: -1}}, "margin"},
		{"bad bounds", q, tt, nil, Options{MinTemperature: 1, MaxTemperature: 0.5}, "MinTemperature"},
		{"bad mode", q, tt, nil, Options{Mask: FalseNegativeMask{Mode: 7}}, "mask mode"},
	}
	for _, c := range bad {
		if _, err := ComputeWithGradients(be, c.q, c.t, c.neg, c.opts); err == nil || !strings.Contains(err.Error(), c.errPart) {
			t.Errorf("%s: error %v, want one mentioning %q", c.name, err, c.errPart)
		}
	}
	if _, err := Compute(nil, q, tt, Options{}); err == nil {
		t.Error("nil backend: no error")
	}
}

// TestGraphShapePanics: graph functions panic with an error naming the
// problem (GoMLX's convention for graph-building code).
func TestGraphShapePanics(t *testing.T) {
	cases := []struct {
		name    string
		fn      func(q, tt *Node) *Node
		errPart string
	}{
		{"targets not a multiple", func(q, tt *Node) *Node { return InfoNCE(q, Slice(tt, AxisRange(0, 5)), Options{}) }, "5 targets for 3 queries"},
		{"dim mismatch", func(q, tt *Node) *Node { return InfoNCE(q, Slice(tt, AxisRange(), AxisRange(0, 2)), Options{}) }, "dim 2, expected 4"},
		{"rank", func(q, tt *Node) *Node { return InfoNCE(Reshape(q, -1), tt, Options{}) }, "[rows, dim]"},
		{"rank out of range", func(q, tt *Node) *Node { return DistributedInfoNCE([]*Node{q}, []*Node{tt}, nil, 1, Options{}) }, "rank 1 out of range"},
		{"list lengths", func(q, tt *Node) *Node { return DistributedInfoNCE([]*Node{q, q}, []*Node{tt}, nil, 0, Options{}) }, "2 query tensors but 1 target"},
		{"int inputs", func(q, tt *Node) *Node {
			return InfoNCE(ConvertDType(q, dtypes.Int32), tt, Options{})
		}, "float"},
		{"bad options", func(q, tt *Node) *Node { return InfoNCE(q, tt, Options{Temperature: math.NaN()}) }, "temperature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			exec, err := NewExec(goBackend(t), c.fn)
			if err != nil {
				t.Fatal(err)
			}
			defer exec.Finalize()
			_, err = exec.Exec(toTensor(zeros(3, 4), dtypes.Float32), toTensor(zeros(6, 4), dtypes.Float32))
			if err == nil || !strings.Contains(err.Error(), c.errPart) {
				t.Errorf("error %v, want one mentioning %q", err, c.errPart)
			}
		})
	}
}
