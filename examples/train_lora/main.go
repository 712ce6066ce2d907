// Command train_lora fine-tunes a backbone of any supported family (Qwen2-VL,
// GME, LLaVA-NeXT, Phi-3.5-V) into a VLM2Vec embedding model with a LoRA/DoRA
// adapter, InfoNCE and GradCache, the way
// VLM2Vec's train.py does. Flags mirror VLM2Vec's arguments.
//
// With --synthetic it first writes a small dataset of drawn shapes and
// captions in MMEB-train format and evaluates held-out Hit@1 as it trains:
//
//	go run ./examples/train_lora --synthetic .cache/shapes --output_dir .cache/run \
//	    --model_name encoder/qwen2vl/testdata/tiny-a --max_steps 60
//
// Re-running with the same --output_dir resumes from the newest checkpoint.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/org/vlm2vec/internal/traincmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := traincmd.Run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "train_lora:", err)
		os.Exit(1)
	}
}
