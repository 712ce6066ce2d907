// Package vlm2vec turns vision-language models into universal multimodal
// embedding models, the way VLM2Vec does: any mix of images and text, with
// an instruction, becomes one L2-normalised vector; queries and targets are
// compared by dot product.
//
// This package is the public face; the pieces live in subpackages:
//
//   - encoder: load a Hugging Face checkpoint (Qwen2-VL, optional PEFT
//     adapter) and embed inputs (encoder/qwen2vl is the backbone,
//     encoder/tokenizer, encoder/images, encoder/safetensors, encoder/peft
//     the loaders it stands on);
//   - instruct: the prompt formats, byte-exact with the reference data;
//   - mmeb: the MMEB benchmark: tasks, loaders, evaluator, score tables;
//   - loss, gradcache: contrastive training.
//
// Everything runs on GoMLX. The embedded default is its pure-Go backend
// (build with GOEXPERIMENT=simd for ~20x faster matrix products); XLA is the
// fast path (GOMLX_BACKEND=xla:cpu or xla:cuda).
package vlm2vec

import (
	"context"

	"github.com/org/vlm2vec/encoder"
)

// Encoder embeds instructions, texts and images; see package encoder.
type Encoder = encoder.Encoder

// Input is one item to embed; see encoder.Input.
type Input = encoder.Input

// EncoderOption configures OpenEncoder; see the encoder.With... functions.
type EncoderOption = encoder.Option

// OpenEncoder loads a checkpoint directory (config.json, safetensors
// weights, tokenizer.json, preprocessor_config.json).
func OpenEncoder(ctx context.Context, dir string, opts ...EncoderOption) (*Encoder, error) {
	return encoder.Open(ctx, dir, opts...)
}

// Similarity is the dot product of two embeddings: their cosine, since
// embeddings are L2-normalised.
func Similarity(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
