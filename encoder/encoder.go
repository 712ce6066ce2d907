// Package encoder turns instructions, texts, images and videos into
// VLM2Vec embeddings: the final-norm hidden state of the last real token of
// a vision-language model, L2-normalised.
//
//	enc, err := encoder.Open(ctx, "Qwen2-VL-2B-Instruct", encoder.WithAdapter("VLM2Vec-V2.0"))
//	vecs, err := enc.Embed(ctx, []encoder.Input{{Instruction: "Represent the given image.", Image: img}})
//
// This package is the family-agnostic core: inputs, options, decoding image
// files, sampling video frames, batching. The model families sit beside it
// (encoder/qwen2vl: Qwen2-VL and GME), each behind the contract of package
// encoder/family, and Open picks one from config.json. Inputs are
// formatted with the instruct package, tokenized exactly as Hugging Face
// does, preprocessed by the family's processor, and batches are padded to
// bucketed shapes so a stream of varied inputs compiles a bounded number of
// programs. See docs/encoder.md for adding a family.
package encoder

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math"
	"reflect"
	"sort"
	"strings"
	"sync"

	_ "github.com/gomlx/compute/gobackend" // the embedded default backend
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/llavanext"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/encoder/phi3v"
	"github.com/org/vlm2vec/encoder/qwen2vl"
	"github.com/org/vlm2vec/encoder/qwen3vl"
	"github.com/org/vlm2vec/encoder/tokenizer"
	"github.com/org/vlm2vec/mmeb"
	"github.com/org/vlm2vec/vectors"
)

// Families are the model families Open knows, in detection order (a GME
// checkpoint is also a Qwen2-VL one, so GME comes first).
var Families = []family.Family{qwen2vl.GMEFamily, qwen2vl.VLM2VecFamily, qwen3vl.Family, llavanext.Family, phi3v.Family}

// Input is one thing to embed: an instruction, an optional text, optional
// images and an optional video. Prompt, when set, is used as the whole
// prompt instead (after swapping the data's <|image_1|> placeholder for the
// backbone's token), for data that stores complete strings such as MMEB
// rows.
type Input struct {
	Instruction string
	Text        string
	Image       image.Image
	// ImagePath is decoded when Image is nil.
	ImagePath string
	Prompt    string
	// MoreImages and MoreImagePaths add images after the first, for
	// prompts with several image tokens (filled in order).
	MoreImages     []image.Image
	MoreImagePaths []string
	// Video is a video as its frames, in order; VideoPaths names frame
	// files instead (decoded when Video is nil). The encoder samples them
	// as VLM2Vec does (WithVideoFrames, 8 by default).
	Video      []image.Image
	VideoPaths []string
}

