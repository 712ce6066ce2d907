// Package phi3v is Phi-3.5-Vision (Phi-3-V) as GoMLX graphs: the CLIP
// ViT-L/14-336 tower read at a configured layer without CLS, the HD
// transform (336-pixel crops plus a global image, 2x2 patch merge, the
// learnt sub_GN / glb_GN separators, the projection MLP), and the Phi-3
// decoder (fused qkv_proj and gate_up_proj, "su" rope scaling); and the
// Phi-3-V image processor and prompt handling (a BOS per text chunk,
// <|image_k|> placeholders).
//
// No released transformers has Phi-3-V; the reference is the modeling and
// processing code Microsoft ships with the checkpoint, which VLM2Vec
// vendors (modeling_phi3_v.py, image_embedding_phi3_v.py,
// processing_phi3_v.py, image_processing_phi3_v.py). Config fields are
// config.json's, weights the checkpoint's tensor names.
package phi3v

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/org/vlm2vec/encoder/clip"
	"github.com/org/vlm2vec/encoder/family"
)

// RopeScaling is config.json's "rope_scaling": Phi-3's "su" (LongRoPE)
// per-frequency factors, short ones up to original_max_position_embeddings
// and long ones beyond, with an attention factor on cos and sin.
type RopeScaling struct {
	Type        string    `json:"type"`
	ShortFactor []float64 `json:"short_factor"`
	LongFactor  []float64 `json:"long_factor"`
}

// EmbdLayer is config.json's "embd_layer": how image features become
// decoder embeddings.
type EmbdLayer struct {
	EmbeddingCls           string `json:"embedding_cls"`
	HDTransformOrder       string `json:"hd_transform_order"`
	ProjectionCls          string `json:"projection_cls"`
	UseHDTransform         bool   `json:"use_hd_transform"`
	WithLearnableSeparator bool   `json:"with_learnable_separator"`
}

// ImgProcessor is config.json's "img_processor": the vision tower.
type ImgProcessor struct {
	Name         string `json:"name"`
	ModelName    string `json:"model_name"`
	ImageDimOut  int    `json:"image_dim_out"`
	NumImgTokens int    `json:"num_img_tokens"`
	// LayerIdx is the hidden state read (default -2: the output of the
	// second-to-last layer); TypeFeature "patch" drops CLS.
	LayerIdx    *int   `json:"layer_idx"`
	TypeFeature string `json:"type_feature"`
	// CLIPVisionConfig is this project's extension for test checkpoints:
	// the reference hard-codes CLIP ViT-L/14-336 (CLIPViTLarge336), and
	// tiny checkpoints made with a patched copy of it say here which tower
	// they hold. Absent in real checkpoints.
	CLIPVisionConfig *clip.Config `json:"clip_vision_config,omitempty"`
}

// CLIPViTLarge336 is openai/clip-vit-large-patch14-336, the tower every
// Phi-3-V checkpoint holds (image_embedding_phi3_v.py hard-codes it).
var CLIPViTLarge336 = clip.Config{
	ModelType: "clip_vision_model", HiddenSize: 1024, IntermediateSize: 4096, NumHiddenLayers: 24,
	NumAttentionHeads: 16, NumChannels: 3, ImageSize: 336, PatchSize: 14, HiddenAct: "quick_gelu",
	LayerNormEps: 1e-5, ProjectionDim: 768,
}

// Config mirrors a Phi-3-V config.json (Phi3VConfig).
type Config struct {
	ModelType                     string       `json:"model_type"`
	VocabSize                     int          `json:"vocab_size"`
	HiddenSize                    int          `json:"hidden_size"`
	IntermediateSize              int          `json:"intermediate_size"`
	NumHiddenLayers               int          `json:"num_hidden_layers"`
	NumAttentionHeads             int          `json:"num_attention_heads"`
	NumKeyValueHeads              int          `json:"num_key_value_heads"`
	ResidPdrop                    float64      `json:"resid_pdrop"`
	EmbdPdrop                     float64      `json:"embd_pdrop"`
	HiddenAct                     string       `json:"hidden_act"`
	MaxPositionEmbeddings         int          `json:"max_position_embeddings"`
	OriginalMaxPositionEmbeddings int          `json:"original_max_position_embeddings"`
	RMSNormEps                    float64      `json:"rms_norm_eps"`
	TieWordEmbeddings             bool         `json:"tie_word_embeddings"`
	RopeTheta                     float64      `json:"rope_theta"`
	RopeScaling                   *RopeScaling `json:"rope_scaling"`
	SlidingWindow                 *int         `json:"sliding_window"`
	EmbdLayer                     EmbdLayer    `json:"embd_layer"`
	ImgProcessor                  ImgProcessor `json:"img_processor"`
}

