package loss

import (
	"fmt"
	"math"
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	_ "github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/internal/testutil"
)

func goBackend(t testing.TB) compute.Backend { return testutil.Backend(t) }

// graphOut is what evalGraph returns, laid out like refOut.
type graphOut struct {
	loss       float64
	gq, gt     [][][]float64
	gneg       [][][]float64
	gLogTau    float64
	outputType dtypes.DType
}

// evalGraph runs the graph loss on the shards in dtype dt and differentiates
// it with graph.Gradient. rank < 0 runs InfoNCEWithNegatives on the single
// shard; otherwise DistributedInfoNCE for that rank.
func evalGraph(t testing.TB, dt dtypes.DType, shards []refShard, rank int, opts Options) graphOut {
	t.Helper()
	var args []any
	for _, sh := range shards {
		args = append(args, toTensor(sh.q, dt), toTensor(sh.t, dt))
		if sh.neg != nil {
			args = append(args, toTensor(sh.neg, dt))
		}
	}
	store := model.NewStore()
	if opts.TemperatureScope != nil {
		store = opts.TemperatureScope.Store()
	}
	exec, err := model.NewExec(goBackend(t), store, func(scope *model.Scope, in []*Node) []*Node {
		g := in[0].Graph()
		scope.SetTraining(g, true)
		var qs, ts, ns []*Node
		hasNeg := false
		i := 0
		for _, sh := range shards {
			qs, ts = append(qs, in[i]), append(ts, in[i+1])
			i += 2
			if sh.neg != nil {
				ns = append(ns, in[i])
				i++
				hasNeg = true
			} else {
				ns = append(ns, nil)
			}
		}
		if !hasNeg {
			ns = nil
		}
		var l *Node
		if rank < 0 {
			var neg *Node
			if ns != nil {
				neg = ns[0]
			}
			l = InfoNCEWithNegatives(qs[0], ts[0], neg, opts)
		} else {
			l = DistributedInfoNCE(qs, ts, ns, rank, opts)
		}
		wrt := append([]*Node{}, in...)
		if opts.TemperatureScope != nil {
			wrt = append(wrt, opts.TemperatureScope.GetVariable(TemperatureVariable).NodeValue(g))
		}
		return append([]*Node{l}, Gradient(l, wrt...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	outs, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	res := graphOut{loss: scalarOf(outs[0]), outputType: outs[0].DType()}
	i := 1
	for _, sh := range shards {
		res.gq = append(res.gq, fromTensor(outs[i]))
		res.gt = append(res.gt, fromTensor(outs[i+1]))
		i += 2
		if sh.neg != nil {
			res.gneg = append(res.gneg, fromTensor(outs[i]))
			i++
		} else {
			res.gneg = append(res.gneg, nil)
		}
	}
	if opts.TemperatureScope != nil {
		res.gLogTau = scalarOf(outs[i])
	}
	return res
}

func toTensor(rows [][]float64, dt dtypes.DType) *tensors.Tensor {
	n, d := len(rows), len(rows[0])
	switch dt {
	case dtypes.Float64:
		flat := make([]float64, 0, n*d)
		for _, r := range rows {
			flat = append(flat, r...)
		}
		return tensors.FromFlatDataAndDimensions(flat, n, d)
	case dtypes.Float32:
		flat := make([]float32, 0, n*d)
		for _, r := range rows {
			for _, x := range r {
				flat = append(flat, float32(x))
			}
		}
		return tensors.FromFlatDataAndDimensions(flat, n, d)
	}
	panic(fmt.Sprintf("toTensor: dtype %s", dt))
}

func fromTensor(t *tensors.Tensor) [][]float64 {
	dims := t.Shape().Dimensions
	var flat []float64
	switch t.DType() {
	case dtypes.Float64:
		flat = tensors.MustCopyFlatData[float64](t)
	case dtypes.Float32:
		for _, x := range tensors.MustCopyFlatData[float32](t) {
			flat = append(flat, float64(x))
		}
	default:
		panic(fmt.Sprintf("fromTensor: dtype %s", t.DType()))
	}
	rows := make([][]float64, dims[0])
	for i := range rows {
		rows[i] = flat[i*dims[1] : (i+1)*dims[1]]
	}
	return rows
}

func scalarOf(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	}
	panic(fmt.Sprintf("scalarOf: %s", t.Shape()))
}

// maxAbsDiff is the largest |a−b| over matching matrices, and the largest |b|.
func maxAbsDiff(a, b [][]float64) (diff, scale float64) {
	for i := range b {
		for j := range b[i] {
			diff = math.Max(diff, math.Abs(a[i][j]-b[i][j]))
			scale = math.Max(scale, math.Abs(b[i][j]))
		}
	}
	return diff, scale
}

// compareOut checks graph results against the reference: the loss to rel
// tolerance, each gradient to tol × max(1, its largest entry).
func compareOut(t *testing.T, got graphOut, want refOut, tol float64, withTau bool) {
	t.Helper()
	if d := math.Abs(got.loss - want.loss); d > tol*math.Max(1, math.Abs(want.loss)) || math.IsNaN(got.loss) {
		t.Errorf("loss: graph %.10g, reference %.10g", got.loss, want.loss)
	}
	cmp := func(what string, r int, g, w [][]float64) {
		if d, s := maxAbsDiff(g, w); d > tol*math.Max(1, s) || math.IsNaN(d) {
			t.Errorf("grad %s[%d]: max |diff| %.3g (largest entry %.3g)", what, r, d, s)
		}
	}
	for r := range want.gq {
		cmp("q", r, got.gq[r], want.gq[r])
		cmp("t", r, got.gt[r], want.gt[r])
		if want.gneg[r] != nil {
			cmp("neg", r, got.gneg[r], want.gneg[r])
		}
	}
	if withTau {
		if d := math.Abs(got.gLogTau - want.gLogTau); d > tol*math.Max(1, math.Abs(want.gLogTau)) {
			t.Errorf("grad log τ: graph %.10g, reference %.10g", got.gLogTau, want.gLogTau)
		}
	}
}
