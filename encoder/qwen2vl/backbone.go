package qwen2vl

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"

	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/tokenizer"
	"github.com/org/vlm2vec/instruct"
)

// Family is Qwen2-VL as a model family of the encoder core. Two presets
// share the backbone: VLM2Vec's (bare placeholder prompts, VLM2Vec's
// formats) and GME's (gme-Qwen2-VL: a chat template with the instruction as
// the system prompt, wrapped visuals, pooling on the final <|endoftext|>).
type Family struct{ gme bool }

var (
	// VLM2VecFamily loads Qwen2-VL checkpoints (model_type qwen2_vl),
	// VLM2Vec's among them.
	VLM2VecFamily family.Family = Family{}
	// GMEFamily loads gme-Qwen2-VL checkpoints: model_type qwen2_vl with the
	// gme_inference.py every GME release ships beside its weights.
	GMEFamily family.Family = Family{gme: true}
)

// GMEMarker is the file that identifies a GME checkpoint directory.
const GMEMarker = "gme_inference.py"

// Name implements family.Family.
func (f Family) Name() string {
	if f.gme {
		return "gme"
	}
	return "qwen2_vl"
}

// Describe implements family.Family.
func (f Family) Describe() string {
	if f.gme {
		return "gme (model_type qwen2_vl with " + GMEMarker + ")"
	}
	return "qwen2_vl (model_type qwen2_vl)"
}

// Detect implements family.Family.
func (f Family) Detect(p family.Probe) bool {
	if p.ModelType != "qwen2_vl" {
		return false
	}
	return !f.gme || p.Has(GMEMarker)
}