// images returns the input's images in prompt order, decoding paths.
func (in Input) images(lim images.Limits) ([]image.Image, error) {
	var out []image.Image
	add := func(img image.Image, path string) error {
		if img != nil && isNilImage(img) {
			return fmt.Errorf("image %d is a nil %T", len(out), img)
		}
		if img == nil && path != "" {
			var err error
			// Alpha kept: Qwen3-VL composites RGBA on white; the other
			// families drop it as Pillow's convert("RGB") does.
			if img, err = images.DecodeFileKeepAlpha(path, lim); err != nil {
				return err
			}
		}
		if img != nil {
			out = append(out, img)
		}
		return nil
	}
	if err := add(in.Image, in.ImagePath); err != nil {
		return nil, err
	}
	for _, img := range in.MoreImages {
		if err := add(img, ""); err != nil {
			return nil, err
		}
	}
	for _, p := range in.MoreImagePaths {
		if err := add(nil, p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (in Input) imageCount() int {
	n := len(in.MoreImages) + len(in.MoreImagePaths)
	if in.Image != nil || in.ImagePath != "" {
		n++
	}
	return n
}

// isNilImage reports an image.Image interface holding a nil pointer (a
// typed nil), which would panic on first use.
func isNilImage(img image.Image) bool {
	v := reflect.ValueOf(img)
	switch v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return v.IsNil()
	}
	return false
}

func (in Input) hasVideo() bool { return len(in.Video) > 0 || len(in.VideoPaths) > 0 }

// video returns the input's sampled frames, decoding only those kept.
func (in Input) video(n int, lim images.Limits) ([]image.Image, error) {
	if len(in.Video) > 0 {
		for i, f := range in.Video {
			if f == nil || isNilImage(f) {
				return nil, fmt.Errorf("video frame %d is nil", i)
			}
		}
		return SampleFrames(in.Video, n), nil
	}
	paths := SampleFrames(in.VideoPaths, n)
	out := make([]image.Image, len(paths))
	for i, p := range paths {
		img, err := images.DecodeFileKeepAlpha(p, lim)
		if err != nil {
			return nil, fmt.Errorf("video frame %s: %w", p, err)
		}
		out[i] = img
	}
	return out, nil
}

// SampleFrames picks n frames evenly, as VLM2Vec's process_video_frames
// does: indices floor(linspace(0, len-1, n)); with fewer than n frames all
// of them, unchanged; n <= 0 keeps every frame (see mmeb.SampleFrames).
func SampleFrames[T any](frames []T, n int) []T {
	if n <= 0 {
		return append([]T(nil), frames...)
	}
	return mmeb.SampleFrames(frames, n)
}

// Encoder embeds inputs with a loaded backbone. It is safe for concurrent
// use; calls are serialised on the model.
type Encoder struct {
	model family.Model
	set   settings

	mu          sync.Mutex
	shapes      map[string]bool
	fingerprint string
	// abandoned is closed when the passes cancelled calls left running
	// (nAbandoned of them) have ended; nil when there are none (see run).
	abandoned  chan struct{}
	nAbandoned int
}

// Open loads a checkpoint directory (config.json, safetensors weights,
// tokenizer.json and the family's processor config), choosing the model
// family from config.json unless WithFamily names one.
func Open(ctx context.Context, dir string, opts ...Option) (*Encoder, error) {
	if ctx == nil {
		return nil, errNilContext
	}
	set := defaults()
	for _, o := range opts {
		if err := o(&set); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fam, err := pickFamily(dir, set.family)
	if err != nil {
		return nil, err
	}
	backend := set.backend
	if backend == nil {
		if backend, err = newBackend(set.backendConfig); err != nil {
			return nil, err
		}
	}
	var adapter *peft.Adapter
	if set.adapterDir != "" {
		if adapter, err = peft.Load(set.adapterDir); err != nil {
			return nil, err
		}
	}
	m, err := fam.Open(ctx, dir, family.Options{
		Backend: backend, DType: set.dtype, Adapter: adapter, AllowUnknownConfigFields: set.allowUnknown,
		MaxCompiledShapes: set.maxShapes, Tokenizer: set.tok, MinPixels: set.minPixels, MaxPixels: set.maxPixels,
		PreResize: set.preResize, NumCrops: set.numCrops, Positions: set.positions,
		MaxTokens: set.maxTokens, Length: set.length,
	})
	if err != nil {
		return nil, err
	}
	if d, ok := m.(interface{ DefaultVideoFrames() int }); ok && !set.framesSet {
		set.videoFrames = d.DefaultVideoFrames()
	}
	if set.dims > m.Dim() {
		m.Close()
		return nil, fmt.Errorf("encoder: WithDimensions(%d) exceeds the model's %d dimensions", set.dims, m.Dim())
	}
	fp, err := fingerprintOf(m.Family(), set, dir, set.adapterDir)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("encoder: fingerprinting %s: %w", dir, err)
	}
	return &Encoder{model: m, set: set, shapes: map[string]bool{}, fingerprint: fp}, nil
}

// pickFamily returns the family named, or the first that claims dir.
func pickFamily(dir, name string) (family.Family, error) {
	var known []string
	for _, f := range Families {
		known = append(known, f.Describe())
	}
	if name != "" {
		for _, f := range Families {
			if f.Name() == name {
				return f, nil
			}
		}
		return nil, fmt.Errorf("encoder: unknown model family %q; known: %s", name, strings.Join(known, ", "))
	}
	p, err := family.ReadProbe(dir)
	if err != nil {
		return nil, err
	}
	for _, f := range Families {
		if f.Detect(p) {
			return f, nil
		}
	}
	return nil, fmt.Errorf("encoder: %s/config.json has model_type %q (text_config %q, vision_config %q), which no model family loads; known: %s",
		dir, p.ModelType, p.TextModelType, p.VisionModelType, strings.Join(known, ", "))
}

// Dim is the embedding dimension: the LM hidden size, or WithDimensions'.
func (e *Encoder) Dim() int {
	if e.set.dims > 0 {
		return e.set.dims
	}
	return e.model.Dim()
}

// Family names the loaded model family ("qwen2_vl", "gme").
func (e *Encoder) Family() string { return e.model.Family() }

// Model exposes the backbone (for training and inspection). For Qwen2-VL
// and GME it is a *qwen2vl.Backbone.
func (e *Encoder) Model() family.Model { return e.model }

// Tokenizer exposes the tokenizer.
func (e *Encoder) Tokenizer() tokenizer.Tokenizer { return e.model.Tokenizer() }

// CompiledShapes is the number of distinct batch shapes run so far: each
// one is a compiled program, so it should stay small.
func (e *Encoder) CompiledShapes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.shapes)
}

