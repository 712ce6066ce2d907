package family

import "testing"

// TestLengthBucket: buckets cover the length, never shrink, stay fine where
// prompts are short and few overall.
func TestLengthBucket(t *testing.T) {
	for n, want := range map[int]int{1: 16, 16: 16, 17: 24, 33: 40, 64: 64, 65: 80, 128: 128, 129: 160, 256: 256, 257: 384, 1000: 1024} {
		if got := LengthBucket(n); got != want {
			t.Errorf("LengthBucket(%d) = %d, want %d", n, got, want)
		}
	}
	buckets := map[int]bool{}
	prev := 0
	for n := 1; n <= 4096; n++ {
		b := LengthBucket(n)
		if b < n || b < prev {
			t.Fatalf("LengthBucket(%d) = %d (previous %d)", n, b, prev)
		}
		prev = b
		if n <= 256 {
			buckets[b] = true
		}
	}
	if len(buckets) != 15 {
		t.Errorf("%d buckets up to 256 tokens, want 15", len(buckets))
	}
}

func TestCountBucket(t *testing.T) {
	want := map[int]int{0: 1, 1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 6, 7: 8, 8: 8, 9: 12, 10: 12, 12: 12, 13: 16, 17: 24, 25: 32, 33: 48, 100: 128}
	for n, b := range want {
		if got := CountBucket(n); got != b {
			t.Errorf("CountBucket(%d) = %d, want %d", n, got, b)
		}
	}
	for n := 1; n < 5000; n++ {
		if b := CountBucket(n); b < n || 3*n < 2*b && n > 2 {
			t.Fatalf("CountBucket(%d) = %d: more than a third padding", n, b)
		}
	}
}
