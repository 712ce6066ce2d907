package qwen3vl

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/qwen2vl"
	"github.com/org/vlm2vec/encoder/tokenizer"
	"github.com/org/vlm2vec/instruct"
)

// Family is Qwen3-VL as a model family of the encoder core, with
// Qwen3-VL-Embedding's recipe as its prompt format: Qwen3-VL-Embedding
// checkpoints (model_type qwen3_vl) load as they are, and so does any
// Qwen3-VL checkpoint, embedded the same way.
var Family family.Family = qwen3Family{}

type qwen3Family struct{}

// Name implements family.Family.
func (qwen3Family) Name() string { return "qwen3_vl" }

// Describe implements family.Family.
func (qwen3Family) Describe() string { return "qwen3_vl (model_type qwen3_vl)" }

// Detect implements family.Family.
func (qwen3Family) Detect(p family.Probe) bool { return p.ModelType == "qwen3_vl" }

// DefaultInstruction is the system prompt of an input without instruction.
const DefaultInstruction = "Represent the user's input."

const (
	imageToken  = "<|image_pad|>"
	videoToken  = "<|video_pad|>"
	visionStart = "<|vision_start|>"
	visionEnd   = "<|vision_end|>"
	wrapImage   = visionStart + imageToken + visionEnd
	wrapVideo   = visionStart + videoToken + visionEnd
)

// Open implements family.Family: config.json, safetensors weights,
// tokenizer.json and preprocessor_config.json of dir.
func (qwen3Family) Open(ctx context.Context, dir string, o family.Options) (family.Model, error) {
	if o.NumCrops > 0 || o.PreResize > 0 {
		return nil, fmt.Errorf("qwen3vl: WithNumCrops and WithPreResize do not apply to Qwen3-VL, which sizes images by pixel budget (WithPixels)")
	}
	m, err := Load(o.Backend, dir, LoadOptions{DType: o.DType, AllowUnknownConfigFields: o.AllowUnknownConfigFields, Adapter: o.Adapter, MaxCompiledShapes: o.MaxCompiledShapes})
	if err != nil {
		return nil, err
	}
	pcfg, err := qwen2vl.LoadImageProcessorConfig(filepath.Join(dir, "preprocessor_config.json"))
	if err != nil {
		return nil, err
	}
	vc := m.Config.VisionConfig
	if pcfg.PatchSize != vc.PatchSize || pcfg.MergeSize != vc.SpatialMergeSize || pcfg.TemporalPatchSize != vc.TemporalPatchSize {
		return nil, fmt.Errorf("qwen3vl: preprocessor_config.json patch geometry (%d/%d/%d) does not match config.json (%d/%d/%d)",
			pcfg.PatchSize, pcfg.MergeSize, pcfg.TemporalPatchSize, vc.PatchSize, vc.SpatialMergeSize, vc.TemporalPatchSize)
	}
	proc, err := NewProcessor(pcfg)
	if err != nil {
		return nil, err
	}
	if o.MinPixels > 0 {
		// The embedder's own budget replaces the preprocessor config's, as
		// its min_pixels/max_pixels arguments do.
		proc.MinPixels, proc.MaxPixels = o.MinPixels, o.MaxPixels
	}
	tok := o.Tokenizer
	if tok == nil {
		if tok, err = tokenizer.FromFile(filepath.Join(dir, "tokenizer.json")); err != nil {
			return nil, err
		}
	}
	if err := family.CheckVocab(tok, m.Config.TextConfig.VocabSize, "qwen3vl"); err != nil {
		return nil, err
	}
	c := m.Config
	for _, want := range []struct {
		tok string
		id  int
	}{{imageToken, c.ImageTokenID}, {videoToken, c.VideoTokenID}, {visionStart, c.VisionStartTokenID}} {
		if id, ok := tok.TokenToID(want.tok); !ok || id != want.id {
			return nil, fmt.Errorf("qwen3vl: tokenizer's %s is id %d, config.json says %d", want.tok, id, want.id)
		}
	}
	b := &Backbone{Model: m, tok: tok, proc: proc, Limit: family.NewLimit(o, c.TextConfig.MaxPositionEmbeddings), padID: c.ImageTokenID}
	if id, ok := tok.TokenToID("<|endoftext|>"); ok {
		b.padID = id // Qwen's pad token; the mask hides it anyway
	}
	if _, err := os.Stat(filepath.Join(dir, "video_preprocessor_config.json")); err != nil && !os.IsNotExist(err) {
		return nil, fmt.Errorf("qwen3vl: %w", err)
	}
	return b, nil
}

