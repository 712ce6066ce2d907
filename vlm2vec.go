// Package vlm2vec turns vision-language models into universal multimodal
// embedding models, the way VLM2Vec does: any mix of images and text, with
// an instruction, becomes one L2-normalised vector; queries and targets are
// compared by dot product.
//
// This package is the public face; the pieces live in subpackages:
//
//   - encoder: load a Hugging Face checkpoint of a supported family
//     (Qwen2-VL and GME, LLaVA-NeXT, Phi-3.5-V; optional PEFT adapter) and
//     embed inputs (encoder/qwen2vl, encoder/llavanext, encoder/phi3v are
//     the families; encoder/tokenizer, encoder/images, encoder/safetensors,
//     encoder/peft the loaders they stand on);
//   - vectors: Matryoshka truncation, int8 and binary quantisation, exact
//     top-k search over embeddings;
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

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/gradcache"
	"github.com/org/vlm2vec/loss"
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

// LossOptions configures InfoNCE; see loss.Options.
type LossOptions = loss.Options

// InfoNCE builds VLM2Vec's contrastive loss inside a GoMLX graph: queries
// [N, d] against targets [N·k, d] (query i's positive is row i·k), dot
// products over the temperature, mean cross-entropy in float32.
func InfoNCE(queries, targets *graph.Node, opts LossOptions) *graph.Node {
	return loss.InfoNCE(queries, targets, opts)
}

// InfoNCEValue computes the loss of host embeddings on a backend.
func InfoNCEValue(backend compute.Backend, queries, targets [][]float32, opts LossOptions) (float64, error) {
	return loss.Compute(backend, queries, targets, opts)
}

// GradCache trains with large contrastive batches in fixed memory; see
// package gradcache.
type GradCache = gradcache.GradCache

// Chunk is one forward pass of a GradCache batch.
type Chunk = gradcache.Chunk

// NewGradCache prepares GradCache for a model's trainable variables.
func NewGradCache(m gradcache.Model, lossFn gradcache.LossFn) (*GradCache, error) {
	return gradcache.New(m, lossFn)
}

// NewDataParallelGradCache is NewGradCache on several devices of the
// model's backend (XLA): each computes its share of every chunk, the loss
// sees the whole batch; see gradcache.NewDataParallel.
func NewDataParallelGradCache(m gradcache.Model, lossFn gradcache.LossFn, devices int) (*GradCache, error) {
	return gradcache.NewDataParallel(m, lossFn, devices)
}

// Trainer runs GradCache steps with AdamW, checkpoints and resume.
type Trainer = gradcache.Trainer

// TrainConfig is the trainer's recipe (steps, learning rate, schedule...).
type TrainConfig = gradcache.Config

// AdamW is the optimizer's settings (PyTorch's AdamW with clipping).
type AdamW = gradcache.AdamW
