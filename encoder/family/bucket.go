package family

// Bucketing: batches are padded to bucketed shapes so the number of
// distinct shapes (each one a compiled program) stays small and bounded by
// the longest input, not by the number of inputs.

// LengthBucket rounds a sequence length up: to a multiple of 8 up to 64,
// of 16 up to 128, of 32 up to 256, then of 128. The decoder's cost grows
// with the padded length, and short prompts are the common case (an image
// query with 16 visual tokens and an instruction is about 33 tokens: padded
// to 64 it cost the 2B-wide training step 30% more than at 40); the steps
// widen with the length so the number of compiled programs stays small (15
// buckets up to 256 tokens).
func LengthBucket(n int) int {
	step := 128
	switch {
	case n <= 16:
		return 16
	case n <= 64:
		step = 8
	case n <= 128:
		step = 16
	case n <= 256:
		step = 32
	}
	return (n + step - 1) / step * step
}

// Pow2Bucket rounds n up to a power of two, at least floor (patch counts:
// it stays a multiple of a 2x2 merge for floor >= 4).
func Pow2Bucket(n, floor int) int {
	b := floor
	for b < n {
		b *= 2
	}
	return b
}

// CountBucket rounds a count of large work units (image crops of a CLIP
// tower, each hundreds of tokens) up to 1, 2, 3, 4, 6, 8, 12, 16, 24, ...:
// powers of two and 1.5 times them. Padding costs at most a third of the
// work (a power-of-two bucket can double it), for twice the number of
// distinct shapes.
func CountBucket(n int) int {
	b := 1
	for {
		if b >= n {
			return b
		}
		if half := b + b/2; b >= 2 && half >= n {
			return half
		}
		b *= 2
	}
}
