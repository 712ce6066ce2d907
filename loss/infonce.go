package loss

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/gomlx/gomlx/core/tensors"
)

// Graph functions panic (with an error value) on inconsistent shapes or
// options, GoMLX-style; Compute and ComputeWithGradients recover and
// return errors.

// InfoNCE is VLM2Vec's contrastive loss over in-batch negatives.
//
// q is [N, d] and t is [M, d] with M = N·k: each query owns k consecutive
// rows of t laid out [pos, neg_1, …, neg_{k-1}], so query i's positive is
// row i·k and every row of t is a candidate for every query. The result is
// the scalar mean cross-entropy of softmax(q·tᵀ/τ) against those labels.
//
// Scores, softmax and log-sum-exp run in float32 (float64 if an input is
// float64) whatever the input dtype; the result has that dtype. Gradients
// flow to q, t and, with Options.TemperatureScope, to log τ.
func InfoNCE(q, t *Node, opts Options) *Node {
	return InfoNCEWithNegatives(q, t, nil, opts)
}

// InfoNCEWithNegatives is InfoNCE with an extra tensor of explicit hard
// negatives neg [K, d] (often K = N·k_neg, but any K works; nil means none).
// The negatives are extra candidate columns for every query, exactly as if
// they were interleaved into t's k-layout: the loss value is the same,
// because cross-entropy does not depend on the column order.
func InfoNCEWithNegatives(q, t, neg *Node, opts Options) *Node {
	return build([]shard{{q, t, neg}}, -1, opts)
}

// DistributedInfoNCE is the cross-device loss of VLM2Vec's
// DistributedContrastiveLoss, for the device of the given rank.
//
// queries[r], targets[r] and (optionally) negatives[r] are device r's
// tensors, in rank order, as an all-gather returns them; each entry keeps
// the single-device layout (targets[r] is [N_r·k_r, d]). Only the local
// (rank) tensors carry gradients: the others are wrapped in StopGradient, as
// all-gathered copies are in the reference. The loss is computed over the
// global batch (labels from global offsets, see Labels) and multiplied by the
// world size W = len(queries), so that averaging the W per-device gradients
// (what DDP's all-reduce does) yields the gradient of the global loss.
// Divide the value by W for logging.
//
// A learnable temperature sees the global loss on every device, not just
// through local embeddings, so its gradient is scaled by 1/W here (the value
// is unchanged) to keep the averaged gradient equal to the global one.
//
// negatives may be nil, or have W entries, any of which may be nil.
func DistributedInfoNCE(queries, targets, negatives []*Node, rank int, opts Options) *Node {
	w := len(queries)
	if w == 0 {
		panic(fmt.Errorf("loss: DistributedInfoNCE needs at least one device"))
	}
	if len(targets) != w {
		panic(fmt.Errorf("loss: %d query tensors but %d target tensors", w, len(targets)))
	}
	if negatives != nil && len(negatives) != w {
		panic(fmt.Errorf("loss: %d query tensors but %d negative tensors", w, len(negatives)))
	}
	if rank < 0 || rank >= w {
		panic(fmt.Errorf("loss: rank %d out of range [0, %d)", rank, w))
	}
	shards := make([]shard, w)
	for r := range shards {
		shards[r] = shard{q: queries[r], t: targets[r]}
		if negatives != nil {
			shards[r].neg = negatives[r]
		}
	}
	return build(shards, rank, opts)
}

// Labels returns the global label (candidate column) of every query when
// device r contributes queryRows[r] queries, targetRows[r] targets in the
// k-layout and negativeRows[r] explicit negatives (negativeRows may be nil).
// Candidates are concatenated in rank order as [targets_r; negatives_r], so
// query i of device r has label off_r + i·k_r with
// off_r = Σ_{s<r} (targetRows[s] + negativeRows[s]) and
// k_r = targetRows[r] / queryRows[r]. Offsets come from the global layout,
// never from local indices, so labels stay right whatever each device holds.
func Labels(queryRows, targetRows, negativeRows []int) ([]int, error) {
	if len(queryRows) == 0 || len(targetRows) != len(queryRows) {
		return nil, fmt.Errorf("loss: need one target count per query count, got %d and %d", len(queryRows), len(targetRows))
	}
	if negativeRows != nil && len(negativeRows) != len(queryRows) {
		return nil, fmt.Errorf("loss: need one negative count per device, got %d for %d devices", len(negativeRows), len(queryRows))
	}
	var labels []int
	off := 0
	for r, n := range queryRows {
		m := targetRows[r]
		if n <= 0 {
			return nil, fmt.Errorf("loss: device %d has %d queries (need ≥ 1)", r, n)
		}
		if m <= 0 || m%n != 0 {
			return nil, fmt.Errorf("loss: device %d has %d targets for %d queries (need a positive multiple)", r, m, n)
		}
		k := m / n
		for i := 0; i < n; i++ {
			labels = append(labels, off+i*k)
		}
		off += m
		if negativeRows != nil {
			if negativeRows[r] < 0 {
				return nil, fmt.Errorf("loss: device %d has %d negatives", r, negativeRows[r])
			}
			off += negativeRows[r]
		}
	}
	return labels, nil
}

