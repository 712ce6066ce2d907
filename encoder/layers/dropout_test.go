package layers

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck
)

// lowbias32 is the reference mask hash on the host.
func lowbias32(seed, layer uint32, pos uint32) uint32 {
	h := seed ^ layer*0x9e3779b9 ^ pos*0x85ebca6b
	h ^= h >> 16
	h *= 0x7feb352d
	h ^= h >> 15
	h *= 0x846ca68b
	h ^= h >> 16
	return h
}

// TestDropoutMask: the graph's keep mask equals the host reference (top 24
// bits of the hash as a float32 uniform, kept when >= p) for every element,
// for several dropout sites sharing one cached hash base, and keeps about
// 1-p of the elements.
func TestDropoutMask(t *testing.T) {
	const b, s, f = 3, 5, 40
	seeds := []uint32{1, 0xdeadbeef, 7919}
	for _, p := range []float64{0.1, 0.05, 0.5} {
		e := MustNewExec(backend(t), func(sd *Node) []*Node {
			base := hashBase(sd, []int{b, s, f})
			return []*Node{keepMask(base, 1, p), keepMask(base, 2, p), keepMask(base, 7, p)}
		})
		out, err := e.Exec(seeds)
		if err != nil {
			t.Fatal(err)
		}
		kept, total := 0, 0
		for k, layer := range []uint32{1, 2, 7} {
			got := out[k].Value().([][][]bool)
			for i := 0; i < b; i++ {
				for j := 0; j < s; j++ {
					for c := 0; c < f; c++ {
						h := lowbias32(seeds[i], layer, uint32(j*f+c))
						want := float32(h>>8)/float32(1<<24) >= float32(p)
						if got[i][j][c] != want {
							t.Fatalf("p %g layer %d element (%d,%d,%d): keep %v, reference %v", p, layer, i, j, c, got[i][j][c], want)
						}
						if want {
							kept++
						}
						total++
					}
				}
			}
		}
		if frac := float64(kept) / float64(total); math.Abs(frac-(1-p)) > 0.05 {
			t.Errorf("p %g: kept %.3f of elements", p, frac)
		}
	}
}
