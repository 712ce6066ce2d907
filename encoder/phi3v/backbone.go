package phi3v

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/org/vlm2vec/encoder/clip"
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/tokenizer"
	"github.com/org/vlm2vec/instruct"
)

// Family is Phi-3-V as a model family of the encoder core: VLM2Vec's
// Phi-3.5-V checkpoints (TIGER-Lab/VLM2Vec-Full, VLM2Vec-LoRA's base) and
// microsoft/Phi-3.5-vision-instruct's layout.
var Family family.Family = phiFamily{}

type phiFamily struct{}

func (phiFamily) Name() string { return "phi3_v" }

func (phiFamily) Describe() string { return "phi3_v (model_type phi3_v)" }

func (phiFamily) Detect(p family.Probe) bool { return p.ModelType == "phi3_v" }

// Open loads config.json, safetensors weights, tokenizer.json and
// preprocessor_config.json of dir.
func (phiFamily) Open(ctx context.Context, dir string, o family.Options) (family.Model, error) {
	if _, err := os.Stat(filepath.Join(dir, "preprocessor_config.json")); err != nil {
		return nil, fmt.Errorf("phi3v: %s is not a Phi-3-V checkpoint directory: %w", dir, err)
	}
	if o.MinPixels > 0 || o.PreResize > 0 {
		return nil, fmt.Errorf("phi3v: pixel budgets and pre-resizing are other families'; Phi-3-V tiles images by num_crops (WithNumCrops)")
	}
	if o.Positions != family.Positions1D {
		return nil, fmt.Errorf("phi3v: Phi-3-V has 1-D positions only")
	}
	m, err := Load(o.Backend, dir, LoadOptions{
		DType: o.DType, AllowUnknownConfigFields: o.AllowUnknownConfigFields, Adapter: o.Adapter, MaxCompiledShapes: o.MaxCompiledShapes,
	})
	if err != nil {
		return nil, err
	}
	pcfg, err := LoadImageProcessorConfig(filepath.Join(dir, "preprocessor_config.json"))
	if err != nil {
		return nil, err
	}
	if o.NumCrops > 0 {
		pcfg.NumCrops = o.NumCrops
	}
	proc, err := NewImageProcessor(pcfg)
	if err != nil {
		return nil, err
	}
	tok := o.Tokenizer
	if tok == nil {
		if tok, err = tokenizer.FromFile(filepath.Join(dir, "tokenizer.json")); err != nil {
			return nil, err
		}
	}
	if err := family.CheckVocab(tok, m.Config.VocabSize, "phi3v"); err != nil {
		return nil, err
	}
	if _, ok := tok.TokenToID("<s>"); !ok {
		return nil, fmt.Errorf("phi3v: the tokenizer has no <s>: not a Llama-style tokenizer")
	}
	return &Backbone{Model: m, tok: tok, proc: proc, Limit: family.NewLimit(o, m.Config.MaxPositionEmbeddings)}, nil
}

// Backbone is a loaded Phi-3-V model with its tokenizer and processor: the
// family.Model the encoder core drives.
type Backbone struct {
	*Model
	tok  tokenizer.Tokenizer
	proc *ImageProcessor
	family.Limit
}

var _ family.Model = (*Backbone)(nil)

// ActivationBytes implements family.Model: the decoder's estimate.
func (b *Backbone) ActivationBytes(rows, seq int) int64 {
	c := b.Config
	return family.DecoderActivationBytes(rows, seq, c.NumAttentionHeads, c.HiddenSize, c.IntermediateSize)
}

// Family implements family.Model.
func (b *Backbone) Family() string { return "phi3_v" }

// Dim implements family.Model.
func (b *Backbone) Dim() int { return b.Config.HiddenSize }

// Tokenizer implements family.Model.
func (b *Backbone) Tokenizer() tokenizer.Tokenizer { return b.tok }

