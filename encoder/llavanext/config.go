// Package llavanext is LLaVA-NeXT (LLaVA-1.6) as GoMLX graphs: the CLIP
// vision tower read at a configured layer, the two-layer projector, anyres
// tiling (the best grid pinpoint, unpadding, image_newline), and the
// Mistral or Llama decoder; and the LLaVA-NeXT image processor.
//
// Names mirror transformers' modeling_llava_next.py, modeling_clip.py and
// modeling_mistral.py and the checkpoint: config fields are config.json's,
// weights are the checkpoint's tensor names.
package llavanext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/org/vlm2vec/encoder/clip"
	"github.com/org/vlm2vec/encoder/family"
)

// TextConfig mirrors config.json's "text_config" (Mistral or Llama). Absent
// fields take transformers' defaults for the model_type, as the Hub's
// config files rely on.
type TextConfig struct {
	ModelType             string   `json:"model_type"`
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	IntermediateSize      int      `json:"intermediate_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	NumKeyValueHeads      int      `json:"num_key_value_heads"`
	HeadDim               *int     `json:"head_dim"`
	HiddenAct             string   `json:"hidden_act"`
	RMSNormEps            float64  `json:"rms_norm_eps"`
	RopeTheta             float64  `json:"rope_theta"`
	RopeScaling           any      `json:"rope_scaling"`
	SlidingWindow         *int     `json:"sliding_window"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	AttentionBias         bool     `json:"attention_bias"`
	MLPBias               bool     `json:"mlp_bias"`
	TieWordEmbeddings     bool     `json:"tie_word_embeddings"`
	PretrainingTP         int      `json:"pretraining_tp"`
	Architectures         []string `json:"architectures"`
}

// Head is the per-head width of the decoder attention.
func (t *TextConfig) Head() int {
	if t.HeadDim != nil && *t.HeadDim > 0 {
		return *t.HeadDim
	}
	return t.HiddenSize / t.NumAttentionHeads
}

// VisionConfig mirrors config.json's "vision_config" (clip_vision_model).
type VisionConfig = clip.Config

// Config mirrors a LLaVA-NeXT config.json.
type Config struct {
	ModelType                   string       `json:"model_type"`
	ImageTokenIndex             int          `json:"image_token_index"`
	ImageGridPinpoints          [][2]int     `json:"image_grid_pinpoints"`
	VisionFeatureLayer          FeatureLayer `json:"vision_feature_layer"`
	VisionFeatureSelectStrategy string       `json:"vision_feature_select_strategy"`
	ProjectorHiddenAct          string       `json:"projector_hidden_act"`
	MultimodalProjectorBias     bool         `json:"multimodal_projector_bias"`
	TieWordEmbeddings           bool         `json:"tie_word_embeddings"`
	UseImageNewlineParameter    bool         `json:"use_image_newline_parameter"`
	ImageSeqLength              int          `json:"image_seq_length"`
	TextConfig                  TextConfig   `json:"text_config"`
	VisionConfig                VisionConfig `json:"vision_config"`
}

// FeatureLayer is vision_feature_layer: one hidden-state index or several
// (their features concatenated), negative counting from the end.
type FeatureLayer []int

// UnmarshalJSON accepts an integer or a list of integers.
func (f *FeatureLayer) UnmarshalJSON(b []byte) error {
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*f = FeatureLayer{one}
		return nil
	}
	var many []int
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("vision_feature_layer must be an integer or a list of integers: %s", b)
	}
	*f = many
	return nil
}

// MarshalJSON writes one index as a number, several as a list.
func (f FeatureLayer) MarshalJSON() ([]byte, error) {
	if len(f) == 1 {
		return json.Marshal(f[0])
	}
	return json.Marshal([]int(f))
}

// Indices resolves the feature layers to hidden-state indices 0..layers
// (0 is the embeddings after pre_layrnorm, k the output of layer k).
func (c *Config) Indices() []int {
	n := c.VisionConfig.NumHiddenLayers + 1
	out := make([]int, len(c.VisionFeatureLayer))
	for i, l := range c.VisionFeatureLayer {
		if l < 0 {
			l += n
		}
		out[i] = l
	}
	return out
}

