package vectors

import (
	"errors"
	"fmt"
	"math"
)

// ErrZero reports a vector with no length to normalise.
var ErrZero = errors.New("vectors: zero vector")

// Truncate keeps the first dim components of v and L2-normalises them
// (Matryoshka-style shortening; meaningful for models trained for it). It
// returns a new slice.
func Truncate(v []float32, dim int) ([]float32, error) {
	if dim <= 0 || dim > len(v) {
		return nil, fmt.Errorf("vectors: truncate a %d-dim vector to %d", len(v), dim)
	}
	out := append([]float32(nil), v[:dim]...)
	return out, Normalize(out)
}

// Normalize scales v to unit L2 norm in place (accumulating in float64).
func Normalize(v []float32) error {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsInf(ss, 0) || math.IsNaN(ss) {
		return ErrZero
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return nil
}
