package vectors_test

import (
	"fmt"

	"github.com/org/vlm2vec/vectors"
)

// Search a small corpus of (already normalised) embeddings, then shorten
// and quantise one.
func Example() {
	corpus := [][]float32{{1, 0, 0}, {0.6, 0.8, 0}, {0, 0, 1}}
	index, err := vectors.NewIndex(corpus)
	if err != nil {
		panic(err)
	}
	hits, _ := index.Search([]float32{0.8, 0.6, 0}, 2)
	for _, h := range hits {
		fmt.Printf("row %d score %.2f\n", h.Index, h.Score)
	}
	short, _ := vectors.Truncate([]float32{0.6, 0.8, 0}, 1)
	fmt.Println(short, vectors.QuantizeBinary(corpus[1]).Bits[0])
	// Output:
	// row 1 score 0.96
	// row 0 score 0.80
	// [1] 3
}