// Close releases the tokenizer's native resources, if any.
func (e *Encoder) Close() error { return e.model.Close() }

// runGuarded runs prepared rows (of inputs idx) and reports each to sink,
// splitting them into smaller batches while the estimated activation
// memory is over the budget; a single row over it is ErrOverBudget.
func (e *Encoder) runGuarded(ctx context.Context, rows []family.Row, idx []int, sink func(i int, v []float32, err error) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	size := e.set.batchSize
	if len(rows) < size {
		size = family.Pow2Bucket(len(rows), 1) // a short batch pads to its own size
	}
	maxLen := 1
	for _, r := range rows {
		maxLen = max(maxLen, r.Len())
	}
	if need := e.model.ActivationBytes(size, family.LengthBucket(maxLen)); need > e.set.memoryBudget {
		if len(rows) == 1 {
			return sink(idx[0], nil, fmt.Errorf("%w: %d tokens need about %.1f GiB of activations, over the %.1f GiB budget (WithMemoryBudget, WithMaxTokens)",
				ErrOverBudget, rows[0].Len(), float64(need)/(1<<30), float64(e.set.memoryBudget)/(1<<30)))
		}
		h := len(rows) / 2
		if err := e.runGuarded(ctx, rows[:h], idx[:h], sink); err != nil {
			return err
		}
		return e.runGuarded(ctx, rows[h:], idx[h:], sink)
	}
	res, err := e.run(ctx, rows, size)
	if err != nil {
		return err
	}
	for k, v := range res.Embeddings[:len(rows)] {
		var verr error
		if !finite(v) {
			v, verr = nil, ErrNotFinite
		} else if e.set.dims > 0 && e.set.dims < len(v) {
			v, verr = vectors.Truncate(v, e.set.dims)
		}
		if err := sink(idx[k], v, verr); err != nil {
			return err
		}
	}
	return nil
}

// visualBucket is a row's vision block length rounded up to a power of
// two (0 without visuals, or for families without block attention).
func visualBucket(r family.Row) int {
	vr, ok := r.(family.VisualRow)
	if !ok || vr.VisualLen() == 0 {
		return 0
	}
	b := 16
	for b < vr.VisualLen() {
		b *= 2
	}
	return b
}

// ErrNotFinite reports an embedding with NaN or Inf values, or all zero:
// activations overflowed (weights that are finite but huge; NaN and Inf
// weights are refused at load).
var ErrNotFinite = errors.New("the embedding is not finite (NaN or Inf) or is all zero: check the checkpoint's weights")

var errNilContext = errors.New("encoder: nil context")

// finite reports whether an embedding is usable: finite and not all zero
// (the L2 normalisation of a zero hidden state).
func finite(v []float32) bool {
	nonzero := false
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
		nonzero = nonzero || x != 0
	}
	return nonzero
}

// ErrEmptyInput reports an input with no instruction, text, prompt or image.
var ErrEmptyInput = family.ErrEmptyInput

// Prompt returns the prompt string an input becomes, with the backbone's
// placeholder tokens (one per image or video, not yet expanded).
func (e *Encoder) Prompt(in Input) (string, error) {
	vids := 0
	if in.hasVideo() {
		vids = 1
	}
	return e.model.Render(family.Request{Instruction: in.Instruction, Text: in.Text, Prompt: in.Prompt,
		Images: in.imageCount(), Videos: vids, Format: e.set.format})
}

