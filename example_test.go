package vlm2vec_test

import (
	"context"
	"fmt"

	"github.com/org/vlm2vec"
	"github.com/org/vlm2vec/encoder"
)

// Embed an image query and two captions with the tiny test checkpoint and
// rank the captions. (A random tiny model ranks arbitrarily; a trained
// checkpoint ranks by meaning.)
func Example() {
	ctx := context.Background()
	enc, err := vlm2vec.OpenEncoder(ctx, "encoder/qwen2vl/testdata/tiny-a", encoder.WithBackendConfig("go"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer enc.Close()
	vecs, err := enc.Embed(ctx, []vlm2vec.Input{
		{Instruction: "Represent the given image.", ImagePath: "encoder/qwen2vl/testdata/images/photo_120x90.png"},
		{Prompt: "a cat and a dog"},
		{Prompt: "a red car"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("dim:", enc.Dim())
	fmt.Printf("image vs captions: %.2f %.2f\n", vlm2vec.Similarity(vecs[0], vecs[1]), vlm2vec.Similarity(vecs[0], vecs[2]))
	// Output:
	// dim: 64
	// image vs captions: -0.09 0.16
}
