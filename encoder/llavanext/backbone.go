package llavanext

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/org/vlm2vec/encoder/clip"
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/tokenizer"
	"github.com/org/vlm2vec/instruct"
)

// Family is LLaVA-NeXT as a model family of the encoder core: VLM2Vec's
// LLaVA-1.6 checkpoints and llava-hf's llava-v1.6-* layout.
var Family family.Family = llavaFamily{}

type llavaFamily struct{}

func (llavaFamily) Name() string { return "llava_next" }

func (llavaFamily) Describe() string { return "llava_next (model_type llava_next)" }

func (llavaFamily) Detect(p family.Probe) bool { return p.ModelType == "llava_next" }

// imageToken is LLaVA's placeholder, one per image in the prompt.
const imageToken = "<image>"

// Open loads config.json, safetensors weights, tokenizer.json and
// preprocessor_config.json of dir.
func (llavaFamily) Open(ctx context.Context, dir string, o family.Options) (family.Model, error) {
	if _, err := os.Stat(filepath.Join(dir, "preprocessor_config.json")); err != nil {
		return nil, fmt.Errorf("llavanext: %s is not a LLaVA-NeXT checkpoint directory: %w", dir, err)
	}
	if o.MinPixels > 0 {
		return nil, fmt.Errorf("llavanext: pixel budgets (WithPixels) are Qwen2-VL's; LLaVA-NeXT tiles images by its grid pinpoints (use WithPreResize for VLM2Vec's resolutions)")
	}
	if o.NumCrops > 0 {
		return nil, fmt.Errorf("llavanext: num_crops (WithNumCrops) is Phi-3-V's; LLaVA-NeXT tiles images by its grid pinpoints")
	}
	if o.Positions != family.Positions1D {
		return nil, fmt.Errorf("llavanext: LLaVA-NeXT has 1-D positions only")
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
	v := m.Config.VisionConfig
	if pcfg.CropHeight != v.ImageSize {
		return nil, fmt.Errorf("llavanext: preprocessor crop size %d differs from the vision tower's image_size %d", pcfg.CropHeight, v.ImageSize)
	}
	// The model tiles by config.json's pinpoints, the processor by its own;
	// transformers assumes they agree, and so must a checkpoint.
	if fmt.Sprint(pcfg.GridPinpoints) != fmt.Sprint(m.Config.ImageGridPinpoints) {
		return nil, fmt.Errorf("llavanext: preprocessor image_grid_pinpoints %v differ from config.json's %v", pcfg.GridPinpoints, m.Config.ImageGridPinpoints)
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
	if err := family.CheckVocab(tok, m.Config.TextConfig.VocabSize, "llavanext"); err != nil {
		return nil, err
	}
	if id, ok := tok.TokenToID(imageToken); !ok || id != m.Config.ImageTokenIndex {
		return nil, fmt.Errorf("llavanext: tokenizer's %s is id %d (found %v), config.json says image_token_index %d", imageToken, id, ok, m.Config.ImageTokenIndex)
	}
	return &Backbone{Model: m, tok: tok, proc: proc, preResize: o.PreResize, Limit: family.NewLimit(o, m.Config.TextConfig.MaxPositionEmbeddings)}, nil
}

// Backbone is a loaded LLaVA-NeXT model with its tokenizer and processor:
// the family.Model the encoder core drives.
type Backbone struct {
	*Model
	tok       tokenizer.Tokenizer
	proc      *ImageProcessor
	preResize int
	family.Limit
}

var _ family.Model = (*Backbone)(nil)

// ActivationBytes implements family.Model: the decoder's estimate.
func (b *Backbone) ActivationBytes(rows, seq int) int64 {
	t := &b.Config.TextConfig
	return family.DecoderActivationBytes(rows, seq, t.NumAttentionHeads, t.HiddenSize, t.IntermediateSize)
}

// Family implements family.Model.
func (b *Backbone) Family() string { return "llava_next" }

// Dim implements family.Model.
func (b *Backbone) Dim() int { return b.Config.TextConfig.HiddenSize }

// Tokenizer implements family.Model.
func (b *Backbone) Tokenizer() tokenizer.Tokenizer { return b.tok }

// Processor is the image processor.
func (b *Backbone) Processor() *ImageProcessor { return b.proc }

// Close releases the tokenizer's native resources, if any.
func (b *Backbone) Close() error { return b.tok.Close() }

// Render implements family.Model: VLM2Vec's formats with <image>.
func (b *Backbone) Render(r family.Request) (string, error) {
	if r.Videos > 0 {
		return "", fmt.Errorf("llavanext: videos are not supported by this family")
	}
	if r.Prompt != "" {
		return instruct.Swap(r.Prompt, instruct.LlavaNext)
	}
	if r.Instruction == "" && r.Text == "" && r.Images == 0 {
		return "", family.ErrEmptyInput
	}
	if r.Images > 1 {
		return "", fmt.Errorf("llavanext: %d images need a Prompt with one placeholder each", r.Images)
	}
	switch r.Format {
	case family.FormatDefault, family.FormatV1:
		return instruct.Swap(instruct.V1(r.Instruction, r.Text, r.Images > 0), instruct.LlavaNext)
	case family.FormatV2:
		return instruct.ProcessInputText(r.Instruction, instruct.LlavaNext, r.Text, false, r.Images > 0)
	}
	return "", fmt.Errorf("llavanext: prompt format %s is not one of LLaVA-NeXT's (v1, v2)", r.Format)
}

type visual struct {
	img    *ProcessedImage
	layout Layout
}

type row struct {
	ids     []int32
	visuals []visual
}

func (r *row) Len() int { return len(r.ids) }

// Prepare implements family.Model: tokenizes the prompt and expands each
// <image> into the image's feature count, as LlavaNextProcessor does.
func (b *Backbone) Prepare(prompt string, visuals []family.Visual) (family.Row, error) {
	if strings.TrimSpace(prompt) == "" && len(visuals) == 0 {
		return nil, family.ErrEmptyInput
	}
	raw, err := b.tok.Encode(prompt, true)
	if err != nil {
		return nil, fmt.Errorf("llavanext: tokenizing: %w", err)
	}
	if err := family.CheckIDs(raw, b.Config.TextConfig.VocabSize, b.tok, "llavanext"); err != nil {
		return nil, err
	}
	if len(visuals) == 0 {
		if raw, err = b.Text(raw); err != nil {
			return nil, err
		}
	}
	imgID := b.Config.ImageTokenIndex
	n := 0
	for _, id := range raw {
		if id == imgID {
			n++
		}
	}
	r := &row{}
	if len(visuals) == 0 && n > 0 {
		return nil, fmt.Errorf("llavanext: the prompt has %d %s but no image", n, imageToken)
	}
	if n != len(visuals) {
		return nil, fmt.Errorf("llavanext: %d image(s) but %d %s in the prompt", len(visuals), n, imageToken)
	}
	k := 0
	for _, id := range raw {
		if id != imgID {
			r.ids = append(r.ids, int32(id))
			continue
		}
		v, err := b.processImage(visuals[k])
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", k, err)
		}
		k++
		r.visuals = append(r.visuals, v)
		for t := v.layout.Tokens(); t > 0; t-- {
			r.ids = append(r.ids, int32(imgID))
		}
	}
	if len(r.ids) == 0 {
		return nil, family.ErrEmptyInput
	}
	if len(visuals) > 0 {
		if err := b.Visual(len(r.ids)); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (b *Backbone) processImage(v family.Visual) (visual, error) {
	if v.IsVideo() {
		return visual{}, fmt.Errorf("llavanext: videos are not supported by this family")
	}
	if v.Image == nil || v.Image.Bounds().Empty() {
		return visual{}, fmt.Errorf("llavanext: image decodes to nothing")
	}
	rgb := images.NewRGBFromImage(v.Image)
	var err error
	if b.preResize > 0 {
		// VLM2Vec's --image_resolution: a square resize, aspect ratio not kept.
		if rgb, err = images.Resize(rgb, b.preResize, b.preResize, images.ResampleBicubic); err != nil {
			return visual{}, err
		}
	}
	pi, err := b.proc.Preprocess(rgb)
	if err != nil {
		return visual{}, err
	}
	vc := b.Config.VisionConfig
	return visual{img: pi, layout: ImageLayout(pi.Height, pi.Width, b.Config.ImageGridPinpoints, vc.ImageSize, vc.Grid())}, nil
}

// Assemble implements family.Model (clip.Assemble): the visual table is
// every crop's projected features in crop order, then image_newline.
func (b *Backbone) Assemble(rows []family.Row, size int) (family.Batch, error) {
	vc := b.Config.VisionConfig
	g := vc.Grid()
	in := make([]clip.Row, len(rows))
	for i, fr := range rows {
		r, ok := fr.(*row)
		if !ok {
			return nil, fmt.Errorf("llavanext: row %d was not prepared by this family (%T)", i, fr)
		}
		cr := clip.Row{IDs: r.ids, Image: make([]bool, len(r.ids))}
		for _, v := range r.visuals {
			cr.Feats = append(cr.Feats, packedRows(v.layout, len(cr.Crops), g)...)
			for _, c := range v.img.Crops {
				cr.Crops = append(cr.Crops, clip.Im2Col(c, vc.NumChannels, v.img.Side, vc.PatchSize))
			}
		}
		for k, id := range r.ids {
			cr.Image[k] = len(r.visuals) > 0 && int(id) == b.Config.ImageTokenIndex
		}
		in[i] = cr
	}
	filler := clip.Row{IDs: []int32{0}, Image: []bool{false}} // one real token
	batch, err := clip.Assemble(in, size, g, vc.NumChannels*vc.PatchSize*vc.PatchSize, g*g, filler)
	if err != nil {
		return nil, fmt.Errorf("llavanext: %w", err)
	}
	return batch, nil
}

// packedRows lists, for one image laid out as l whose crops start at the
// row's crop index first, the feature each of its tokens reads in prompt
// order (clip.Row.Feats): the base crop's features, then the unpadded grid
// row by row, each row ending in the newline (clip.Extra(0)).
func packedRows(l Layout, first, g int) []int32 {
	out := make([]int32, 0, l.Tokens())
	for k := 0; k < g*g; k++ {
		out = append(out, int32(first*g*g+k))
	}
	for y := l.RowOff; y < l.RowOff+l.Rows; y++ {
		for x := l.ColOff; x < l.ColOff+l.Cols; x++ {
			crop := 1 + (y/g)*l.GridCols + x/g
			out = append(out, int32((first+crop)*g*g+(y%g)*g+x%g))
		}
		out = append(out, clip.Extra(0))
	}
	return out
}

// Forward implements family.Model for batches Assemble built.
func (b *Backbone) Forward(batch family.Batch) (*family.Output, error) {
	lb, ok := batch.(*Batch)
	if !ok {
		return nil, fmt.Errorf("llavanext: batch of type %T was not assembled by this family", batch)
	}
	return b.Model.Forward(lb)
}
