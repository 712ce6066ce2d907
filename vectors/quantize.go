package vectors

import (
	"math"
	"math/bits"
)

// Int8 is a vector quantised to int8 with one scale: value i is about
// Values[i] * Scale.
type Int8 struct {
	Values []int8
	Scale  float32
}

// QuantizeInt8 quantises v symmetrically: scale = max|v| / 127, each value
// rounded to the nearest step, so the error of each component is at most
// Scale / 2.
func QuantizeInt8(v []float32) Int8 {
	var m float32
	for _, x := range v {
		m = max(m, float32(math.Abs(float64(x))))
	}
	q := Int8{Values: make([]int8, len(v)), Scale: m / 127}
	if m == 0 {
		q.Scale = 1
		return q
	}
	for i, x := range v {
		q.Values[i] = int8(math.Round(float64(x / q.Scale)))
	}
	return q
}

// Dot is the approximate dot product of two quantised vectors of one length.
func (a Int8) Dot(b Int8) float32 {
	var s int32
	for i, x := range a.Values {
		s += int32(x) * int32(b.Values[i])
	}
	return float32(s) * a.Scale * b.Scale
}

// Binary is a vector's signs, one bit per component (1 where positive),
// packed 64 to a word; Dim is the component count.
type Binary struct {
	Bits []uint64
	Dim  int
}

// QuantizeBinary keeps the signs of v.
func QuantizeBinary(v []float32) Binary {
	b := Binary{Bits: make([]uint64, (len(v)+63)/64), Dim: len(v)}
	for i, x := range v {
		if x > 0 {
			b.Bits[i/64] |= 1 << (i % 64)
		}
	}
	return b
}

// Hamming counts the components whose signs differ (fewer: more similar).
func (a Binary) Hamming(b Binary) int {
	n := 0
	for i, w := range a.Bits {
		n += bits.OnesCount64(w ^ b.Bits[i])
	}
	return n
}
