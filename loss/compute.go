package loss

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
)

// Result is what ComputeWithGradients returns: the loss and its gradients
// with respect to every input row, as GradCache's cache step needs them.
type Result struct {
	Loss float64
	// Gradients, shaped like the inputs (GradNegatives is nil without
	// negatives).
	GradQueries, GradTargets, GradNegatives [][]float32
	// Temperature is the τ used (after clamping, for a learnable one).
	Temperature float64
	// GradLogTemperature is ∂L/∂log τ for a learnable temperature, else 0.
	GradLogTemperature float64
}

// Compute evaluates InfoNCE(q, t) on host slices: q is [N][d], t is [N·k][d].
// Shape problems come back as errors. It compiles a graph per call, so for a
// training loop build an Exec around InfoNCE instead.
func Compute(backend compute.Backend, q, t [][]float32, opts Options) (float64, error) {
	r, err := run(backend, q, t, nil, opts, false)
	if err != nil {
		return 0, err
	}
	return r.Loss, nil
}

// ComputeWithGradients evaluates InfoNCEWithNegatives(q, t, neg) on host
// slices (neg may be nil or empty) and returns the loss with its gradients.
// With Options.TemperatureScope the variable lives in that scope's store and
// is read (created if needed) but not updated.
func ComputeWithGradients(backend compute.Backend, q, t, neg [][]float32, opts Options) (*Result, error) {
	return run(backend, q, t, neg, opts, true)
}

func run(backend compute.Backend, q, t, neg [][]float32, opts Options, grads bool) (res *Result, err error) {
	if backend == nil {
		return nil, fmt.Errorf("loss: nil backend")
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	dim := -1
	qt, err := hostTensor("queries", q, &dim, false)
	if err != nil {
		return nil, err
	}
	tt, err := hostTensor("targets", t, &dim, false)
	if err != nil {
		return nil, err
	}
	nt, err := hostTensor("negatives", neg, &dim, true)
	if err != nil {
		return nil, err
	}
	if len(t)%len(q) != 0 {
		return nil, fmt.Errorf("loss: %d targets is not a multiple of %d queries", len(t), len(q))
	}

	store := model.NewStore()
	if opts.TemperatureScope != nil {
		store = opts.TemperatureScope.Store()
	}
	exec, err := model.NewExec(backend, store, func(scope *model.Scope, in []*Node) []*Node {
		g := in[0].Graph()
		// Variables read as graph parameters, not baked-in constants, so the
		// gradient to log τ exists.
		scope.SetTraining(g, true)
		var negNode *Node
		if len(in) == 3 {
			negNode = in[2]
		}
		l := InfoNCEWithNegatives(in[0], in[1], negNode, opts)
		tau := temperature(g, l.DType(), opts, 1, -1)
		outs := []*Node{l, tau}
		if !grads {
			return outs
		}
		wrt := []*Node{in[0], in[1]}
		if negNode != nil {
			wrt = append(wrt, negNode)
		}
		if opts.TemperatureScope != nil {
			wrt = append(wrt, opts.TemperatureScope.GetVariable(TemperatureVariable).NodeValue(g))
		}
		return append(outs, Gradient(l, wrt...)...)
	})
	if err != nil {
		return nil, fmt.Errorf("loss: %w", err)
	}
	defer exec.Finalize()
	defer func() {
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("loss: %v", r)
		}
	}()
	args := []any{qt, tt}
	if nt != nil {
		args = append(args, nt)
	}
	outs, err := exec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("loss: %w", err)
	}
	res = &Result{
		Loss:        float64(outs[0].Value().(float32)),
		Temperature: float64(outs[1].Value().(float32)),
	}
	if !grads {
		return res, nil
	}
	res.GradQueries = outs[2].Value().([][]float32)
	res.GradTargets = outs[3].Value().([][]float32)
	next := 4
	if nt != nil {
		res.GradNegatives = outs[next].Value().([][]float32)
		next++
	}
	if opts.TemperatureScope != nil {
		res.GradLogTemperature = float64(outs[next].Value().(float32))
	}
	return res, nil
}

// hostTensor checks that rows is a non-empty rectangular [n][dim] matrix
// (empty allowed when optional) and converts it.
func hostTensor(what string, rows [][]float32, dim *int, optional bool) (*tensors.Tensor, error) {
	if len(rows) == 0 {
		if optional {
			return nil, nil
		}
		return nil, fmt.Errorf("loss: no %s", what)
	}
	flat := make([]float32, 0, len(rows)*len(rows[0]))
	for i, row := range rows {
		if *dim < 0 {
			if len(row) == 0 {
				return nil, fmt.Errorf("loss: %s have dimension 0", what)
			}
			*dim = len(row)
		}
		if len(row) != *dim {
			return nil, fmt.Errorf("loss: %s row %d has dimension %d, expected %d", what, i, len(row), *dim)
		}
		flat = append(flat, row...)
	}
	return tensors.FromFlatDataAndDimensions(flat, len(rows), *dim), nil
}
