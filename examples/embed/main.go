// Command embed embeds images and texts with a VLM2Vec encoder and prints
// their cosine-similarity matrix.
//
//	go run ./examples/embed --model encoder/qwen2vl/testdata/tiny-a \
//	    --image encoder/qwen2vl/testdata/images/photo_120x90.png \
//	    --text "a cat and a dog" --text "a red car"
//
// Images get the instruction --image-instruction, texts --text-instruction
// (VLM2Vec's V1 prompt format). With a real checkpoint, e.g.
// Qwen/Qwen2-VL-2B-Instruct and the VLM2Vec/VLM2Vec-V2.0 adapter, pass
// --adapter and see docs/encoder.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/org/vlm2vec/encoder"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

func run() error {
	var texts, imgs list
	modelDir := flag.String("model", "encoder/qwen2vl/testdata/tiny-a", "Qwen2-VL checkpoint directory")
	adapter := flag.String("adapter", "", "PEFT adapter directory (LoRA/DoRA) to merge")
	imageInst := flag.String("image-instruction", "Represent the given image.", "instruction for image inputs")
	textInst := flag.String("text-instruction", "", "instruction for text inputs (empty: the text alone)")
	bf16 := flag.Bool("bf16", false, "run in bfloat16")
	backend := flag.String("backend", "", `backend: "go" (default), "xla:cpu", "xla:cuda"`)
	flag.Var(&texts, "text", "a text to embed (repeatable)")
	flag.Var(&imgs, "image", "an image file to embed (repeatable)")
	flag.Parse()
	if len(texts)+len(imgs) == 0 {
		flag.Usage()
		return fmt.Errorf("give at least one --text or --image")
	}
	opts := []encoder.Option{encoder.WithBackendConfig(*backend)}
	if *adapter != "" {
		opts = append(opts, encoder.WithAdapter(*adapter))
	}
	if *bf16 {
		opts = append(opts, encoder.WithDType(dtypes.BFloat16))
	}
	ctx := context.Background()
	start := time.Now()
	enc, err := encoder.Open(ctx, *modelDir, opts...)
	if err != nil {
		return err
	}
	defer enc.Close()
	loaded := time.Since(start)

	var inputs []encoder.Input
	var labels []string
	for _, p := range imgs {
		inputs = append(inputs, encoder.Input{Instruction: *imageInst, ImagePath: p})
		labels = append(labels, "img:"+filepath.Base(p))
	}
	for _, t := range texts {
		in := encoder.Input{Instruction: *textInst, Text: t}
		if *textInst == "" {
			in = encoder.Input{Prompt: t}
		}
		inputs = append(inputs, in)
		labels = append(labels, "txt:"+t)
	}
	start = time.Now()
	vecs, err := enc.Embed(ctx, inputs)
	if err != nil {
		return err
	}
	fmt.Printf("model %s: dim %d, loaded in %v, embedded %d inputs in %v\n\n",
		*modelDir, enc.Dim(), loaded.Round(time.Millisecond), len(inputs), time.Since(start).Round(time.Millisecond))
	width := 0
	for i := range labels {
		if len(labels[i]) > 24 {
			labels[i] = labels[i][:21] + "..."
		}
		width = max(width, len(labels[i]))
	}
	fmt.Printf("%*s", width, "")
	for i := range labels {
		fmt.Printf("  %6d", i)
	}
	fmt.Println()
	for i, a := range vecs {
		fmt.Printf("%-*s", width, labels[i])
		for _, b := range vecs {
			var dot float32
			for k := range a {
				dot += a[k] * b[k]
			}
			fmt.Printf("  %6.3f", dot)
		}
		fmt.Printf("   (%d)\n", i)
	}
	return nil
}