// Open implements family.Family: config.json, safetensors weights,
// tokenizer.json and preprocessor_config.json of dir.
func (f Family) Open(ctx context.Context, dir string, o family.Options) (family.Model, error) {
	if _, err := os.Stat(filepath.Join(dir, "preprocessor_config.json")); err != nil {
		return nil, fmt.Errorf("qwen2vl: %s is not a Qwen2-VL checkpoint directory: %w", dir, err)
	}
	if o.NumCrops > 0 {
		return nil, fmt.Errorf("qwen2vl: num_crops (WithNumCrops) is Phi-3-V's; Qwen2-VL sizes images by pixel budget (WithPixels)")
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
	switch {
	case o.MinPixels > 0:
		pcfg.MinPixels, pcfg.MaxPixels = o.MinPixels, o.MaxPixels
	case f.gme:
		// GME's inference code overrides the checkpoint's budget.
		pcfg.MinPixels, pcfg.MaxPixels = GMEMinPixels, GMEMaxPixels
	}
	vc := m.Config.VisionConfig
	if pcfg.PatchSize != vc.PatchSize || pcfg.MergeSize != vc.SpatialMergeSize || pcfg.TemporalPatchSize != vc.TemporalPatchSize {
		return nil, fmt.Errorf("qwen2vl: preprocessor_config.json patch geometry (%d/%d/%d) does not match config.json (%d/%d/%d)",
			pcfg.PatchSize, pcfg.MergeSize, pcfg.TemporalPatchSize, vc.PatchSize, vc.SpatialMergeSize, vc.TemporalPatchSize)
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
	if err := family.CheckVocab(tok, m.Config.VocabSize, "qwen2vl"); err != nil {
		return nil, err
	}
	b := &Backbone{Model: m, tok: tok, proc: proc, gme: f.gme, preResize: o.PreResize, positions: o.Positions,
		Limit: family.NewLimit(o, m.Config.MaxPositionEmbeddings)}
	// Qwen2's pad token is <|endoftext|>; its id only fills padded slots,
	// which the attention mask hides, so any valid id would do.
	b.padID = m.Config.ImageTokenID
	if id, ok := tok.TokenToID("<|endoftext|>"); ok {
		b.padID = id
	}
	if id, ok := tok.TokenToID(imageToken); !ok || id != m.Config.ImageTokenID {
		return nil, fmt.Errorf("qwen2vl: tokenizer's %s is id %d, config.json says image_token_id %d", imageToken, id, m.Config.ImageTokenID)
	}
	if id, ok := tok.TokenToID(videoToken); ok && id != m.Config.VideoTokenID {
		return nil, fmt.Errorf("qwen2vl: tokenizer's %s is id %d, config.json says video_token_id %d", videoToken, id, m.Config.VideoTokenID)
	}
	return b, nil
}

const (
	imageToken = "<|image_pad|>"
	videoToken = "<|video_pad|>"
)

// Backbone is a loaded Qwen2-VL (or GME) model with its tokenizer and
// processor: the family.Model the encoder core drives. Training methods
// (AttachLoRA, EmbedGraph, ...) are the Model's.
type Backbone struct {
	*Model
	tok       tokenizer.Tokenizer
	proc      *ImageProcessor
	gme       bool
	preResize int
	positions PositionScheme
	padID     int
	family.Limit
}

var _ family.Model = (*Backbone)(nil)

// ActivationBytes implements family.Model: the decoder's estimate (the
// vision tower's patches are bounded by the pixel budget).
func (b *Backbone) ActivationBytes(rows, seq int) int64 {
	c := b.Config
	return family.DecoderActivationBytes(rows, seq, c.NumAttentionHeads, c.HiddenSize, c.IntermediateSize)
}

// Family implements family.Model.
func (b *Backbone) Family() string {
	if b.gme {
		return "gme"
	}
	return "qwen2_vl"
}

// Dim implements family.Model: the LM hidden size.
func (b *Backbone) Dim() int { return b.Config.HiddenSize }

// Tokenizer implements family.Model.
func (b *Backbone) Tokenizer() tokenizer.Tokenizer { return b.tok }

// Processor is the image processor.
func (b *Backbone) Processor() *ImageProcessor { return b.proc }

// Close releases the tokenizer's native resources, if any.
func (b *Backbone) Close() error { return b.tok.Close() }

// Render implements family.Model.
func (b *Backbone) Render(r family.Request) (string, error) {
	if b.gme {
		return b.renderGME(r)
	}
	if r.Prompt != "" {
		return instruct.Swap(r.Prompt, instruct.Qwen2VL)
	}
	if r.Instruction == "" && r.Text == "" && r.Images+r.Videos == 0 {
		return "", family.ErrEmptyInput
	}
	if r.Images > 1 || r.Videos > 1 {
		return "", fmt.Errorf("qwen2vl: %d images and %d videos need a Prompt with one placeholder each", r.Images, r.Videos)
	}
	switch r.Format {
	case family.FormatDefault, family.FormatV1:
		if r.Videos == 0 {
			return instruct.Swap(instruct.V1(r.Instruction, r.Text, r.Images > 0), instruct.Qwen2VL)
		}
		return instruct.ProcessInputText(r.Instruction, instruct.Qwen2VL, r.Text, true, r.Images > 0)
	case family.FormatV2:
		return instruct.ProcessInputText(r.Instruction, instruct.Qwen2VL, r.Text, r.Videos > 0, r.Images > 0)
	}
	return "", fmt.Errorf("qwen2vl: prompt format %s is not one of Qwen2-VL's (v1, v2)", r.Format)
}

// visual is one processed image or video of a row.
type visual struct {
	video bool
	img   *ProcessedImage
	grid  GridTHW
}

// row is one input tokenized, its visuals processed, in prompt order.
type row struct {
	ids     []int32
	visuals []visual
}

func (r *row) Len() int { return len(r.ids) }

// VisualLen implements family.VisualRow: an attention block is one image,
// or one temporal group of a video's frames.
func (r *row) VisualLen() int {
	n := 0
	for _, v := range r.visuals {
		n = max(n, v.grid.H*v.grid.W)
	}
	return n
}

// Prepare implements family.Model.
func (b *Backbone) Prepare(prompt string, visuals []family.Visual) (family.Row, error) {
	if strings.TrimSpace(prompt) == "" && len(visuals) == 0 {
		return nil, family.ErrEmptyInput
	}
	raw, err := b.tok.Encode(prompt, true)
	if err != nil {
		return nil, fmt.Errorf("qwen2vl: tokenizing %q: %w", shorten(prompt), err)
	}
	if err := family.CheckIDs(raw, b.Config.VocabSize, b.tok, "qwen2vl"); err != nil {
		return nil, err
	}
	r := &row{}
	if len(visuals) == 0 {
		// A text-only prompt may still carry a stray image token (MMEB's
		// WebQA/EDIS rows do); the reference then feeds it as one ordinary
		// token, and so do we.
		if raw, err = b.Text(raw); err != nil {
			return nil, err
		}
		for _, id := range raw {
			r.ids = append(r.ids, int32(id))
		}
		if len(r.ids) == 0 {
			return nil, family.ErrEmptyInput
		}
		return r, nil
	}
	imgID, vidID := b.Config.ImageTokenID, b.Config.VideoTokenID
	var imgs, vids []family.Visual
	for _, v := range visuals {
		if v.IsVideo() && !b.gme {
			vids = append(vids, v)
		} else {
			imgs = append(imgs, v)
		}
	}
	nImg, nVid := 0, 0
	for _, id := range raw {
		switch id {
		case imgID:
			nImg++
		case vidID:
			nVid++
		}
	}
	if nImg != len(imgs) || nVid != len(vids) {
		return nil, fmt.Errorf("qwen2vl: %d image(s) and %d video(s) but %d %s and %d %s in the prompt %q",
			len(imgs), len(vids), nImg, imageToken, nVid, videoToken, shorten(prompt))
	}
	merge := b.Config.VisionConfig.SpatialMergeSize
	ki, kv := 0, 0
	for _, id := range raw {
		if id != imgID && id != vidID {
			r.ids = append(r.ids, int32(id))
			continue
		}
		var v visual
		if id == imgID {
			if v, err = b.processImage(imgs[ki]); err != nil {
				return nil, fmt.Errorf("image %d: %w", ki, err)
			}
			ki++
		} else {
			if v, err = b.processVideo(vids[kv].Frames); err != nil {
				return nil, fmt.Errorf("video %d: %w", kv, err)
			}
			kv++
		}
		r.visuals = append(r.visuals, v)
		for k := v.grid.Tokens(merge); k > 0; k-- {
			r.ids = append(r.ids, int32(id))
		}
	}
	if err := b.Visual(len(r.ids)); err != nil {
		return nil, err
	}
	return r, nil
}

func (b *Backbone) processImage(v family.Visual) (visual, error) {
	img := v.Image
	if v.IsVideo() {
		// GME: a video is fed as its middle frame.
		img = v.Frames[len(v.Frames)/2]
	}
	if img == nil || img.Bounds().Empty() {
		return visual{}, fmt.Errorf("qwen2vl: image decodes to nothing")
	}
	rgb := NewRGBFromImage(img)
	var err error
	if b.preResize > 0 {
		if rgb, err = Resize(rgb, b.preResize, b.preResize, ResampleBicubic); err != nil {
			return visual{}, err
		}
	}
	if b.gme {
		if rgb, err = b.gmeFetch(rgb); err != nil {
			return visual{}, err
		}
	}
	pi, err := b.proc.PreprocessRGB(rgb)
	if err != nil {
		return visual{}, err
	}
	return visual{img: pi, grid: GridTHW{T: pi.GridTHW[0], H: pi.GridTHW[1], W: pi.GridTHW[2]}}, nil
}

func (b *Backbone) processVideo(frames []image.Image) (visual, error) {
	rgbs := make([]*RGB, len(frames))
	for i, f := range frames {
		if f == nil || f.Bounds().Empty() {
			return visual{}, fmt.Errorf("qwen2vl: video frame %d decodes to nothing", i)
		}
		rgbs[i] = NewRGBFromImage(f)
	}
	pi, err := b.proc.PreprocessVideo(rgbs)
	if err != nil {
		return visual{}, err
	}
	return visual{video: true, img: pi, grid: GridTHW{T: pi.GridTHW[0], H: pi.GridTHW[1], W: pi.GridTHW[2]}}, nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// Assemble implements family.Model: rows padded on the right (the pooled
// token is each row's last real token) to a bucketed length, patches to a
// power of two.
func (b *Backbone) Assemble(rows []family.Row, size int) (family.Batch, error) {
	if size < len(rows) {
		return nil, fmt.Errorf("qwen2vl: %d rows do not fit a batch of %d", len(rows), size)
	}
	maxLen := 1
	for _, r := range rows {
		maxLen = max(maxLen, r.Len())
	}
	s := family.LengthBucket(maxLen)
	batch := &Batch{}
	var grids []GridTHW
	nextFeat := int32(0)
	imgID, vidID := int32(b.Config.ImageTokenID), int32(b.Config.VideoTokenID)
	for i := 0; i < size; i++ {
		ids := make([]int32, s)
		valid := make([]bool, s)
		src := make([]int32, s)
		for k := range ids {
			ids[k] = int32(b.padID)
			src[k] = -1
		}
		var r *row
		if i < len(rows) {
			var ok bool
			if r, ok = rows[i].(*row); !ok {
				return nil, fmt.Errorf("qwen2vl: row %d was not prepared by this family (%T)", i, rows[i])
			}
		} else {
			// Filler rows keep the batch shape fixed: one real pad token each.
			r = &row{ids: []int32{int32(b.padID)}}
		}
		copy(ids, r.ids)
		var imgGrids, vidGrids []GridTHW
		for _, v := range r.visuals {
			grids = append(grids, v.grid)
			batch.Pixels = appendPatches(batch.Pixels, v.img)
			if v.video {
				vidGrids = append(vidGrids, v.grid)
			} else {
				imgGrids = append(imgGrids, v.grid)
			}
		}
		for k, id := range r.ids {
			valid[k] = true
			if len(r.visuals) > 0 && (id == imgID || id == vidID) {
				src[k] = nextFeat
				nextFeat++
			}
		}
		pos, err := Positions(intIDs(r.ids), imgGrids, vidGrids, b.Config, b.positions)
		if err != nil {
			return nil, err
		}
		for a := 0; a < 3; a++ {
			p := make([]int32, s)
			copy(p, pos[a])
			batch.Positions[a] = append(batch.Positions[a], p)
		}
		batch.IDs = append(batch.IDs, ids)
		batch.Valid = append(batch.Valid, valid)
		batch.FeatSrc = append(batch.FeatSrc, src)
		batch.Pooled = append(batch.Pooled, int32(len(r.ids)-1))
	}
	batch.shape = fmt.Sprintf("text %dx%d", size, s)
	if len(grids) > 0 {
		batch.RowCol, batch.Segment = VisionPositions(grids, b.Config.VisionConfig.SpatialMergeSize)
		n := len(batch.Pixels)
		nb := family.Pow2Bucket(n, 64)
		pad := make([]float32, b.Config.PatchDim())
		for k := n; k < nb; k++ {
			// Padding patches join no attention block (segment -1) and no
			// token reads their merged features.
			batch.Pixels = append(batch.Pixels, pad)
			batch.RowCol = append(batch.RowCol, [2]int32{})
			batch.Segment = append(batch.Segment, -1)
		}
		batch.shape = fmt.Sprintf("vision %dx%d patches %d", size, s, nb)
	} else {
		batch.FeatSrc = nil
	}
	return batch, nil
}

func appendPatches(dst [][]float32, img *ProcessedImage) [][]float32 {
	for p := 0; p < img.NumPatches; p++ {
		dst = append(dst, img.PixelValues[p*img.PatchDim:(p+1)*img.PatchDim])
	}
	return dst
}

func intIDs(ids []int32) []int {
	out := make([]int, len(ids))
	for i, id := range ids {
		out[i] = int(id)
	}
	return out
}

// Forward implements family.Model for batches Assemble built.
func (b *Backbone) Forward(batch family.Batch) (*family.Output, error) {
	qb, ok := batch.(*Batch)
	if !ok {
		return nil, fmt.Errorf("qwen2vl: batch of type %T was not assembled by this family", batch)
	}
	return b.Model.Forward(qb)
}
