package layers

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	attn "github.com/gomlx/gomlx/ml/layers/attention"
)

// Attention runs softmax(q k^T / sqrt(d) + mask) v with q [B, H, Sq, D],
// k/v [B, KV, Sk, D] (grouped-query: each KV head serves H/KV query heads)
// and a boolean mask broadcastable to [B, H, Sq, Sk]. Scores and softmax are
// float32. Masked entries get a large negative bias rather than -inf, so a
// row with nothing to attend to (a left-padding query) stays finite instead
// of poisoning later layers with NaN.
func Attention(q, k, v, mask *Node) *Node {
	dt := q.DType()
	b, h, d := q.Shape().Dimensions[0], q.Shape().Dimensions[1], q.Shape().Dimensions[3]
	kvh, sk := k.Shape().Dimensions[1], k.Shape().Dimensions[2]
	if kvh != h {
		rep := h / kvh
		k = Reshape(BroadcastToDims(InsertAxes(k, 2), b, kvh, rep, sk, d), b, h, sk, d)
		v = Reshape(BroadcastToDims(InsertAxes(v, 2), b, kvh, rep, sk, d), b, h, sk, d)
	}
	scores := Contract("bhqd,bhkd->bhqk", ConvertDType(q, dtypes.Float32), ConvertDType(k, dtypes.Float32))
	scores = MulScalar(scores, 1/math.Sqrt(float64(d)))
	g := q.Graph()
	negInf := BroadcastToDims(Scalar(g, dtypes.Float32, -1e30), scores.Shape().Dimensions...)
	scores = Where(BroadcastToDims(mask, scores.Shape().Dimensions...), scores, negInf)
	probs := Softmax(scores, -1)
	return Contract("bhqk,bhkd->bhqd", ConvertDType(probs, dt), v)
}

// CausalAttention is a decoder's self-attention over right-padded batches.
// For every real token the causal mask alone already leaves the padding
// out (padding only follows it), and a causal mask is what fused attention
// kernels take (cuDNN flash attention on CUDA in bf16), so with n.Fused the
// backend's fused op runs; padding rows then attend to earlier padding,
// which no pooled token reads. Otherwise the explicit masked form runs with
// mask (CausalMask).
func (n *Net) CausalAttention(q, k, v, mask *Node) *Node {
	if !n.Fused {
		return Attention(q, k, v, mask)
	}
	out, _ := attn.Core(q, k, v, attn.LayoutBHSD, attn.CoreOptions{UseCausalMask: true})
	return out
}

// CausalMask is the causal and key-padding mask [B, 1, S, S] for valid
// [B, S] (true on real tokens); a query always sees itself, so rows of
// padding keep a finite softmax.
func CausalMask(valid *Node) *Node { return SlidingCausalMask(valid, 0) }

// SlidingCausalMask is CausalMask with a sliding window: query i sees keys
// j with i - window < j <= i (Mistral's sliding_window); window <= 0 is no
// window.
func SlidingCausalMask(valid *Node, window int) *Node {
	g := valid.Graph()
	b, s := valid.Shape().Dimensions[0], valid.Shape().Dimensions[1]
	qi := Iota(g, shapes.Make(dtypes.Int32, s, s), 0)
	ki := Iota(g, shapes.Make(dtypes.Int32, s, s), 1)
	visible := GreaterOrEqual(qi, ki)
	if window > 0 && window < s {
		visible = LogicalAnd(visible, LessThan(Sub(qi, ki), Scalar(g, dtypes.Int32, window)))
	}
	causal := BroadcastToDims(Reshape(visible, 1, s, s), b, s, s)
	keyOK := BroadcastToDims(Reshape(valid, b, 1, s), b, s, s)
	self := BroadcastToDims(Reshape(Equal(qi, ki), 1, s, s), b, s, s)
	return Reshape(LogicalOr(LogicalAnd(causal, keyOK), self), b, 1, s, s)
}

// GatherPooled picks each row's pooled token: x [B, S, H], pooled [B]
// (int) -> [B, H].
func GatherPooled(x, pooled *Node) *Node {
	g := x.Graph()
	b, s, h := x.Shape().Dimensions[0], x.Shape().Dimensions[1], x.Shape().Dimensions[2]
	flat := Reshape(x, b*s, h)
	rows := Add(MulScalar(Iota(g, shapes.Make(dtypes.Int32, b), 0), s), ConvertDType(pooled, dtypes.Int32))
	return Gather(flat, Reshape(rows, b, 1))
}
