package layers

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// TestProgramsEvictLeastRecentlyUsed: more input shapes than the cache
// holds still run (the least recently used program is dropped and built
// again on return) with the right results; before, the 33rd shape of a
// kind failed with GoMLX's "maximum cache size" error.
func TestProgramsEvictLeastRecentlyUsed(t *testing.T) {
	p := NewPrograms(backend(t), model.NewStore(), 2, func(bool) func(*model.Scope, []*Node) []*Node {
		return func(_ *model.Scope, in []*Node) []*Node { return []*Node{ReduceAllSum(in[0])} }
	})
	sum := func(n int) float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(i + 1)
		}
		res, err := p.Run(false, tensors.FromValue(v))
		if err != nil {
			t.Fatalf("length %d: %v", n, err)
		}
		defer res[0].MustFinalizeAll()
		return res[0].Value().(float32)
	}
	for round, lengths := range [][]int{{1, 2, 3}, {1, 2}, {3, 3, 4, 1}} {
		for _, n := range lengths {
			if got, want := sum(n), float32(n*(n+1)/2); got != want {
				t.Fatalf("round %d: sum of 1..%d = %v, want %v", round, n, got, want)
			}
		}
	}
	// Shapes 1, 2, 3 (3 evicts 1), 1 (evicts 2), 2 (evicts 3), 3 (evicts 1),
	// 3 (hit), 4 (evicts 2), 1 (evicts 3).
	if got := p.Evicted(); got != 6 {
		t.Errorf("evicted %d programs, want 6", got)
	}
	if _, err := p.Run(false, []float32{1}); err == nil {
		t.Error("a non-tensor argument was accepted")
	}
}
