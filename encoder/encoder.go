// Package encoder turns instructions, texts and images into VLM2Vec
// embeddings: the final-norm hidden state of the last real token of a
// vision-language model, L2-normalised.
//
//	enc, err := encoder.Open(ctx, "Qwen2-VL-2B-Instruct", encoder.WithAdapter("VLM2Vec-V2.0"))
//	vecs, err := enc.Embed(ctx, []encoder.Input{{Instruction: "Represent the given image.", Image: img}})
//
// The backbone is Qwen2-VL (package qwen2vl). Inputs are formatted with
// the instruct package, tokenized exactly as Hugging Face does, images go
// through the Qwen2-VL processor, and batches are padded to bucketed shapes
// so a stream of varied inputs compiles a bounded number of programs.
package encoder

import (
	"context"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"sync"

	_ "github.com/gomlx/compute/gobackend" // the embedded default backend
	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/encoder/qwen2vl"
	"github.com/org/vlm2vec/encoder/tokenizer"
	"github.com/org/vlm2vec/instruct"
)

// Input is one thing to embed: an instruction, an optional text and an
// optional image. Prompt, when set, is used as the whole prompt instead
// (after swapping the data's <|image_1|> placeholder for the backbone's
// token), for data that stores complete strings such as MMEB rows.
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
}