// shard is one device's share of the batch.
type shard struct{ q, t, neg *Node }

// build computes the loss over the concatenation of the shards. local < 0
// means a single device (no detaching, no scaling).
func build(shards []shard, local int, opts Options) *Node {
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	g, dt := checkShards(shards)

	qRows := make([]int, len(shards))
	tRows := make([]int, len(shards))
	nRows := make([]int, len(shards))
	var qs, cs []*Node
	for r, s := range shards {
		q, t := ConvertDType(s.q, dt), ConvertDType(s.t, dt)
		var n *Node
		if s.neg != nil {
			n = ConvertDType(s.neg, dt)
		}
		if local >= 0 && r != local {
			// All-gathered copies carry no gradient in the reference.
			q, t = StopGradient(q), StopGradient(t)
			if n != nil {
				n = StopGradient(n)
			}
		}
		qRows[r], tRows[r] = q.Shape().Dimensions[0], t.Shape().Dimensions[0]
		qs, cs = append(qs, q), append(cs, t)
		if n != nil {
			nRows[r] = n.Shape().Dimensions[0]
			cs = append(cs, n)
		}
	}
	labels, err := Labels(qRows, tRows, nRows)
	if err != nil {
		panic(err)
	}
	Q, C := concatRows(qs), concatRows(cs)
	n, m := Q.Shape().Dimensions[0], C.Shape().Dimensions[0]

	isPos := make([]bool, n*m)
	for i, l := range labels {
		isPos[i*m+l] = true
	}
	pos := Const(g, tensors.FromFlatDataAndDimensions(isPos, n, m))

	scores := Einsum("nd,md->nm", Q, C) // raw dot products, [N, M]
	tau := temperature(g, dt, opts, len(shards), local)
	out := rowLoss(scores, pos, tau, opts.Mask)
	if opts.Symmetric {
		// tq[a, j] = scores[j, label_a]: anchor a is query a's positive target,
		// classifying query a among all queries. The one-hot product selects
		// exactly (x·1 plus zeros).
		tq := Einsum("am,jm->aj", ConvertDType(pos, dt), scores)
		eye := make([]bool, n*n)
		for i := 0; i < n; i++ {
			eye[i*n+i] = true
		}
		tqLoss := rowLoss(tq, Const(g, tensors.FromFlatDataAndDimensions(eye, n, n)), tau, opts.Mask)
		out = MulScalar(Add(out, tqLoss), 0.5)
	}
	if local >= 0 {
		out = MulScalar(out, float64(len(shards)))
	}
	return out
}

// checkShards validates shapes and picks the compute dtype.
func checkShards(shards []shard) (*Graph, dtypes.DType) {
	var g *Graph
	dt := dtypes.Float32
	dim := -1
	check := func(r int, what string, x *Node) {
		if x == nil {
			panic(fmt.Errorf("loss: device %d: nil %s tensor", r, what))
		}
		if g == nil {
			g = x.Graph()
		} else if x.Graph() != g {
			panic(fmt.Errorf("loss: device %d: %s tensor belongs to another graph", r, what))
		}
		if !x.DType().IsFloat() {
			panic(fmt.Errorf("loss: device %d: %s must be a float tensor, got %s", r, what, x.Shape()))
		}
		if x.Rank() != 2 {
			panic(fmt.Errorf("loss: device %d: %s must be [rows, dim], got %s", r, what, x.Shape()))
		}
		if dim < 0 {
			dim = x.Shape().Dimensions[1]
		} else if x.Shape().Dimensions[1] != dim {
			panic(fmt.Errorf("loss: device %d: %s has dim %d, expected %d", r, what, x.Shape().Dimensions[1], dim))
		}
		if x.DType() == dtypes.Float64 {
			dt = dtypes.Float64
		}
	}
	for r, s := range shards {
		check(r, "query", s.q)
		check(r, "target", s.t)
		if s.neg != nil {
			check(r, "negative", s.neg)
		}
	}
	return g, dt
}