// Backbone is a loaded Qwen3-VL model with its tokenizer and processor:
// the family.Model the encoder core drives.
type Backbone struct {
	*Model
	tok   tokenizer.Tokenizer
	proc  *Processor
	padID int
	family.Limit
}

var _ family.Model = (*Backbone)(nil)

// Family implements family.Model.
func (b *Backbone) Family() string { return "qwen3_vl" }

// Dim implements family.Model: the LM hidden size.
func (b *Backbone) Dim() int { return b.Config.TextConfig.HiddenSize }

// Tokenizer implements family.Model.
func (b *Backbone) Tokenizer() tokenizer.Tokenizer { return b.tok }

// DefaultVideoFrames is the encoder's frame count for this family:
// Qwen3-VL-Embedding's 64 (its sampling is VLM2Vec's, so sampling in the
// core first changes nothing).
func (b *Backbone) DefaultVideoFrames() int { return MaxFrames }

// Processor is the image and video processor; its budget fields may be
// changed before the first Embed.
func (b *Backbone) Processor() *Processor { return b.proc }

// Close releases the tokenizer's native resources, if any.
func (b *Backbone) Close() error { return b.tok.Close() }

// ActivationBytes implements family.Model: the decoder's estimate.
func (b *Backbone) ActivationBytes(rows, seq int) int64 {
	t := b.Config.TextConfig
	return family.DecoderActivationBytes(rows, seq, t.NumAttentionHeads, t.HiddenSize, t.IntermediateSize)
}

// Instruction is the system prompt Qwen3-VL-Embedding makes of an
// instruction: stripped, "." appended unless it ends in Unicode
// punctuation, DefaultInstruction when empty.
func Instruction(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultInstruction
	}
	if r := []rune(s); !unicode.IsPunct(r[len(r)-1]) {
		s += "."
	}
	return s
}

// Render implements family.Model with Qwen3-VL-Embedding's template. A
// data-format Prompt (MMEB rows) loses its placeholders and becomes the
// text, the visuals going first as the template orders them.
func (b *Backbone) Render(r family.Request) (string, error) {
	if r.Format != family.FormatDefault && r.Format != family.FormatQwen3VLEmbedding {
		return "", fmt.Errorf("qwen3vl: prompt format %s is not Qwen3-VL's (qwen3vl-embedding)", r.Format)
	}
	text := r.Text
	if r.Prompt != "" {
		text = r.Prompt
		for _, tok := range []string{instruct.DataImageToken + "\n", instruct.DataImageToken, instruct.DataVideoToken + " ", instruct.DataVideoToken} {
			text = strings.ReplaceAll(text, tok, "")
		}
	}
	if strings.TrimSpace(r.Instruction) == "" && text == "" && r.Images+r.Videos == 0 && r.Prompt == "" {
		return "", family.ErrEmptyInput
	}
	var sb strings.Builder
	sb.WriteString("<|im_start|>system\n" + Instruction(r.Instruction) + "<|im_end|>\n<|im_start|>user\n")
	for k := 0; k < r.Videos; k++ {
		sb.WriteString(wrapVideo)
	}
	for k := 0; k < r.Images; k++ {
		sb.WriteString(wrapImage)
	}
	if text == "" && r.Images+r.Videos == 0 {
		text = "NULL" // the reference's stand-in for an input with nothing to embed
	}
	sb.WriteString(text + "<|im_end|>\n<|im_start|>assistant\n")
	return sb.String(), nil
}

