package vlm2vec_test

import (
	"context"
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/org/vlm2vec"
	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/gradcache"
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

// The InfoNCE loss of two queries against their two targets at VLM2Vec's
// temperature: each query scores its own target 5 logits (0.1/τ) above the
// other one, so the loss is log(1+e⁻⁵).
func ExampleInfoNCEValue() {
	backend, err := compute.NewWithConfig("go")
	if err != nil {
		fmt.Println(err)
		return
	}
	q := [][]float32{{1, 0}, {0, 1}}
	t := [][]float32{{0.6, 0.4}, {0.5, 0.5}}
	l, err := vlm2vec.InfoNCEValue(backend, q, t, vlm2vec.LossOptions{Temperature: 0.02})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("loss %.6f\n", l)
	// Output:
	// loss 0.006715
}

// One GradCache training step of a LoRA adapter on the tiny checkpoint:
// queries and targets are embedded in chunks of 2, the loss gradient is
// cached, and the chunks are replayed to accumulate the adapter's gradient.
func ExampleNewGradCache() {
	ctx := context.Background()
	enc, err := vlm2vec.OpenEncoder(ctx, "encoder/qwen2vl/testdata/tiny-a", encoder.WithBackendConfig("go"))
	if err != nil {
		fmt.Println(err)
		return
	}
	m := enc.Model()
	cfg := peft.Config{PeftType: "LORA", R: 4, LoraAlpha: 16, LoraDropout: 0.1, UseDora: true,
		TargetModules: peft.TargetModules{"q_proj", "k_proj", "v_proj", "o_proj", "down_proj"}}
	if err := m.AttachLoRA(cfg, nil, 42); err != nil {
		fmt.Println(err)
		return
	}
	gc, err := vlm2vec.NewGradCache(m, func(q, t *graph.Node) *graph.Node {
		return vlm2vec.InfoNCE(q, t, vlm2vec.LossOptions{})
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	chunk := func(texts ...string) vlm2vec.Chunk {
		var in []vlm2vec.Input
		for _, s := range texts {
			in = append(in, vlm2vec.Input{Prompt: s})
		}
		b, err := enc.Batch(in, 2)
		if err != nil {
			panic(err)
		}
		return vlm2vec.Chunk{Inputs: b.Inputs(), Rows: len(in), Seeds: []uint32{1, 2}}
	}
	queries := []vlm2vec.Chunk{chunk("a red car", "a cat"), chunk("a blue sky")}
	targets := []vlm2vec.Chunk{chunk("car", "cat"), chunk("sky")}
	l, err := gc.Accumulate(ctx, queries, targets)
	if err != nil {
		fmt.Println(err)
		return
	}
	opt, err := gradcache.NewOptimizer(gc, gradcache.DefaultAdamW())
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := opt.Apply(1e-4); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("loss is finite:", l > 0 && l < 100, "steps:", opt.Step())
	// Output:
	// loss is finite: true steps: 1
}