// defaults are transformers' LlavaNextConfig / MistralConfig / LlamaConfig /
// CLIPVisionConfig defaults, for the fields a config.json may leave out.
func defaults(textType string) Config {
	t := TextConfig{
		ModelType: textType, VocabSize: 32000, HiddenSize: 4096, IntermediateSize: 14336, NumHiddenLayers: 32,
		NumAttentionHeads: 32, NumKeyValueHeads: 8, HiddenAct: "silu", RMSNormEps: 1e-6, RopeTheta: 10000,
		MaxPositionEmbeddings: 4096 * 32, SlidingWindow: intPtr(4096),
	}
	if textType == "llama" {
		t.IntermediateSize, t.NumKeyValueHeads, t.MaxPositionEmbeddings, t.SlidingWindow = 11008, 0, 2048, nil
	}
	return Config{
		ModelType: "llava_next", ImageTokenIndex: 32000, VisionFeatureLayer: FeatureLayer{-2},
		VisionFeatureSelectStrategy: "default", ProjectorHiddenAct: "gelu", MultimodalProjectorBias: true,
		ImageGridPinpoints:       [][2]int{{336, 672}, {672, 336}, {672, 672}, {1008, 336}, {336, 1008}},
		UseImageNewlineParameter: true, ImageSeqLength: 576,
		TextConfig: t,
		VisionConfig: VisionConfig{
			ModelType: "clip_vision_model", HiddenSize: 768, IntermediateSize: 3072, NumHiddenLayers: 12,
			NumAttentionHeads: 12, NumChannels: 3, ImageSize: 224, PatchSize: 32, HiddenAct: "quick_gelu",
			LayerNormEps: 1e-5, ProjectionDim: 512,
		},
	}
}

func intPtr(v int) *int { return &v }

// Fields of the sub-configs that carry nothing for the embedding graph.
var (
	knownTop    = map[string]bool{"ignore_index": true, "image_token_id": true, "vocab_size": true, "pad_token_id": true}
	knownText   = map[string]bool{"sliding_window": true, "use_sliding_window": true, "max_window_layers": true, "layer_types": true, "mlp_bias": true}
	knownVision = map[string]bool{"vocab_size": true, "attention_dropout": true, "projection_dim": true, "layer_types": true}
)

// ParseConfig decodes and validates a config.json document. Unknown fields
// are an error unless allowUnknown is set.
func ParseConfig(data []byte, allowUnknown bool) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("llavanext: config.json is not a JSON object: %w", err)
	}
	var sub struct {
		Text struct {
			ModelType string `json:"model_type"`
		} `json:"text_config"`
	}
	_ = json.Unmarshal(data, &sub)
	textType := sub.Text.ModelType
	if textType == "" {
		textType = "llama" // LlavaNextConfig's default text_config
	}
	c := defaults(textType)
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&c); err != nil {
		return nil, fmt.Errorf("llavanext: config.json: %w", err)
	}
	if c.TextConfig.NumKeyValueHeads == 0 {
		c.TextConfig.NumKeyValueHeads = c.TextConfig.NumAttentionHeads // Llama's default
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
	check := func(prefix string, data json.RawMessage, fields, extra map[string]bool) error {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return fmt.Errorf("llavanext: config.json %s: %w", strings.TrimSuffix(prefix, "."), err)
		}
		for k := range m {
			if !fields[k] && !extra[k] && !family.PretrainedConfigFields[k] {
				unknown = append(unknown, prefix+k)
			}
		}
		return nil
	}
	top, _ := json.Marshal(raw)
	if err := check("", top, family.JSONFieldNames(c), knownTop); err != nil {
		return err
	}
	if t, ok := raw["text_config"]; ok {
		if err := check("text_config.", t, family.JSONFieldNames(&c.TextConfig), knownText); err != nil {
			return err
		}
	}
	if v, ok := raw["vision_config"]; ok {
		if err := check("vision_config.", v, family.JSONFieldNames(&c.VisionConfig), knownVision); err != nil {
			return err
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("llavanext: config.json has fields this implementation does not know: %s (use AllowUnknownConfigFields to accept them)", strings.Join(unknown, ", "))
	}
	return nil
}

