package encoder

import (
	"context"
	"iter"
)

// EmbedSeq embeds a stream of inputs of any length (a corpus read lazily,
// a channel drained by a range-over-func) and yields each input's index
// and Result in input order, with at most four batches of inputs held at
// a time. Bad inputs yield their error and the stream goes on; a failure
// of the whole call (a done context, a failed forward pass) is yielded
// once with index -1, and the stream ends. Stopping the loop early stops
// the embedding.
//
//	for i, r := range enc.EmbedSeq(ctx, slices.Values(inputs)) { ... }
func (e *Encoder) EmbedSeq(ctx context.Context, inputs iter.Seq[Input]) iter.Seq2[int, Result] {
	return func(yield func(int, Result) bool) {
		window := 4 * e.set.batchSize
		buf := make([]Input, 0, window)
		n := 0
		flush := func() bool {
			res, err := e.EmbedEach(ctx, buf)
			if err != nil {
				yield(-1, Result{Err: err})
				return false
			}
			for k, r := range res {
				if !yield(n+k, r) {
					return false
				}
			}
			n += len(buf)
			buf = buf[:0]
			return true
		}
		for in := range inputs {
			buf = append(buf, in)
			if len(buf) == window && !flush() {
				return
			}
		}
		if len(buf) > 0 {
			flush()
		}
	}
}
