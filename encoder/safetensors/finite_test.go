package safetensors

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
)

func TestNonFinite(t *testing.T) {
	f32 := func(vs ...float32) []byte {
		b := make([]byte, 4*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b
	}
	bf := func(vs ...float32) []byte {
		b := make([]byte, 2*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint16(b[2*i:], uint16(bfloat16.FromFloat32(v)))
		}
		return b
	}
	f16 := func(vs ...float32) []byte {
		b := make([]byte, 2*len(vs))
		for i, v := range vs {
			var h float16.Float16
			h.SetFloat32(v)
			binary.LittleEndian.PutUint16(b[2*i:], uint16(h))
		}
		return b
	}
	f64 := func(vs ...float64) []byte {
		b := make([]byte, 8*len(vs))
		for i, v := range vs {
			binary.LittleEndian.PutUint64(b[8*i:], math.Float64bits(v))
		}
		return b
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, c := range []struct {
		name string
		d    DType
		raw  []byte
		want int
	}{
		{"f32 clean", F32, f32(1, -2, 3e38, -1e-40), -1},
		{"f32 nan", F32, f32(1, nan), 1},
		{"f32 -inf", F32, f32(float32(math.Inf(-1))), 0},
		{"bf16 clean", BF16, bf(1, 3e38), -1},
		{"bf16 inf", BF16, bf(0, 0, inf), 2},
		{"f16 clean", F16, f16(65504, -1), -1},
		{"f16 nan", F16, f16(1, nan), 1},
		{"f64 clean", F64, f64(1e300), -1},
		{"f64 nan", F64, f64(math.NaN()), 0},
	} {
		if got := nonFinite(c.d, c.raw); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
}

// BenchmarkNonFiniteScan: the load-time NaN/Inf scan over 256 MiB of BF16
// weights (a 2B model in bf16 is 4.4 GB: scale the time by 17).
func BenchmarkNonFiniteScan(b *testing.B) {
	raw := make([]byte, 256<<20)
	for i := 0; i < len(raw); i += 2 {
		binary.LittleEndian.PutUint16(raw[i:], uint16(bfloat16.FromFloat32(float32(i%977)*0.001)))
	}
	b.SetBytes(int64(len(raw)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if nonFinite(BF16, raw) >= 0 {
			b.Fatal("found one")
		}
	}
}
