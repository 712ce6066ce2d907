package traindata_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/org/vlm2vec/mmeb/traindata"
)

// Generate the synthetic shapes dataset, load its training split (one
// JSONL subset, one parquet subset), and draw V2-style batches made of
// homogeneous sub-batches; then checkpoint the sampler and resume it.
func Example() {
	dir, err := os.MkdirTemp("", "shapes")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	if err := traindata.Synthesize(dir, traindata.SynthOptions{Seed: 1, Train: 32, Test: 16}); err != nil {
		fmt.Println(err)
		return
	}
	subsets, stats, err := traindata.LoadDir(filepath.Join(dir, "train"), traindata.LoadOptions{ImageRoot: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(stats)
	first := subsets[1].Examples[0]
	fmt.Printf("%s row %d: %q → %q + %s\n", first.Subset, first.Row, first.Query, first.Positive, filepath.Base(first.PositiveImage))

	var sources []traindata.Source
	for _, s := range subsets {
		sources = append(sources, traindata.Source{Name: s.Name, Weight: 1, Examples: s.Examples})
	}
	sampler, err := traindata.NewInterleaved(sources, 8, 4, 42)
	if err != nil {
		fmt.Println(err)
		return
	}
	show := func(b []traindata.Example) string {
		var parts []string
		for i := 0; i < len(b); i += 4 {
			parts = append(parts, fmt.Sprintf("%s[%d..%d]", b[i].Subset, b[i].Row, b[i+3].Row))
		}
		return strings.Join(parts, " ")
	}
	for i := 0; i < 2; i++ {
		b, _ := sampler.Next()
		fmt.Println(show(b))
	}

	// Checkpoint, then resume in a fresh sampler: the same batches follow.
	state, _ := sampler.State()
	resumed, _ := traindata.NewInterleaved(sources, 8, 4, 42)
	if err := resumed.Restore(state); err != nil {
		fmt.Println(err)
		return
	}
	a, _ := sampler.Next()
	b, _ := resumed.Next()
	fmt.Println(show(a), "==", show(b))
	// Output:
	// 2 subsets, 64 rows, 64 kept, 0 skipped
	// ShapesT2I row 0: "Find me an everyday image that matches the given caption: a yellow square on a black background\n" → "<|image_1|>\nRepresent the given image.\n" + 00000.png
	// ShapesI2T[0..3] ShapesI2T[4..7]
	// ShapesI2T[8..11] ShapesT2I[0..3]
	// ShapesT2I[4..7] ShapesI2T[12..15] == ShapesT2I[4..7] ShapesI2T[12..15]
}