// Head is the per-head width of the decoder attention.
func (c *Config) Head() int { return c.HiddenSize / c.NumAttentionHeads }

// Vision is the CLIP tower's config.
func (c *Config) Vision() *clip.Config {
	if c.ImgProcessor.CLIPVisionConfig != nil {
		return c.ImgProcessor.CLIPVisionConfig
	}
	v := CLIPViTLarge336
	return &v
}

// FeatureIndex is the CLIP hidden state the features come from (0 is the
// embeddings, k the output of layer k).
func (c *Config) FeatureIndex() int {
	l := -2
	if c.ImgProcessor.LayerIdx != nil {
		l = *c.ImgProcessor.LayerIdx
	}
	if l < 0 {
		l += c.Vision().NumHiddenLayers + 1
	}
	return l
}

// AttentionFactor is the "su" scale on cos and sin:
// sqrt(1 + ln(max/original) / ln(original)) when the context was extended.
func (c *Config) AttentionFactor() float64 {
	if c.RopeScaling == nil {
		return 1
	}
	scale := float64(c.MaxPositionEmbeddings) / float64(c.OriginalMaxPositionEmbeddings)
	if scale <= 1 {
		return 1
	}
	return math.Sqrt(1 + math.Log(scale)/math.Log(float64(c.OriginalMaxPositionEmbeddings)))
}

// defaults are Phi3VConfig's constructor defaults.
func defaults() Config {
	return Config{
		VocabSize: 32064, HiddenSize: 3072, IntermediateSize: 8192, NumHiddenLayers: 32, NumAttentionHeads: 32,
		HiddenAct: "silu", MaxPositionEmbeddings: 4096, OriginalMaxPositionEmbeddings: 4096, RMSNormEps: 1e-5,
		RopeTheta: 10000,
	}
}

// Fields that carry nothing for the embedding graph.
var knownTop = map[string]bool{"auto_map": true, "_attn_implementation": true, "embd_layer": true, "img_processor": true}

// ParseConfig decodes and validates a config.json document. Unknown fields
// are an error unless allowUnknown is set.
func ParseConfig(data []byte, allowUnknown bool) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("phi3v: config.json is not a JSON object: %w", err)
	}
	c := defaults()
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&c); err != nil {
		return nil, fmt.Errorf("phi3v: config.json: %w", err)
	}
	if c.NumKeyValueHeads == 0 {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if !allowUnknown {
		if err := unknownKeys(raw, &c); err != nil {
			return nil, err
		}
	}
	return &c, c.validate()
}

func unknownKeys(raw map[string]json.RawMessage, c *Config) error {
	var unknown []string
	check := func(prefix string, data json.RawMessage, fields, extra map[string]bool) {
		var m map[string]json.RawMessage
		if json.Unmarshal(data, &m) != nil {
			return // not an object: the typed decode has already said so
		}
		for k := range m {
			if !fields[k] && !extra[k] && (prefix != "" || !family.PretrainedConfigFields[k]) {
				unknown = append(unknown, prefix+k)
			}
		}
	}
	top, _ := json.Marshal(raw)
	check("", top, family.JSONFieldNames(c), knownTop)
	if v, ok := raw["embd_layer"]; ok {
		check("embd_layer.", v, family.JSONFieldNames(&c.EmbdLayer), nil)
	}
	if v, ok := raw["img_processor"]; ok {
		img := c.ImgProcessor
		img.LayerIdx, img.CLIPVisionConfig = new(int), &clip.Config{}
		check("img_processor.", v, family.JSONFieldNames(&img), nil)
	}
	if v, ok := raw["rope_scaling"]; ok && c.RopeScaling != nil {
		check("rope_scaling.", v, family.JSONFieldNames(c.RopeScaling), nil)
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("phi3v: config.json has fields this implementation does not know: %s (use AllowUnknownConfigFields to accept them)", strings.Join(unknown, ", "))
	}
	return nil
}

// LoadConfig reads a config.json.
func LoadConfig(path string, allowUnknown bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("phi3v: %w", err)
	}
	return ParseConfig(data, allowUnknown)
}