// Processor is the image processor.
func (b *Backbone) Processor() *ImageProcessor { return b.proc }

// Close releases the tokenizer's native resources, if any.
func (b *Backbone) Close() error { return b.tok.Close() }

// Render implements family.Model: VLM2Vec's formats with <|image_1|>.
func (b *Backbone) Render(r family.Request) (string, error) {
	if r.Videos > 0 {
		return "", fmt.Errorf("phi3v: Phi-3-V takes no videos (the reference has no video token for it)")
	}
	if r.Prompt != "" {
		return instruct.Swap(r.Prompt, instruct.Phi3V)
	}
	if r.Instruction == "" && r.Text == "" && r.Images == 0 {
		return "", family.ErrEmptyInput
	}
	if r.Images > 1 {
		return "", fmt.Errorf("phi3v: %d images need a Prompt with <|image_1|>..<|image_%d|>", r.Images, r.Images)
	}
	switch r.Format {
	case family.FormatDefault, family.FormatV1:
		return instruct.Swap(instruct.V1(r.Instruction, r.Text, r.Images > 0), instruct.Phi3V)
	case family.FormatV2:
		return instruct.ProcessInputText(r.Instruction, instruct.Phi3V, r.Text, false, r.Images > 0)
	}
	return "", fmt.Errorf("phi3v: prompt format %s is not one of Phi-3-V's (v1, v2)", r.Format)
}

// imageTag is the processor's placeholder pattern, <|image_k|> for image k.
var imageTag = regexp.MustCompile(`<\|image_(\d+)\|>`)

type row struct {
	ids []int32
	// isImage marks the image tokens (the reference's negative ids).
	isImage []bool
	images  []*ProcessedImage
}

func (r *row) Len() int { return len(r.ids) }

// Prepare implements family.Model as Phi3VProcessor does: the prompt is
// split at its <|image_k|> tags, each text chunk tokenized on its own (so
// each gets a BOS, the first one even when empty), and the k-th tag
// replaced by image k's tokens. Tags must name images 1..n once each, in
// order: the reference fills image features in order of appearance, so any
// other order would mix images up.
func (b *Backbone) Prepare(prompt string, visuals []family.Visual) (family.Row, error) {
	if strings.TrimSpace(prompt) == "" && len(visuals) == 0 {
		return nil, family.ErrEmptyInput
	}
	tags := imageTag.FindAllStringSubmatchIndex(prompt, -1)
	if len(tags) != len(visuals) {
		return nil, fmt.Errorf("phi3v: %d image(s) but %d <|image_k|> tag(s) in the prompt", len(visuals), len(tags))
	}
	r := &row{}
	// encode appends a chunk's tokens; fit applies the length policy, which
	// may cut text-only prompts (tags == 0, one chunk).
	encode := func(chunk string, fit bool) error {
		ids, err := b.tok.Encode(chunk, true)
		if err != nil {
			return fmt.Errorf("phi3v: tokenizing: %w", err)
		}
		if err := family.CheckIDs(ids, b.Config.VocabSize, b.tok, "phi3v"); err != nil {
			return err
		}
		if fit {
			if ids, err = b.Text(ids); err != nil {
				return err
			}
		}
		for _, id := range ids {
			r.ids = append(r.ids, int32(id))
			r.isImage = append(r.isImage, false)
		}
		return nil
	}
	if len(tags) == 0 {
		if err := encode(prompt, true); err != nil {
			return nil, err
		}
		return r, nil
	}
	at := 0
	for k, t := range tags {
		if n, err := strconv.Atoi(prompt[t[2]:t[3]]); err != nil || n != k+1 {
			return nil, fmt.Errorf("phi3v: image tag %d is %s; tags must be <|image_1|>..<|image_%d|> in order", k+1, prompt[t[0]:t[1]], len(tags))
		}
		if err := encode(prompt[at:t[0]], false); err != nil {
			return nil, err
		}
		img, err := b.processImage(visuals[k])
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", k, err)
		}
		r.images = append(r.images, img)
		for n := img.Tokens(); n > 0; n-- {
			r.ids = append(r.ids, 0)
			r.isImage = append(r.isImage, true)
		}
		at = t[1]
	}
	// The text after the last tag is a chunk too, empty or not (re.split
	// yields it, and the tokenizer gives an empty chunk its BOS).
	if err := encode(prompt[at:], false); err != nil {
		return nil, err
	}
	if err := b.Visual(len(r.ids)); err != nil {
		return nil, err
	}
	return r, nil
}