// item is one vision-tower input: an image, or one frame pair of a video.
type item struct {
	pixels []float32 // [h*w, patchDim]
	h, w   int       // in patches
	video  bool
}

type row struct {
	ids   []int32
	items []item // in token order
}

func (r *row) Len() int { return len(r.ids) }

// VisualLen implements family.VisualRow: an attention block is one image
// or one frame pair of a video.
func (r *row) VisualLen() int {
	n := 0
	for _, it := range r.items {
		n = max(n, it.h*it.w)
	}
	return n
}

// Prepare implements family.Model: visuals are processed, each video's
// placeholder is expanded to its frame pairs with their timestamps
// ("<0.2 seconds>"), and each image and frame-pair token to its merged
// patch count.
func (b *Backbone) Prepare(prompt string, visuals []family.Visual) (family.Row, error) {
	if strings.TrimSpace(prompt) == "" && len(visuals) == 0 {
		return nil, family.ErrEmptyInput
	}
	var imgs, vids []item
	var vidSeconds [][]float64
	for i, v := range visuals {
		if v.IsVideo() {
			pv, err := b.proc.Video(v.Frames)
			if err != nil {
				return nil, fmt.Errorf("visual %d: %w", i, err)
			}
			per := pv.GridTHW[1] * pv.GridTHW[2] * pv.PatchDim
			for t := 0; t < pv.GridTHW[0]; t++ {
				vids = append(vids, item{pixels: pv.PixelValues[t*per : (t+1)*per], h: pv.GridTHW[1], w: pv.GridTHW[2], video: true})
			}
			vidSeconds = append(vidSeconds, pv.Seconds)
			continue
		}
		pi, err := b.proc.Image(v.Image)
		if err != nil {
			return nil, fmt.Errorf("visual %d: %w", i, err)
		}
		imgs = append(imgs, item{pixels: pi.PixelValues, h: pi.GridTHW[1], w: pi.GridTHW[2]})
	}
	if n := strings.Count(prompt, wrapVideo); n != len(vidSeconds) {
		return nil, fmt.Errorf("qwen3vl: %d video(s) but %d %s in the prompt %q", len(vidSeconds), n, wrapVideo, shorten(prompt))
	}
	for _, secs := range vidSeconds {
		var sb strings.Builder
		for _, s := range secs {
			fmt.Fprintf(&sb, "<%.1f seconds>%s%s%s", s, visionStart, "\x00", visionEnd)
		}
		prompt = strings.Replace(prompt, wrapVideo, sb.String(), 1)
	}
	prompt = strings.ReplaceAll(prompt, "\x00", videoToken)
	raw, err := b.tok.Encode(prompt, true)
	if err != nil {
		return nil, fmt.Errorf("qwen3vl: tokenizing %q: %w", shorten(prompt), err)
	}
	c := b.Config
	if err := family.CheckIDs(raw, c.TextConfig.VocabSize, b.tok, "qwen3vl"); err != nil {
		return nil, err
	}
	r := &row{}
	if len(visuals) == 0 {
		// A stray image token in a text-only prompt is one ordinary token,
		// as in the reference.
		if raw, err = b.Text(raw); err != nil {
			return nil, err
		}
		for _, id := range raw {
			r.ids = append(r.ids, int32(id))
		}
		return r, nil
	}
	nImg, nVid := 0, 0
	for _, id := range raw {
		switch id {
		case c.ImageTokenID:
			nImg++
		case c.VideoTokenID:
			nVid++
		}
	}
	if nImg != len(imgs) || nVid != len(vids) {
		return nil, fmt.Errorf("qwen3vl: %d image(s) and %d video frame pair(s) but %d %s and %d %s in the prompt %q",
			len(imgs), len(vids), nImg, imageToken, nVid, videoToken, shorten(prompt))
	}
	m2 := c.VisionConfig.SpatialMergeSize * c.VisionConfig.SpatialMergeSize
	ki, kv := 0, 0
	for _, id := range raw {
		var it item
		switch id {
		case c.ImageTokenID:
			it, ki = imgs[ki], ki+1
		case c.VideoTokenID:
			it, kv = vids[kv], kv+1
		default:
			r.ids = append(r.ids, int32(id))
			continue
		}
		r.items = append(r.items, it)
		for k := it.h * it.w / m2; k > 0; k-- {
			r.ids = append(r.ids, int32(id))
		}
	}
	if err := b.Visual(len(r.ids)); err != nil {
		return nil, err
	}
	return r, nil
}

