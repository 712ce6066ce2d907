package vectors

import (
	"container/heap"
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// Hit is one search result: the row of the index and its dot product with
// the query.
type Hit struct {
	Index int
	Score float32
}

// Index is a matrix of embeddings of one width, stored contiguously, for
// exact top-k search by dot product.
type Index struct {
	dim  int
	data []float32
}

// NewIndex copies vectors (all of one width) into an index.
func NewIndex(vectors [][]float32) (*Index, error) {
	if len(vectors) == 0 {
		return &Index{}, nil
	}
	dim := len(vectors[0])
	if dim == 0 {
		return nil, fmt.Errorf("vectors: zero-width vectors")
	}
	x := &Index{dim: dim, data: make([]float32, 0, dim*len(vectors))}
	for i, v := range vectors {
		if len(v) != dim {
			return nil, fmt.Errorf("vectors: vector %d has %d components, vector 0 has %d", i, len(v), dim)
		}
		x.data = append(x.data, v...)
	}
	return x, nil
}

// Len is the number of vectors.
func (x *Index) Len() int {
	if x.dim == 0 {
		return 0
	}
	return len(x.data) / x.dim
}

// Search returns the k rows with the largest dot product with q, best
// first; ties go to the lower row. Large indexes are scanned in parallel.
func (x *Index) Search(q []float32, k int) ([]Hit, error) {
	n := x.Len()
	if n > 0 && len(q) != x.dim {
		return nil, fmt.Errorf("vectors: query has %d components, the index %d", len(q), x.dim)
	}
	if k <= 0 || n == 0 {
		return nil, nil
	}
	k = min(k, n)
	parts := 1
	if n*x.dim >= 1<<20 {
		parts = runtime.GOMAXPROCS(0)
	}
	per := (n + parts - 1) / parts
	results := make([][]Hit, parts)
	var wg sync.WaitGroup
	for p := 0; p < parts; p++ {
		lo, hi := p*per, min((p+1)*per, n)
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[p] = x.scan(q, lo, hi, k)
		}()
	}
	wg.Wait()
	var all []Hit
	for _, r := range results {
		all = append(all, r...)
	}
	sort.Slice(all, func(i, j int) bool { return better(all[i], all[j]) })
	return all[:min(k, len(all))], nil
}

// better orders hits: higher score first, then lower row.
func better(a, b Hit) bool {
	if a.Score != b.Score {
		return a.Score > b.Score
	}
	return a.Index < b.Index
}

// scan keeps the k best rows of [lo, hi) in a heap whose root is the worst.
func (x *Index) scan(q []float32, lo, hi, k int) []Hit {
	h := &worstFirst{}
	for r := lo; r < hi; r++ {
		hit := Hit{Index: r, Score: dot(q, x.data[r*x.dim:(r+1)*x.dim])}
		if h.Len() < k {
			heap.Push(h, hit)
		} else if better(hit, (*h)[0]) {
			(*h)[0] = hit
			heap.Fix(h, 0)
		}
	}
	return *h
}

func dot(a, b []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

type worstFirst []Hit

func (h worstFirst) Len() int           { return len(h) }
func (h worstFirst) Less(i, j int) bool { return better(h[j], h[i]) }
func (h worstFirst) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *worstFirst) Push(v any)        { *h = append(*h, v.(Hit)) }
func (h *worstFirst) Pop() any {
	old := *h
	v := old[len(old)-1]
	*h = old[:len(old)-1]
	return v
}
