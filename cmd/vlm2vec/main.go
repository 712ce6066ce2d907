// Command vlm2vec embeds inputs with a VLM2Vec checkpoint from the command
// line or over HTTP.
//
//	vlm2vec embed --model DIR --input inputs.jsonl --output vectors.jsonl
//	vlm2vec serve --model DIR --addr :8080
//
// embed reads a JSONL file of inputs (one object per line: "id",
// "instruction", "text", "image" (a path), "prompt") or a folder of images,
// and writes one JSONL line per input: {"id", "embedding"} or {"id",
// "error"}. It resumes: inputs whose ids the output already holds are
// skipped, and a torn last line is dropped. --npy also writes the vectors as
// a float32 .npy matrix, in input order, at the end. --shard i/N embeds
// one of N disjoint shards (by FNV-1a 64 of the id) into its own file, and
// --merge N checks and joins them (docs/cli.md, docs/scale-out.md).
//
// serve answers POST /v1/embeddings in the shape of the OpenAI embeddings
// API ({"input": "text" | ["text", ...] | [{"text", "image", "instruction"}]},
// images as base64 or data: URLs), batching concurrent requests together.
//
// eval and train are the MMEB evaluator and the trainer, with the flags of
// examples/eval_mmeb and examples/train_lora.
//
//	vlm2vec eval --data DIR --images DIR --embedder encoder --model DIR
//	vlm2vec train --model_name DIR --synthetic DIR --output_dir DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/internal/evalcmd"
	"github.com/org/vlm2vec/internal/traincmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "vlm2vec:", err)
		os.Exit(1)
	}
}

const usage = `usage: vlm2vec <command> [flags]

commands:
  embed   embed a JSONL file or a folder of images into JSONL (and .npy)
  serve   an HTTP server with an OpenAI-style /v1/embeddings endpoint
  eval    score a model on MMEB data (the flags of examples/eval_mmeb)
  train   fine-tune with LoRA/DoRA and GradCache (the flags of examples/train_lora)

run "vlm2vec <command> -h" for a command's flags.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("no command")
	}
	switch args[0] {
	case "embed":
		return runEmbed(ctx, args[1:], stdout, stderr)
	case "serve":
		return runServe(ctx, args[1:], stderr)
	case "eval":
		return evalcmd.Run(args[1:], stdout, stderr)
	case "train":
		return traincmd.Run(ctx, args[1:], stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// modelFlags are the flags every command that loads a model shares.
type modelFlags struct {
	model, adapter, backend string
	bf16                    bool
	batch, maxTokens        int
}

func (m *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&m.model, "model", "", "checkpoint directory (required)")
	fs.StringVar(&m.adapter, "adapter", "", "PEFT adapter directory to merge")
	fs.StringVar(&m.backend, "backend", "", `"go" (default), "xla:cpu", "xla:cuda"`)
	fs.BoolVar(&m.bf16, "bf16", false, "run in bfloat16")
	fs.IntVar(&m.batch, "batch", 8, "inputs per forward pass")
	fs.IntVar(&m.maxTokens, "max-tokens", 0, "token limit of one input (0: the model's); longer texts are truncated")
}

func (m *modelFlags) open(ctx context.Context) (*encoder.Encoder, error) {
	if m.model == "" {
		return nil, fmt.Errorf("--model is required")
	}
	opts := []encoder.Option{encoder.WithBackendConfig(m.backend), encoder.WithBatchSize(max(m.batch, 1))}
	if m.adapter != "" {
		opts = append(opts, encoder.WithAdapter(m.adapter))
	}
	if m.bf16 {
		opts = append(opts, encoder.WithDType(dtypes.BFloat16))
	}
	if m.maxTokens > 0 {
		opts = append(opts, encoder.WithMaxTokens(m.maxTokens))
	}
	return encoder.Open(ctx, m.model, opts...)
}

func isImage(name string) bool {
	switch strings.ToLower(name[strings.LastIndex(name, ".")+1:]) {
	case "png", "jpg", "jpeg", "gif", "bmp", "webp", "tif", "tiff":
		return true
	}
	return false
}
