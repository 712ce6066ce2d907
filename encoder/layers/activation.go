package layers

import (
	"math"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// GELUErf is the exact GELU, x/2 (1 + erf(x/sqrt 2)), PyTorch's nn.GELU(),
// computed in float32.
func GELUErf(x *Node) *Node {
	dt := x.DType()
	x32 := ConvertDType(x, dtypes.Float32)
	y := Mul(MulScalar(x32, 0.5), OnePlus(Erf(MulScalar(x32, 1/math.Sqrt2))))
	return ConvertDType(y, dt)
}

// GELUTanh is GELU's tanh approximation, PyTorch's
// gelu(approximate="tanh") (transformers' gelu_pytorch_tanh):
// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x³))), in float32.
func GELUTanh(x *Node) *Node {
	dt := x.DType()
	x32 := ConvertDType(x, dtypes.Float32)
	cube := Mul(Mul(x32, x32), x32)
	inner := MulScalar(Add(x32, MulScalar(cube, 0.044715)), math.Sqrt(2/math.Pi))
	y := Mul(MulScalar(x32, 0.5), OnePlus(Tanh(inner)))
	return ConvertDType(y, dt)
}

// QuickGELU is x·sigmoid(1.702x), CLIP's and Qwen2-VL's vision activation.
func QuickGELU(x *Node) *Node { return Mul(x, Sigmoid(MulScalar(x, 1.702))) }

// SiLU is x·sigmoid(x).
func SiLU(x *Node) *Node { return Mul(x, Sigmoid(x)) }

// SwiGLU is the gated MLP of Llama-style decoders,
// down(silu(gate(x)) ⊙ up(x)), with the three projections (no biases) under
// prefix+"gate_proj", "up_proj" and "down_proj".
func (n *Net) SwiGLU(x *Node, prefix string) *Node {
	gate := n.Linear(x, prefix+"gate_proj", false)
	up := n.Linear(x, prefix+"up_proj", false)
	return n.Linear(Mul(SiLU(gate), up), prefix+"down_proj", false)
}
