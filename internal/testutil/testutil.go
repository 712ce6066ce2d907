// Package testutil holds the comparisons the parity tests share.
package testutil

import "math"

// MaxRelErr is max |got - want| / max |want|: the relative error measure
// the parity tests bound (robust to entries near zero).
func MaxRelErr(got []float32, want []float64) float64 {
	var num, den float64
	for i := range want {
		num = math.Max(num, math.Abs(float64(got[i])-want[i]))
		den = math.Max(den, math.Abs(want[i]))
	}
	return num / den
}

// Cosine is the cosine similarity of a float32 and a float64 vector.
func Cosine(a []float32, b []float64) float64 {
	var ab, aa, bb float64
	for i := range b {
		ab += float64(a[i]) * b[i]
		aa += float64(a[i]) * float64(a[i])
		bb += b[i] * b[i]
	}
	return ab / math.Sqrt(aa*bb)
}
