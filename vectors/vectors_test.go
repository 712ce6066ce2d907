package vectors

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func randomUnit(rng *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	if err := Normalize(v); err != nil {
		panic(err)
	}
	return v
}

func TestTruncate(t *testing.T) {
	v := []float32{3, 4, 12}
	got, err := Truncate(v, 2)
	if err != nil || math.Abs(float64(got[0])-0.6) > 1e-7 || math.Abs(float64(got[1])-0.8) > 1e-7 || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	if v[0] != 3 {
		t.Error("Truncate changed its input")
	}
	for _, d := range []int{0, 4, -1} {
		if _, err := Truncate(v, d); err == nil {
			t.Errorf("dim %d accepted", d)
		}
	}
	if _, err := Truncate([]float32{0, 0, 1}, 2); !errors.Is(err, ErrZero) {
		t.Errorf("zero prefix: %v", err)
	}
}

// TestQuantizeInt8: each component within half a step; dot products of
// unit vectors within 1e-2 of the float ones.
func TestQuantizeInt8(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := 0; trial < 50; trial++ {
		a, b := randomUnit(rng, 384), randomUnit(rng, 384)
		qa, qb := QuantizeInt8(a), QuantizeInt8(b)
		for i, x := range a {
			if math.Abs(float64(x-float32(qa.Values[i])*qa.Scale)) > float64(qa.Scale)/2+1e-7 {
				t.Fatalf("component %d: %v vs %v", i, x, float32(qa.Values[i])*qa.Scale)
			}
		}
		if d := math.Abs(float64(qa.Dot(qb) - dot(a, b))); d > 1e-2 {
			t.Fatalf("int8 dot off by %v", d)
		}
	}
	if z := QuantizeInt8(make([]float32, 4)); z.Scale != 1 || z.Values[0] != 0 {
		t.Errorf("zero vector: %+v", z)
	}
}

// TestQuantizeBinary: Hamming distance counts sign disagreements; a vector
// is closer to itself than to its negation.
func TestQuantizeBinary(t *testing.T) {
	v := []float32{1, -2, 0, 3, -0.5}
	b := QuantizeBinary(v)
	if b.Dim != 5 || b.Bits[0] != 0b01001 {
		t.Fatalf("%+v", b)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	a := randomUnit(rng, 130)
	neg := make([]float32, len(a))
	for i, x := range a {
		neg[i] = -x
	}
	qa, qn := QuantizeBinary(a), QuantizeBinary(neg)
	if qa.Hamming(qa) != 0 || qa.Hamming(qn) != 130 {
		t.Errorf("self %d, negation %d", qa.Hamming(qa), qa.Hamming(qn))
	}
}

// TestSearchMatchesSorting: top-k equals sorting every score, for indexes
// scanned serially and in parallel, with ties and k past the size.
func TestSearchMatchesSorting(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, n := range []int{1, 7, 300, 5000} {
		dim := 256
		vs := make([][]float32, n)
		for i := range vs {
			vs[i] = randomUnit(rng, dim)
		}
		if n > 2 {
			vs[2] = append([]float32(nil), vs[1]...) // a tie
		}
		x, err := NewIndex(vs)
		if err != nil {
			t.Fatal(err)
		}
		q := randomUnit(rng, dim)
		for _, k := range []int{1, 5, n + 3} {
			got, err := x.Search(q, k)
			if err != nil {
				t.Fatal(err)
			}
			all := make([]Hit, n)
			for i, v := range vs {
				all[i] = Hit{Index: i, Score: dot(q, v)}
			}
			sort.Slice(all, func(i, j int) bool { return better(all[i], all[j]) })
			want := all[:min(k, n)]
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("n %d k %d: %v, want %v", n, k, got, want)
			}
		}
	}
	if _, err := NewIndex([][]float32{{1, 2}, {1}}); err == nil {
		t.Error("ragged vectors accepted")
	}
	x, _ := NewIndex([][]float32{{1, 0}})
	if _, err := x.Search([]float32{1}, 1); err == nil {
		t.Error("a query of the wrong width accepted")
	}
}

func BenchmarkSearch(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 8))
	vs := make([][]float32, 100000)
	for i := range vs {
		vs[i] = randomUnit(rng, 1536)
	}
	x, err := NewIndex(vs)
	if err != nil {
		b.Fatal(err)
	}
	q := randomUnit(rng, 1536)
	b.SetBytes(int64(len(vs) * 1536 * 4))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := x.Search(q, 10); err != nil {
			b.Fatal(err)
		}
	}
}