func (e *Encoder) prepare(in Input) (family.Row, error) {
	prompt, err := e.Prompt(in)
	if err != nil {
		return nil, err
	}
	imgs, err := in.images(e.set.imageLimits)
	if err != nil {
		return nil, err
	}
	var visuals []family.Visual
	for _, img := range imgs {
		visuals = append(visuals, family.Visual{Image: img})
	}
	if in.hasVideo() {
		frames, err := in.video(e.set.videoFrames, e.set.imageLimits)
		if err != nil {
			return nil, err
		}
		visuals = append(visuals, family.Visual{Frames: frames})
	}
	return e.model.Prepare(prompt, visuals)
}

// Embed returns one L2-normalised embedding per input, in order. It stops
// at the first bad input (the error names its index) or when ctx is done.
// Inputs are batched by length (see EmbedEach).
func (e *Encoder) Embed(ctx context.Context, inputs []Input) ([][]float32, error) {
	out := make([][]float32, len(inputs))
	err := e.embed(ctx, inputs, func(i int, v []float32, err error) error {
		if err != nil {
			return fmt.Errorf("encoder: input %d: %w", i, err)
		}
		out[i] = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Result is one input's outcome in EmbedEach: its embedding, or why it has
// none.
type Result struct {
	Embedding []float32
	Err       error
}

// EmbedEach embeds every input it can: a bad input (an unreadable image,
// one over the token limit or the memory budget, a non-finite result) gets
// its error in its Result and the others are embedded regardless. The
// returned error is for the call as a whole (a nil or done context, a
// failed forward pass).
//
// Within a call, inputs are grouped by token length, a window of four
// batches at a time, so short inputs are not padded to long ones; results
// come back in input order.
func (e *Encoder) EmbedEach(ctx context.Context, inputs []Input) ([]Result, error) {
	out := make([]Result, len(inputs))
	err := e.embed(ctx, inputs, func(i int, v []float32, err error) error {
		out[i] = Result{Embedding: v, Err: err}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// embed prepares inputs a window at a time, sorts each window's rows by
// length, runs them in batches and reports every input to sink (with its
// vector or its error); a non-nil error from sink stops the call.
func (e *Encoder) embed(ctx context.Context, inputs []Input, sink func(i int, v []float32, err error) error) error {
	if ctx == nil {
		return errNilContext
	}
	bs := e.set.batchSize
	window := 4 * bs
	for start := 0; start < len(inputs); start += window {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+window, len(inputs))
		var rows []family.Row
		var idx []int
		for i := start; i < end; i++ {
			p, err := e.prepare(inputs[i])
			if err != nil {
				if err := sink(i, nil, err); err != nil {
					return err
				}
				continue
			}
			rows, idx = append(rows, p), append(idx, i)
		}
		order := make([]int, len(rows))
		for k := range order {
			order[k] = k
		}
		// Batch like with like: rows by the size of their vision attention
		// blocks (text-only first, then images by block length in powers
		// of two, the vision tower's padding unit), then by token count.
		bucket := make([]int, len(rows))
		for k, r := range rows {
			bucket[k] = visualBucket(r)
		}
		sort.SliceStable(order, func(a, b int) bool {
			if va, vb := bucket[order[a]], bucket[order[b]]; va != vb {
				return va < vb
			}
			return rows[order[a]].Len() < rows[order[b]].Len()
		})
		for b := 0; b < len(order); {
			// A batch ends at the batch size or where the vision block
			// size changes: padding every block of a batch to a larger
			// image's costs more than the extra pass.
			end := b + 1
			for end < len(order) && end-b < bs && bucket[order[end]] == bucket[order[b]] {
				end++
			}
			part := order[b:end]
			b = end
			br, bi := make([]family.Row, len(part)), make([]int, len(part))
			for k, o := range part {
				br[k], bi[k] = rows[o], idx[o]
			}
			if err := e.runGuarded(ctx, br, bi, sink); err != nil {
				return err
			}
		}
	}
	return nil
}
