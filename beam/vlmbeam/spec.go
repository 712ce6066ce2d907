// Package vlmbeam embeds a corpus with a VLM2Vec checkpoint inside an Apache
// Beam pipeline, so a job outgrowing one machine runs on the engines users
// already have: Beam's in-process Prism runner, Flink, Spark or Dataflow.
//
//	rows, bad := vlmbeam.ReadJSONL(s, "gs://bucket/corpus/*.jsonl", "")
//	embs, fails := vlmbeam.Embed(s, vlmbeam.Spec{Checkpoint: "/models/vlm2vec"}, rows)
//	vlmbeam.WriteJSONL(s, "gs://bucket/out/vectors.jsonl", 64, beam.Flatten(s, embs, fails))
//
// It lives in its own module (github.com/org/vlm2vec/beam) so that
// importing the core library never pulls Beam into a build. Elements are
// the `vlm2vec embed` command's JSONL rows (package embedio), and inputs are
// embedded in the same batch groups as the command's, so a pipeline's
// vectors equal a single `vlm2vec embed` run's bit for bit on the same
// backend. docs/scale-out.md says when to use which.
package vlmbeam

import (
	"context"
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/org/vlm2vec/encoder"
)

// Spec names the model a pipeline embeds with and how. It is serialised
// into the pipeline (as JSON) and read by every worker, so paths must be
// readable where the workers run: a directory baked into the worker image,
// or a shared or mounted filesystem.
type Spec struct {
	// Checkpoint is the model directory (config.json, safetensors,
	// tokenizer.json, processor config). Required.
	Checkpoint string `json:"checkpoint"`
	// Adapter is a PEFT adapter directory merged at load ("" for none).
	Adapter string `json:"adapter,omitempty"`
	// DType is "float32" (the default) or "bfloat16".
	DType string `json:"dtype,omitempty"`
	// Backend is the compute backend: "go", "xla:cpu", "xla:cuda", or ""
	// for $GOMLX_BACKEND on the worker.
	Backend string `json:"backend,omitempty"`
	// MaxTokens is the token limit of one input (0: the model's).
	MaxTokens int `json:"max_tokens,omitempty"`
	// FailLong makes every input over MaxTokens a failure; by default a
	// text-only input is truncated (encoder.WithLengthPolicy).
	FailLong bool `json:"fail_long,omitempty"`
	// BatchSize is the number of inputs per forward pass (0: 8, the
	// command's default). Inputs are grouped 4 x BatchSize at a time; keep
	// it equal to `vlm2vec embed --batch` to get that command's bits.
	BatchSize int `json:"batch_size,omitempty"`
	// VideoFrames is the number of frames fed per video (0: the family's
	// default).
	VideoFrames int `json:"video_frames,omitempty"`
	// Dimensions truncates embeddings Matryoshka-style (0: full width).
	Dimensions int `json:"dimensions,omitempty"`
}

// batch is the effective batch size.
func (s Spec) batch() int {
	if s.BatchSize <= 0 {
		return 8
	}
	return s.BatchSize
}

// Validate reports a spec that cannot work, before a pipeline is launched
// (workers report the same errors from their Setup).
func (s Spec) Validate() error {
	_, err := s.options()
	return err
}

// options turns the spec into encoder options.
func (s Spec) options() ([]encoder.Option, error) {
	if s.Checkpoint == "" {
		return nil, fmt.Errorf("vlmbeam: Spec.Checkpoint is required")
	}
	if s.BatchSize < 0 || s.MaxTokens < 0 || s.VideoFrames < 0 || s.Dimensions < 0 {
		return nil, fmt.Errorf("vlmbeam: negative size in spec %+v", s)
	}
	opts := []encoder.Option{encoder.WithBackendConfig(s.Backend), encoder.WithBatchSize(s.batch())}
	switch s.DType {
	case "", "float32":
	case "bfloat16":
		opts = append(opts, encoder.WithDType(dtypes.BFloat16))
	default:
		return nil, fmt.Errorf("vlmbeam: Spec.DType %q: want float32 or bfloat16", s.DType)
	}
	if s.Adapter != "" {
		opts = append(opts, encoder.WithAdapter(s.Adapter))
	}
	if s.MaxTokens > 0 {
		opts = append(opts, encoder.WithMaxTokens(s.MaxTokens))
	}
	if s.FailLong {
		opts = append(opts, encoder.WithLengthPolicy(encoder.FailLong))
	}
	if s.VideoFrames > 0 {
		opts = append(opts, encoder.WithVideoFrames(s.VideoFrames))
	}
	if s.Dimensions > 0 {
		opts = append(opts, encoder.WithDimensions(s.Dimensions))
	}
	return opts, nil
}

// Open opens the encoder the spec names (what each worker does once).
func (s Spec) Open(ctx context.Context) (*encoder.Encoder, error) {
	opts, err := s.options()
	if err != nil {
		return nil, err
	}
	return encoder.Open(ctx, s.Checkpoint, opts...)
}