// images returns the input's images in prompt order, decoding paths.
func (in Input) images(lim images.Limits) ([]image.Image, error) {
	var out []image.Image
	add := func(img image.Image, path string) error {
		if img == nil && path != "" {
			var err error
			if img, err = images.DecodeFile(path, lim); err != nil {
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

func (in Input) hasImage() bool {
	return in.Image != nil || in.ImagePath != "" || len(in.MoreImages) > 0 || len(in.MoreImagePaths) > 0
}

// Encoder embeds inputs with a loaded backbone. It is safe for concurrent
// use; calls are serialised on the model.
type Encoder struct {
	cfg   *qwen2vl.Config
	model *qwen2vl.Model
	tok   tokenizer.Tokenizer
	proc  *qwen2vl.ImageProcessor
	set   settings

	imageID, padID int

	mu     sync.Mutex
	shapes map[string]bool
}

// Open loads a Qwen2-VL checkpoint directory: config.json, safetensors
// weights, tokenizer.json (+ tokenizer_config.json) and
// preprocessor_config.json.
func Open(ctx context.Context, dir string, opts ...Option) (*Encoder, error) {
	set := defaults()
	for _, o := range opts {
		if err := o(&set); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, f := range []string{"config.json", "preprocessor_config.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return nil, fmt.Errorf("encoder: %s is not a Qwen2-VL checkpoint directory: %w", dir, err)
		}
	}
	backend := set.backend
	if backend == nil {
		var err error
		if backend, err = newBackend(set.backendConfig); err != nil {
			return nil, err
		}
	}
	var adapter *peft.Adapter
	if set.adapterDir != "" {
		var err error
		if adapter, err = peft.Load(set.adapterDir); err != nil {
			return nil, err
		}
	}
	m, err := qwen2vl.Load(backend, dir, qwen2vl.LoadOptions{
		DType: set.dtype, AllowUnknownConfigFields: set.allowUnknown, Adapter: adapter, MaxCompiledShapes: set.maxShapes,
	})
	if err != nil {
		return nil, err
	}
	pcfg, err := qwen2vl.LoadImageProcessorConfig(filepath.Join(dir, "preprocessor_config.json"))
	if err != nil {
		return nil, err
	}
	if set.minPixels > 0 {
		pcfg.MinPixels, pcfg.MaxPixels = set.minPixels, set.maxPixels
	}
	if pcfg.PatchSize != m.Config.VisionConfig.PatchSize || pcfg.MergeSize != m.Config.VisionConfig.SpatialMergeSize ||
		pcfg.TemporalPatchSize != m.Config.VisionConfig.TemporalPatchSize {
		return nil, fmt.Errorf("encoder: preprocessor_config.json patch geometry (%d/%d/%d) does not match config.json (%d/%d/%d)",
			pcfg.PatchSize, pcfg.MergeSize, pcfg.TemporalPatchSize,
			m.Config.VisionConfig.PatchSize, m.Config.VisionConfig.SpatialMergeSize, m.Config.VisionConfig.TemporalPatchSize)
	}
	proc, err := qwen2vl.NewImageProcessor(pcfg)
	if err != nil {
		return nil, err
	}
	tok := set.tok
	if tok == nil {
		if tok, err = tokenizer.FromFile(filepath.Join(dir, "tokenizer.json")); err != nil {
			return nil, err
		}
	}
	e := &Encoder{cfg: m.Config, model: m, tok: tok, proc: proc, set: set, imageID: m.Config.ImageTokenID, shapes: map[string]bool{}}
	// Qwen2's pad token is <|endoftext|>; its id only fills padded slots,
	// which the attention mask hides, so any valid id would do.
	e.padID = e.imageID
	if id, ok := tok.TokenToID("<|endoftext|>"); ok {
		e.padID = id
	}
	if id, ok := tok.TokenToID(qwenImageToken); !ok || id != e.imageID {
		return nil, fmt.Errorf("encoder: tokenizer's %s is id %d, config.json says image_token_id %d", qwenImageToken, id, e.imageID)
	}
	return e, nil
}

const qwenImageToken = "<|image_pad|>"

// Dim is the embedding dimension (the LM hidden size).
func (e *Encoder) Dim() int { return e.cfg.HiddenSize }

// Model exposes the backbone (for training and inspection).
func (e *Encoder) Model() *qwen2vl.Model { return e.model }

// Tokenizer exposes the tokenizer.
func (e *Encoder) Tokenizer() tokenizer.Tokenizer { return e.tok }

// CompiledShapes is the number of distinct batch shapes run so far: each
// one is a compiled program, so it should stay small.
func (e *Encoder) CompiledShapes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.shapes)
}

// Close releases the tokenizer's native resources, if any.
func (e *Encoder) Close() error { return e.tok.Close() }

// ErrEmptyInput reports an input with no instruction, text, prompt or image.
var ErrEmptyInput = errors.New("encoder: empty input")

// prepared is one input tokenized, with its images processed.
type prepared struct {
	ids    []int32
	images []*qwen2vl.ProcessedImage
	grids  []qwen2vl.GridTHW
}

// Prompt returns the prompt string an input becomes, with the backbone's
// image token (one per image, not yet expanded).
func (e *Encoder) Prompt(in Input) (string, error) {
	hasImage := in.hasImage()
	if in.Prompt != "" {
		return instruct.Swap(in.Prompt, instruct.Qwen2VL)
	}
	if in.Instruction == "" && in.Text == "" && !hasImage {
		return "", ErrEmptyInput
	}
	switch e.set.format {
	case FormatV2:
		return instruct.ProcessInputText(in.Instruction, instruct.Qwen2VL, in.Text, false, hasImage)
	default:
		return instruct.Swap(instruct.V1(in.Instruction, in.Text, hasImage), instruct.Qwen2VL)
	}
}

func (e *Encoder) prepare(in Input) (*prepared, error) {
	prompt, err := e.Prompt(in)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(prompt) == "" && !in.hasImage() {
		return nil, ErrEmptyInput
	}
	imgs, err := in.images(e.set.imageLimits)
	if err != nil {
		return nil, err
	}
	raw, err := e.tok.Encode(prompt, true)
	if err != nil {
		return nil, fmt.Errorf("encoder: tokenizing %q: %w", truncate(prompt), err)
	}
	p := &prepared{}
	if len(imgs) == 0 {
		// A text-only prompt may still carry a stray image token (MMEB's
		// WebQA/EDIS rows do); the reference then feeds it as one ordinary
		// token, and so do we.
		p.ids = toInt32(raw)
		if len(p.ids) == 0 {
			return nil, ErrEmptyInput
		}
		return p, nil
	}
	nTokens := 0
	for _, id := range raw {
		if id == e.imageID {
			nTokens++
		}
	}
	if nTokens != len(imgs) {
		return nil, fmt.Errorf("encoder: %d image(s) but %d %s in the prompt %q", len(imgs), nTokens, qwenImageToken, truncate(prompt))
	}
	for _, img := range imgs {
		pi, err := e.processImage(img)
		if err != nil {
			return nil, err
		}
		g := pi.GridTHW
		p.images = append(p.images, pi)
		p.grids = append(p.grids, qwen2vl.GridTHW{T: g[0], H: g[1], W: g[2]})
	}
	next := 0
	for _, id := range raw {
		if id != e.imageID {
			p.ids = append(p.ids, int32(id))
			continue
		}
		for k := p.grids[next].Tokens(e.cfg.VisionConfig.SpatialMergeSize); k > 0; k-- {
			p.ids = append(p.ids, int32(id))
		}
		next++
	}
	return p, nil
}

func (e *Encoder) processImage(img image.Image) (*qwen2vl.ProcessedImage, error) {
	if img.Bounds().Empty() {
		return nil, fmt.Errorf("encoder: image decodes to nothing (%v)", img.Bounds())
	}
	rgb := qwen2vl.NewRGBFromImage(img)
	if e.set.preResize > 0 {
		var err error
		if rgb, err = qwen2vl.Resize(rgb, e.set.preResize, e.set.preResize, qwen2vl.ResampleBicubic); err != nil {
			return nil, err
		}
	}
	return e.proc.PreprocessRGB(rgb)
}

func toInt32(ids []int) []int32 {
	out := make([]int32, len(ids))
	for i, id := range ids {
		out[i] = int32(id)
	}
	return out
}

func truncate(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// Embed returns one L2-normalised embedding per input, in order. It stops
// at the first bad input (the error names its index) or when ctx is done.
func (e *Encoder) Embed(ctx context.Context, inputs []Input) ([][]float32, error) {
	if len(inputs) == 0 {
		return nil, nil
	}
	out := make([][]float32, len(inputs))
	bs := e.set.batchSize
	for start := 0; start < len(inputs); start += bs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		end := min(start+bs, len(inputs))
		batch := make([]*prepared, 0, end-start)
		for i := start; i < end; i++ {
			p, err := e.prepare(inputs[i])
			if err != nil {
				return nil, fmt.Errorf("encoder: input %d: %w", i, err)
			}
			batch = append(batch, p)
		}
		res, err := e.run(batch)
		if err != nil {
			return nil, err
		}
		copy(out[start:end], res.Embeddings[:end-start])
	}
	return out, nil
}
