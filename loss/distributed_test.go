package loss

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

func TestLabels(t *testing.T) {
	// Two devices, 2 queries each, k = 2, plus 3 explicit negatives on device 0.
	got, err := Labels([]int{2, 2}, []int{4, 4}, []int{3, 0})
	if err != nil {
		t.Fatal(err)
	}
	// Device 0 candidates: rows 0–3 targets, 4–6 negatives; device 1 from 7.
	if want := []int{0, 2, 7, 9}; !slices.Equal(got, want) {
		t.Errorf("Labels = %v, want %v", got, want)
	}
	// The bug this guards against: local labels + rank·N_local ignores k.
	got, _ = Labels([]int{2, 2}, []int{6, 6}, nil)
	if want := []int{0, 3, 6, 9}; !slices.Equal(got, want) {
		t.Errorf("Labels = %v, want %v", got, want)
	}
	for _, bad := range [][3][]int{
		{{}, {}, nil},
		{{2}, {3}, nil},
		{{0}, {0}, nil},
		{{1, 1}, {1}, nil},
		{{1}, {1}, {1, 1}},
		{{1}, {1}, {-1}},
	} {
		if _, err := Labels(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("Labels%v: no error", bad)
		}
	}
}

func distShards(rng *rand.Rand) []refShard {
	// Unequal devices, k = 2 on some, explicit negatives on some: every
	// offset in the global layout differs from its local value.
	return []refShard{
		{q: randRows(rng, 2, 6, true), t: randRows(rng, 4, 6, true), neg: randRows(rng, 3, 6, true)},
		{q: randRows(rng, 3, 6, true), t: randRows(rng, 3, 6, true)},
		{q: randRows(rng, 2, 6, true), t: randRows(rng, 4, 6, true), neg: randRows(rng, 1, 6, true)},
	}
}

// TestDistributedMatchesGlobal: each rank's loss is W × the global loss, and
// its local gradient divided by W is the global loss's gradient for that
// rank's embeddings; non-local embeddings get no gradient.
func TestDistributedMatchesGlobal(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	shards := distShards(rng)
	w := float64(len(shards))
	for _, opts := range []Options{
		{},
		{Symmetric: true, Temperature: 0.05, Mask: FalseNegativeMask{Mode: MaskMargin, Margin: 0.2}},
	} {
		global := refLoss(shards, opts.temperature(), opts.Symmetric, opts.Mask, 1)
		for r := range shards {
			got := evalGraph(t, dtypes.Float64, shards, r, opts)
			if math.Abs(got.loss-w*global.loss) > 1e-10*w*global.loss {
				t.Errorf("rank %d: loss %.12g, want W·global %.12g", r, got.loss, w*global.loss)
			}
			for s := range shards {
				for _, pair := range [][2][][]float64{{got.gq[s], global.gq[s]}, {got.gt[s], global.gt[s]}, {got.gneg[s], global.gneg[s]}} {
					g, want := pair[0], pair[1]
					if want == nil {
						continue
					}
					if s != r {
						// Gathered copies are detached.
						if d, _ := maxAbsDiff(g, zeros(len(g), len(g[0]))); d != 0 {
							t.Errorf("rank %d: non-zero gradient to device %d's rows", r, s)
						}
						continue
					}
					scaled := zeros(len(g), len(g[0]))
					for i := range g {
						for j := range g[i] {
							scaled[i][j] = g[i][j] / w
						}
					}
					if d, sc := maxAbsDiff(scaled, want); d > 1e-10*math.Max(1, sc) {
						t.Errorf("rank %d: local gradient / W differs from the global gradient by %.3g", r, d)
					}
				}
			}
		}
	}
}

// TestDistributedEqualsSingleDevice: with one device, the distributed loss
// is the single-device loss (W = 1), gradients included.
func TestDistributedEqualsSingleDevice(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	sh := []refShard{{q: randRows(rng, 3, 4, true), t: randRows(rng, 6, 4, true), neg: randRows(rng, 2, 4, true)}}
	opts := Options{Symmetric: true}
	a := evalGraph(t, dtypes.Float64, sh, -1, opts)
	b := evalGraph(t, dtypes.Float64, sh, 0, opts)
	if a.loss != b.loss {
		t.Errorf("single %v, distributed W=1 %v", a.loss, b.loss)
	}
}

