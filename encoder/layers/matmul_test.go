package layers

import (
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// TestContractBF16LargeOperands: a bfloat16 product with a left operand of
// 128x1176 (>= 2^17 elements, the patch embedding of a 4-group video batch)
// agrees with the float32 product to bfloat16 rounding. The Go backend's
// own bf16 Einsum of that size is wrong by about the values' magnitude
// (gomlx/compute v0.1.14); the test logs it so an upgrade that fixes it can
// drop Contract's containment.
func TestContractBF16LargeOperands(t *testing.T) {
	const n, k, e = 128, 1176, 32
	x := make([]float32, n*k)
	w := make([]float32, e*k)
	for i := range x {
		x[i] = float32(math.Sin(float64(i) * 0.37))
	}
	for i := range w {
		w[i] = float32(math.Cos(float64(i)*0.11)) * 0.08
	}
	ex := MustNewExec(backend(t), func(xn, wn *Node) []*Node {
		xn, wn = Reshape(xn, n, k), Reshape(wn, e, k)
		want := Einsum("np,ep->ne", xn, wn)
		xb, wb := ConvertDType(xn, dtypes.BFloat16), ConvertDType(wn, dtypes.BFloat16)
		got := ConvertDType(Contract("np,ep->ne", xb, wb), dtypes.Float32)
		raw := ConvertDType(Einsum("np,ep->ne", xb, wb), dtypes.Float32)
		return []*Node{ReduceAllMax(Abs(Sub(got, want))), ReduceAllMax(Abs(Sub(raw, want))), ReduceAllMax(Abs(want))}
	})
	out := ex.MustExec(x, w)
	errC, errRaw, scale := out[0].Value().(float32), out[1].Value().(float32), out[2].Value().(float32)
	// bf16 keeps 8 significant bits: inputs rounded to 2^-9 relative, a
	// 1176-term sum of such products stays within a few percent of the
	// largest value.
	if errC > 0.05*scale {
		t.Errorf("Contract bf16 error %.4g (values up to %.4g)", errC, scale)
	}
	t.Logf("backend %s: Contract bf16 error %.4g, raw Einsum bf16 error %.4g, values up to %.4g", backend(t).Name(), errC, errRaw, scale)
}