// LoadConfig reads a config.json.
func LoadConfig(path string, allowUnknown bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("llavanext: %w", err)
	}
	return ParseConfig(data, allowUnknown)
}

func (c *Config) validate() error {
	var errs family.Problems
	check := errs.Check
	t, v := &c.TextConfig, &c.VisionConfig
	check(c.ModelType == "llava_next", "model_type %q is not llava_next", c.ModelType)
	check(t.ModelType == "mistral" || t.ModelType == "llama", "text_config.model_type %q unsupported (mistral or llama)", t.ModelType)
	check(v.ModelType == "clip_vision_model", "vision_config.model_type %q unsupported (clip_vision_model)", v.ModelType)
	check(t.HiddenSize > 0 && t.NumHiddenLayers > 0 && t.IntermediateSize > 0 && t.VocabSize > 0, "text_config sizes must be positive")
	check(t.NumAttentionHeads > 0 && t.NumKeyValueHeads > 0 && t.NumAttentionHeads%max(t.NumKeyValueHeads, 1) == 0,
		"text_config.num_attention_heads %d not a multiple of num_key_value_heads %d", t.NumAttentionHeads, t.NumKeyValueHeads)
	if t.NumAttentionHeads > 0 {
		check(t.Head() > 0 && t.Head()%2 == 0, "text_config head_dim %d must be positive and even", t.Head())
	}
	check(t.HiddenAct == "silu", "text_config.hidden_act %q unsupported (silu)", t.HiddenAct)
	check(t.RMSNormEps > 0 && t.RopeTheta > 0, "text_config rms_norm_eps and rope_theta must be positive")
	check(t.RopeScaling == nil, "text_config.rope_scaling %v unsupported (only plain rotary positions)", t.RopeScaling)
	check(t.PretrainingTP <= 1, "text_config.pretraining_tp %d unsupported", t.PretrainingTP)
	check(!t.MLPBias, "text_config.mlp_bias unsupported")
	check(t.SlidingWindow == nil || *t.SlidingWindow > 0, "text_config.sliding_window must be positive or null")
	errs = append(errs, v.Problems("vision_config")...)
	check(c.ProjectorHiddenAct == "gelu", "projector_hidden_act %q unsupported (gelu)", c.ProjectorHiddenAct)
	check(c.VisionFeatureSelectStrategy == "default" || c.VisionFeatureSelectStrategy == "full", "vision_feature_select_strategy %q unknown", c.VisionFeatureSelectStrategy)
	// "full" keeps the CLS token, which anyres tiling cannot lay out on the
	// patch grid; transformers fails there too.
	check(c.VisionFeatureSelectStrategy == "default", "vision_feature_select_strategy \"full\" cannot be tiled by anyres (transformers fails on it as well)")
	check(c.UseImageNewlineParameter, "use_image_newline_parameter false unsupported")
	check(len(c.VisionFeatureLayer) > 0, "vision_feature_layer is empty")
	for _, l := range c.Indices() {
		check(l >= 0 && l <= v.NumHiddenLayers, "vision_feature_layer %d out of range for %d layers", l, v.NumHiddenLayers)
	}
	check(len(c.ImageGridPinpoints) > 0, "image_grid_pinpoints is empty")
	for _, p := range c.ImageGridPinpoints {
		check(p[0] > 0 && p[1] > 0 && p[0]%max(v.ImageSize, 1) == 0 && p[1]%max(v.ImageSize, 1) == 0 && p[0] <= 1<<14 && p[1] <= 1<<14,
			"image_grid_pinpoints entry %v must be positive multiples of image_size %d", p, v.ImageSize)
	}
	check(c.ImageTokenIndex >= 0 && c.ImageTokenIndex < t.VocabSize, "image_token_index %d outside the vocabulary (%d)", c.ImageTokenIndex, t.VocabSize)
	check(t.NumHiddenLayers <= 1024 && t.HiddenSize <= 1<<16 && t.IntermediateSize <= 1<<18 && t.VocabSize <= 1<<24,
		"text_config sizes are implausible")
	return errs.Err("llavanext", "config.json")
}