// TestDataParallelGradientAveraging is the DDP argument end to end: device
// r embeds its own rows with shared parameters P (e = x·P), computes
// DistributedInfoNCE on the gathered embeddings (other devices' embeddings
// enter as plain inputs, as all-gathered tensors do), and differentiates
// with respect to P and log τ. The average of the W device gradients must
// equal the gradient of the loss over the whole batch on one device.
func TestDataParallelGradientAveraging(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	const din, dout = 5, 4
	type dev struct{ xq, xt, xn [][]float64 }
	devs := []dev{
		{randRows(rng, 2, din, false), randRows(rng, 4, din, false), randRows(rng, 1, din, false)},
		{randRows(rng, 2, din, false), randRows(rng, 4, din, false), nil},
		{randRows(rng, 1, din, false), randRows(rng, 2, din, false), randRows(rng, 2, din, false)},
	}
	p := randRows(rng, din, dout, false)
	pT := tensors.FromValue(p)
	w := len(devs)
	opts := func(scope *model.Scope) Options {
		return Options{Temperature: 0.3, TemperatureScope: scope, Symmetric: true, Mask: FalseNegativeMask{Mode: MaskRatio, Ratio: 0.95}}
	}

	// One graph per device; the inputs are every device's raw rows plus P.
	// The local device embeds with the P variable; the others' embeddings
	// are computed from a constant copy, i.e. they arrive as data.
	deviceGrads := func(rank int) (gP [][]float64, gTau float64, lossV float64) {
		store := model.NewStore()
		scope := store.RootScope()
		if _, err := scope.CreateVariable("P", pT); err != nil {
			t.Fatal(err)
		}
		exec, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, g *Graph) []*Node {
			scope.SetTraining(g, true)
			pv := scope.GetVariable("P").NodeValue(g)
			embed := func(rows [][]float64, local bool) *Node {
				if rows == nil {
					return nil
				}
				x := Const(g, rows)
				if local {
					return MatMul(x, pv)
				}
				return MatMul(x, Const(g, p))
			}
			var qs, ts, ns []*Node
			for r, d := range devs {
				qs = append(qs, embed(d.xq, r == rank))
				ts = append(ts, embed(d.xt, r == rank))
				ns = append(ns, embed(d.xn, r == rank))
			}
			l := DistributedInfoNCE(qs, ts, ns, rank, opts(scope))
			grads := Gradient(l, pv, scope.GetVariable(TemperatureVariable).NodeValue(g))
			return []*Node{l, grads[0], grads[1]}
		})
		if err != nil {
			t.Fatal(err)
		}
		defer exec.Finalize()
		outs, err := exec.Exec()
		if err != nil {
			t.Fatal(err)
		}
		return fromTensor(outs[1]), scalarOf(outs[2]), scalarOf(outs[0])
	}

	// The global computation: all rows on one device, no scaling.
	store := model.NewStore()
	scope := store.RootScope()
	if _, err := scope.CreateVariable("P", pT); err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, g *Graph) []*Node {
		scope.SetTraining(g, true)
		pv := scope.GetVariable("P").NodeValue(g)
		var xq, xt, xn [][]float64
		for _, d := range devs {
			xq = append(xq, d.xq...)
			// Every device has k = 2, so the concatenated targets keep the
			// k-layout; negatives move to the end, which reorders candidate
			// columns but cannot change a cross-entropy.
			xt = append(xt, d.xt...)
			xn = append(xn, d.xn...)
		}
		l := InfoNCEWithNegatives(MatMul(Const(g, xq), pv), MatMul(Const(g, xt), pv), MatMul(Const(g, xn), pv), opts(scope))
		grads := Gradient(l, pv, scope.GetVariable(TemperatureVariable).NodeValue(g))
		return []*Node{l, grads[0], grads[1]}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Exec()
	if err != nil {
		t.Fatal(err)
	}
	globalLoss, globalGP, globalTau := scalarOf(outs[0]), fromTensor(outs[1]), scalarOf(outs[2])

	avg := zeros(din, dout)
	avgTau := 0.0
	for r := 0; r < w; r++ {
		gP, gTau, l := deviceGrads(r)
		if math.Abs(l/float64(w)-globalLoss) > 1e-12*math.Max(1, globalLoss) {
			t.Errorf("rank %d: loss/W %.12g, global %.12g", r, l/float64(w), globalLoss)
		}
		for i := range avg {
			for j := range avg[i] {
				avg[i][j] += gP[i][j] / float64(w)
			}
		}
		avgTau += gTau / float64(w)
	}
	if d, s := maxAbsDiff(avg, globalGP); d > 1e-10*math.Max(1, s) {
		t.Errorf("mean of device gradients differs from the global gradient by %.3g (scale %.3g)", d, s)
	}
	if math.Abs(avgTau-globalTau) > 1e-10*math.Max(1, math.Abs(globalTau)) {
		t.Errorf("mean device ∂L/∂log τ %.12g, global %.12g", avgTau, globalTau)
	}
	// Sanity: the test would notice a missing ×W (gradients W times too small).
	if d, _ := maxAbsDiff(avg, zeros(din, dout)); d == 0 {
		t.Fatal("zero gradients: the test proves nothing")
	}
}