func concatRows(xs []*Node) *Node {
	if len(xs) == 1 {
		return xs[0]
	}
	return Concatenate(xs, 0)
}

// temperature returns τ as a scalar of dtype dt.
func temperature(g *Graph, dt dtypes.DType, opts Options, world, local int) *Node {
	tau0 := opts.temperature()
	if opts.TemperatureScope == nil {
		return Scalar(g, dt, tau0)
	}
	v := opts.TemperatureScope.VariableWithValue(TemperatureVariable, float32(math.Log(tau0)))
	if s := v.Shape(); s.Rank() != 0 || !s.DType.IsFloat() {
		panic(fmt.Errorf("loss: %s must be a float scalar, got %s", v.Path(), s))
	}
	logTau := ConvertDType(v.NodeValue(g), dt)
	if local >= 0 && world > 1 {
		// Every device sees the whole global loss through τ; scale its gradient
		// by 1/W so the all-reduce average equals the global gradient.
		logTau = scaleGradient(logTau, 1/float64(world))
	}
	if opts.MinTemperature > 0 {
		logTau = Max(logTau, Scalar(g, dt, math.Log(opts.MinTemperature)))
	}
	if opts.MaxTemperature > 0 {
		logTau = Min(logTau, Scalar(g, dt, math.Log(opts.MaxTemperature)))
	}
	return Exp(logTau)
}

// scaleGradient is x in value, s·x in gradient.
func scaleGradient(x *Node, s float64) *Node {
	scaled := MulScalar(x, s)
	return Add(scaled, StopGradient(Sub(x, scaled)))
}

// rowLoss is the mean over rows of −log softmax(scores/τ)[positive], with
// masked candidates left out of the denominator. pos is a constant boolean
// [R, C] with exactly one true per row.
func rowLoss(scores, pos, tau *Node, mask FalseNegativeMask) *Node {
	g := scores.Graph()
	dt := scores.DType()
	dims := scores.Shape().Dimensions
	zeros := ZerosLike(scores)
	bcast := func(x *Node) *Node { return BroadcastToDims(x, dims...) }

	var keep *Node // nil: every candidate counts
	if mask.Mode != NoMask {
		// The mask is a selection, not something to differentiate.
		s := StopGradient(scores)
		sPos := bcast(ReduceAndKeep(Where(pos, s, zeros), ReduceSum, -1))
		var threshold *Node
		if mask.Mode == MaskRatio {
			threshold = MulScalar(sPos, mask.Ratio)
		} else {
			threshold = AddScalar(sPos, -mask.Margin)
		}
		keep = LogicalOr(pos, LogicalNot(GreaterThan(s, threshold)))
	}

	logits := Div(scores, bcast(expandScalar(tau, 2)))
	var shifted, sumExp *Node
	if keep == nil {
		maxAll := StopGradient(ReduceAndKeep(logits, ReduceMax, -1))
		shifted = Sub(logits, bcast(maxAll))
		sumExp = ReduceSum(Exp(shifted), -1)
	} else {
		// Max over kept logits only: a masked candidate scoring far above the
		// positive must not push every kept term to underflow.
		low := bcast(expandScalar(Infinity(g, dt, -1), 2))
		maxKept := StopGradient(ReduceAndKeep(Where(keep, logits, low), ReduceMax, -1))
		// Masked entries become 0 before Exp so they can't overflow (and then
		// contribute exactly nothing, in value and gradient).
		shifted = Where(keep, Sub(logits, bcast(maxKept)), zeros)
		sumExp = ReduceSum(Where(keep, Exp(shifted), zeros), -1)
	}
	// loss_i = log Σ exp(l_ij − m_i) − (l_i,pos − m_i): both terms are relative
	// to m_i, so huge logits cancel before they can lose precision.
	posShifted := ReduceSum(Where(pos, shifted, zeros), -1)
	return ReduceAllMean(Sub(Log(sumExp), posShifted))
}

// expandScalar gives a scalar the given rank (unit axes): the Go backend
// wants equal-rank operands.
func expandScalar(x *Node, rank int) *Node {
	for x.Rank() < rank {
		x = InsertAxes(x, 0)
	}
	return x
}