func (c *Config) validate() error {
	var errs family.Problems
	check := errs.Check
	check(c.ModelType == "phi3_v", "model_type %q is not phi3_v", c.ModelType)
	check(c.HiddenSize > 0 && c.NumHiddenLayers > 0 && c.IntermediateSize > 0 && c.VocabSize > 0, "sizes must be positive")
	check(c.NumAttentionHeads > 0 && c.HiddenSize%max(c.NumAttentionHeads, 1) == 0, "hidden_size %d not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	check(c.NumKeyValueHeads > 0 && c.NumAttentionHeads%max(c.NumKeyValueHeads, 1) == 0,
		"num_attention_heads %d not a multiple of num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	if c.NumAttentionHeads > 0 {
		check(c.Head()%2 == 0, "head width %d must be even", c.Head())
	}
	check(c.HiddenAct == "silu", "hidden_act %q unsupported (silu)", c.HiddenAct)
	check(c.RMSNormEps > 0 && c.RopeTheta > 0, "rms_norm_eps and rope_theta must be positive")
	check(c.SlidingWindow == nil || *c.SlidingWindow > 0, "sliding_window must be positive or null")
	check(c.MaxPositionEmbeddings > 0 && c.OriginalMaxPositionEmbeddings > 0, "max_position_embeddings and original_max_position_embeddings must be positive")
	if r := c.RopeScaling; r != nil && c.NumAttentionHeads > 0 {
		// "yarn" differs only in the attention factor, but no Phi-3-V
		// checkpoint uses it and nothing here was checked against it.
		check(r.Type == "su", "rope_scaling.type %q unsupported (su)", r.Type)
		check(len(r.ShortFactor) == c.Head()/2 && len(r.LongFactor) == c.Head()/2,
			"rope_scaling factors must have head_dim/2 = %d entries (short %d, long %d)", c.Head()/2, len(r.ShortFactor), len(r.LongFactor))
		for _, f := range append(append([]float64{}, r.ShortFactor...), r.LongFactor...) {
			if !(f > 0) || math.IsInf(f, 0) {
				check(false, "rope_scaling factors must be positive and finite (%v)", f)
				break
			}
		}
	}
	e := c.EmbdLayer
	check(e.EmbeddingCls == "image", "embd_layer.embedding_cls %q unsupported (image): a checkpoint without the image embedding is not Phi-3-V", e.EmbeddingCls)
	check(e.UseHDTransform && e.WithLearnableSeparator, "embd_layer must use the HD transform with learnable separators (as Phi-3-V's checkpoints do)")
	check(e.HDTransformOrder == "sub_glb", "embd_layer.hd_transform_order %q unsupported (sub_glb; the reference implements no other)", e.HDTransformOrder)
	check(e.ProjectionCls == "mlp", "embd_layer.projection_cls %q unsupported (mlp)", e.ProjectionCls)
	p := c.ImgProcessor
	check(p.Name == "clip_vision_model", "img_processor.name %q unsupported (clip_vision_model)", p.Name)
	check(p.ModelName == "openai/clip-vit-large-patch14-336", "img_processor.model_name %q unsupported (openai/clip-vit-large-patch14-336)", p.ModelName)
	check(p.TypeFeature == "" || p.TypeFeature == "patch", "img_processor.type_feature %q unsupported (patch)", p.TypeFeature)
	check(p.NumImgTokens == 144, "img_processor.num_img_tokens %d unsupported (144: 24x24 patches merged 2x2)", p.NumImgTokens)
	v := c.Vision()
	errs = append(errs, v.Problems("img_processor.clip_vision_config")...)
	// The HD transform hard-codes 336-pixel crops of 24x24 patches.
	check(v.ImageSize == 336 && v.PatchSize == 14, "the CLIP tower must take 336-pixel images in 14-pixel patches (got %d/%d)", v.ImageSize, v.PatchSize)
	check(p.ImageDimOut == v.HiddenSize, "img_processor.image_dim_out %d differs from the tower's width %d", p.ImageDimOut, v.HiddenSize)
	if l := c.FeatureIndex(); l < 0 || l > v.NumHiddenLayers {
		check(false, "img_processor.layer_idx out of range for %d layers", v.NumHiddenLayers)
	}
	check(c.NumHiddenLayers <= 1024 && c.HiddenSize <= 1<<16 && c.IntermediateSize <= 1<<18 && c.VocabSize <= 1<<24, "sizes are implausible")
	return errs.Err("phi3v", "config.json")
}
