package mmeb_test

import (
	"context"
	"fmt"

	"github.com/org/vlm2vec/mmeb"
)

// Evaluate one dataset of the synthetic benchmark (real MMEB-eval layout)
// with the model-free test embedder; a real run passes the encoder.
func Example() {
	ctx := context.Background()
	task, _ := mmeb.Lookup("VOC2007")
	ds, err := mmeb.Open(ctx, "testdata/synthetic/MMEB-eval", "testdata/synthetic/images", task, mmeb.LoadOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := mmeb.Evaluate(ctx, &mmeb.ColorWordEmbedder{}, ds, mmeb.Options{BatchSize: 8})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s: hit@1 %.2f over %d of %d rows\n", task.Name, res.Scores["hit@1"], res.NumPred, res.NumData)
	for _, p := range res.Problems {
		fmt.Println(p)
	}
	// Output:
	// VOC2007: hit@1 0.75 over 20 of 22 rows
	// row 20: tgt_text has 2 entries but tgt_img_path 1
	// row 21: missing image "VOC2007/missing.png"
}

// Aggregate per-dataset scores into the MMEB-V1 table.
func ExampleV1Table() {
	main := map[string]float64{}
	for _, t := range mmeb.V1Tasks() {
		main[t.Name] = 0.5
	}
	main["ImageNet-1K"] = 0.8
	for _, row := range mmeb.V1Table(main) {
		fmt.Printf("%s %s\n", row.Label, row)
	}
	// Output:
	// CLS 53.0
	// VQA 50.0
	// RET 50.0
	// GD 50.0
	// IND 51.5
	// OOD 50.0
	// Overall 50.8
}

// Score a ranking directly.
func ExampleComputeMetrics() {
	s := mmeb.ComputeMetrics([]mmeb.Ranked{
		{Prediction: []string{"b", "a", "c"}, Labels: []string{"a"}},
		{Prediction: []string{"d", "e"}, Labels: []string{"d"}},
	}, []int{1, 5})
	fmt.Println(s["hit@1"], s["mrr@5"], s["ndcg_linear@5"])
	// Output: 0.5 0.75 0.8154648767857288
}