func (b *Backbone) processImage(v family.Visual) (*ProcessedImage, error) {
	if v.IsVideo() {
		return nil, fmt.Errorf("phi3v: Phi-3-V takes no videos")
	}
	if v.Image == nil || v.Image.Bounds().Empty() {
		return nil, fmt.Errorf("phi3v: image decodes to nothing")
	}
	return b.proc.Preprocess(images.NewRGBFromImage(v.Image))
}

// Separator rows of the visual table, after every crop's features.
var (
	markSub = clip.Extra(0)
	markGlb = clip.Extra(1)
)

// Assemble implements family.Model (clip.Assemble): the visual table is
// every crop's 144 merged features in crop order, then sub_GN, then glb_GN.
func (b *Backbone) Assemble(rows []family.Row, size int) (family.Batch, error) {
	v := b.Config.Vision()
	in := make([]clip.Row, len(rows))
	for i, fr := range rows {
		r, ok := fr.(*row)
		if !ok {
			return nil, fmt.Errorf("phi3v: row %d was not prepared by this family (%T)", i, fr)
		}
		cr := clip.Row{IDs: r.ids, Image: r.isImage}
		for _, img := range r.images {
			cr.Feats = append(cr.Feats, tokenRows(img, len(cr.Crops))...)
			for _, c := range append([][]float32{img.Global}, img.Crops...) {
				cr.Crops = append(cr.Crops, clip.Im2Col(c, v.NumChannels, CropSide, v.PatchSize))
			}
		}
		in[i] = cr
	}
	filler := clip.Row{IDs: []int32{1}, Image: []bool{false}} // a BOS
	batch, err := clip.Assemble(in, size, v.Grid(), v.NumChannels*v.PatchSize*v.PatchSize, mergedSide*mergedSide, filler)
	if err != nil {
		return nil, fmt.Errorf("phi3v: %w", err)
	}
	return batch, nil
}

// tokenRows lists, for one image whose global crop is the row's crop index
// first (its local crops follow), the feature each of its tokens reads in
// prompt order (clip.Row.Feats) (Phi-3-V's hd_feature_transform, "sub_glb"): the local
// crops' merged features as one grid, row by row, each row ending in
// sub_GN; then glb_GN; then the global crop's 12x12 features, each row
// ending in sub_GN.
func tokenRows(img *ProcessedImage, first int) []int32 {
	const m = mergedSide
	out := make([]int32, 0, img.Tokens())
	hc, wc := img.Rows(), img.Cols()
	for y := 0; y < hc*m; y++ {
		for x := 0; x < wc*m; x++ {
			crop := first + 1 + (y/m)*wc + x/m
			out = append(out, int32(crop*m*m+(y%m)*m+x%m))
		}
		out = append(out, markSub)
	}
	out = append(out, markGlb)
	for y := 0; y < m; y++ {
		for x := 0; x < m; x++ {
			out = append(out, int32(first*m*m+y*m+x))
		}
		out = append(out, markSub)
	}
	return out
}

// Forward implements family.Model for batches Assemble built.
func (b *Backbone) Forward(batch family.Batch) (*family.Output, error) {
	pb, ok := batch.(*Batch)
	if !ok {
		return nil, fmt.Errorf("phi3v: batch of type %T was not assembled by this family", batch)
	}
	return b.Model.Forward(pb)
}