func shorten(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// Assemble implements family.Model: rows padded on the right to a bucketed
// length, patches to a power of two.
func (b *Backbone) Assemble(rows []family.Row, size int) (family.Batch, error) {
	if size < len(rows) {
		return nil, fmt.Errorf("qwen3vl: %d rows do not fit a batch of %d", len(rows), size)
	}
	c := b.Config
	merge := c.VisionConfig.SpatialMergeSize
	tokens := qwen2vl.VisionTokens{VisionStart: c.VisionStartTokenID, Image: c.ImageTokenID, Video: c.VideoTokenID, Merge: merge}
	maxLen := 1
	for _, r := range rows {
		maxLen = max(maxLen, r.Len())
	}
	s := family.LengthBucket(maxLen)
	batch := &Batch{}
	var grids []qwen2vl.GridTHW
	nextFeat := int32(0)
	for i := 0; i < size; i++ {
		var r *row
		if i < len(rows) {
			var ok bool
			if r, ok = rows[i].(*row); !ok {
				return nil, fmt.Errorf("qwen3vl: row %d was not prepared by this family (%T)", i, rows[i])
			}
		} else {
			r = &row{ids: []int32{int32(b.padID)}} // filler rows keep the batch shape
		}
		ids, valid, src := make([]int32, s), make([]bool, s), make([]int32, s)
		for k := range ids {
			ids[k], src[k] = int32(b.padID), -1
		}
		copy(ids, r.ids)
		var imgGrids, vidGrids []qwen2vl.GridTHW
		for _, it := range r.items {
			g := qwen2vl.GridTHW{T: 1, H: it.h, W: it.w}
			grids = append(grids, g)
			if it.video {
				vidGrids = append(vidGrids, g)
			} else {
				imgGrids = append(imgGrids, g)
			}
			dim := c.PatchDim()
			for p := 0; p < it.h*it.w; p++ {
				batch.Pixels = append(batch.Pixels, it.pixels[p*dim:(p+1)*dim])
			}
			idx, w := b.positionTaps(it.h, it.w)
			batch.PosIdx = append(batch.PosIdx, idx...)
			batch.PosWeight = append(batch.PosWeight, w...)
		}
		for k, id := range r.ids {
			valid[k] = true
			if len(r.items) > 0 && (int(id) == c.ImageTokenID || int(id) == c.VideoTokenID) {
				src[k] = nextFeat
				nextFeat++
			}
		}
		pos, err := qwen2vl.MRoPEPositions(intIDs(r.ids), imgGrids, vidGrids, tokens, family.PositionsMRoPE)
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
	if len(grids) == 0 {
		batch.FeatSrc = nil
		return batch, nil
	}
	batch.RowCol, batch.Segment = qwen2vl.VisionPositions(grids, merge)
	n := len(batch.Pixels)
	nb := family.Pow2Bucket(n, 64)
	pad := make([]float32, c.PatchDim())
	for k := n; k < nb; k++ {
		// Padding patches join no attention block and feed no token.
		batch.Pixels = append(batch.Pixels, pad)
		batch.RowCol = append(batch.RowCol, [2]int32{})
		batch.Segment = append(batch.Segment, -1)
		batch.PosIdx = append(batch.PosIdx, [4]int32{})
		batch.PosWeight = append(batch.PosWeight, [4]float32{})
	}
	batch.shape = fmt.Sprintf("vision %dx%d patches %d", size, s, nb)
	return batch, nil
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
		return nil, fmt.Errorf("qwen3vl: batch of type %T was not assembled by this family", batch)
	}
	return b.Model.Forward(qb)
}
