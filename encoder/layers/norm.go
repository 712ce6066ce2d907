package layers

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// RMSNorm is the Llama/Qwen RMSNorm: statistics in float32, the weight
// (name+".weight") applied after casting back to the compute dtype.
func (n *Net) RMSNorm(x *Node, name string, eps float64) *Node {
	g := x.Graph()
	dt := x.DType()
	x32 := ConvertDType(x, dtypes.Float32)
	variance := ReduceAndKeep(Square(x32), ReduceMean, -1)
	// 1/Sqrt rather than Rsqrt: the Go backend has no Rsqrt gradient.
	normed := Mul(x32, Inverse(Sqrt(AddScalar(variance, eps))))
	w := n.Weight(g, name+".weight")
	return Mul(BroadcastToDims(ExpandTo(w, x.Rank()), x.Shape().Dimensions...), ConvertDType(normed, dt))
}

// LayerNorm is PyTorch's LayerNorm over the last axis with weight and bias,
// computed in float32.
func (n *Net) LayerNorm(x *Node, name string, eps float64) *Node {
	g := x.Graph()
	dt := x.DType()
	x32 := ConvertDType(x, dtypes.Float32)
	mean := ReduceAndKeep(x32, ReduceMean, -1)
	centred := Sub(x32, mean)
	variance := ReduceAndKeep(Square(centred), ReduceMean, -1)
	normed := Mul(centred, Inverse(Sqrt(AddScalar(variance, eps))))
	w := ConvertDType(n.Weight(g, name+".weight"), dtypes.Float32)
	b := ConvertDType(n.Weight(g, name+".bias"), dtypes.Float32)
	dims := x.Shape().Dimensions
	out := Add(Mul(normed, BroadcastToDims(ExpandTo(w, x.Rank()), dims...)), BroadcastToDims(ExpandTo(b, x.Rank()), dims...))
	return ConvertDType(out, dt)
}

// NormalizeL2 divides each row by its Euclidean norm (PyTorch's
// F.normalize: the norm is clamped at 1e-12).
func NormalizeL2(x *Node) *Node {
	norm := Sqrt(ReduceAndKeep(Square(x), ReduceSum, -1))
	return Div(x, Max(norm, BroadcastToDims(Scalar(x.Graph(), x.DType(), 1e-12), norm.Shape().Dimensions...)))
}
