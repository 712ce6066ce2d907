package layers

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// Rotary embeddings in Hugging Face's rotate_half convention: the two
// halves of each head are the real and imaginary parts. GoMLX's pos.RoPE
// panics on per-example position ids, and no library builds multi-axis
// (M-RoPE) or 2-D vision tables, so families build cos/sin themselves from
// InvFreq and apply them with ApplyRotary.

// RotateHalf maps [x1, x2] to [-x2, x1] along the last axis.
func RotateHalf(x *Node) *Node {
	halves := Split(x, -1, 2)
	return Concatenate([]*Node{Neg(halves[1]), halves[0]}, -1)
}

// ApplyRotary applies cos/sin (already broadcastable to x) in float32, as
// the reference does, and returns x's dtype.
func ApplyRotary(x, cos, sin *Node) *Node {
	dt := x.DType()
	x32 := ConvertDType(x, dtypes.Float32)
	return ConvertDType(Add(Mul(x32, cos), Mul(RotateHalf(x32), sin)), dt)
}

// InvFreq is 1/theta^(2i/dim) for i < dim/2, computed in float32 like the
// reference's torch expression.
func InvFreq(g *Graph, dim int, theta float64) *Node {
	v := make([]float32, dim/2)
	for i := range v {
		v[i] = float32(1 / math.Pow(theta, float64(2*i)/float64(dim)))
	}
	return Const(g, v)
}
