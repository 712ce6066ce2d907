package vlm2vec_test

import (
	"context"
	"fmt"

	"github.com/org/vlm2vec"
	"github.com/org/vlm2vec/mmeb"
)

// Evaluate the synthetic MMEB sets with the model-free test embedder and
// print the MMEB-V1 table (a real run passes Encoder.MMEB(id)).
func Example_mmeb() {
	ctx := context.Background()
	var results []*vlm2vec.MMEBResult
	for _, name := range []string{"VOC2007", "OK-VQA", "MSCOCO_t2i", "RefCOCO"} {
		task, _ := vlm2vec.LookupMMEBTask(name)
		ds, err := vlm2vec.OpenMMEB(ctx, "mmeb/testdata/synthetic/MMEB-eval", "mmeb/testdata/synthetic/images", task, vlm2vec.MMEBLoadOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		res, err := vlm2vec.EvaluateMMEB(ctx, &mmeb.ColorWordEmbedder{}, ds, vlm2vec.MMEBOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		results = append(results, res)
	}
	for _, row := range vlm2vec.MMEBV1Table(mmeb.MainScores(results)) {
		fmt.Println(row.Label, row)
	}
	// Output:
	// CLS 75.0 (1/10)
	// VQA 60.0 (1/10)
	// RET 50.0 (1/12)
	// GD 80.0 (1/4)
	// IND 61.7 (3/20)
	// OOD 80.0 (1/16)
	// Overall 66.3 (4/36)
}
