package layers

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// Contract is graph.Einsum for the families' matrix products, with one
// containment: on the pure-Go backend (gomlx/compute v0.1.14) a bfloat16
// product whose left operand has 2^17 elements or more comes out wrong
// (errors as large as the values; see shared/notes and
// TestContractBF16LargeOperands), so there bfloat16 operands are multiplied
// in float32 and the result rounded to bfloat16. That is what PyTorch's
// bf16 matmul computes too (float32 accumulation, bf16 output), and on
// this backend float32 products are faster than bfloat16 ones.
func Contract(equation string, lhs, rhs *Node) *Node {
	g := lhs.Graph()
	if lhs.DType() == dtypes.BFloat16 && rhs.DType() == dtypes.BFloat16 && IsGoBackend(g.Backend()) {
		out := Einsum(equation, ConvertDType(lhs, dtypes.Float32), ConvertDType(rhs, dtypes.Float32))
		return ConvertDType(out, dtypes.BFloat16)
	}
	return Einsum(equation, lhs, rhs)
}

// IsGoBackend reports whether b is GoMLX's pure-Go backend. Its Name() is
// "Go Backend"; String() is the registered name "go".
func IsGoBackend(b compute.Backend) bool { return b.String() == "go" }
