// Package qwen3vl is the Qwen3-VL backbone as GoMLX graphs, and the
// Qwen3-VL-Embedding recipe on top of it: the vision tower (16-pixel
// patches, a learned position table interpolated to each image's grid,
// LayerNorm + GELU-tanh blocks with 2-D rotary attention within each
// frame, the 2x2 merger and the DeepStack mergers), the Qwen3 decoder (GQA,
// q/k RMSNorm per head, interleaved M-RoPE) with the DeepStack features
// added after its first layers, and the image / video preprocessing of
// qwen-vl-utils and transformers' Qwen3VLProcessor.
//
// Names mirror transformers' modeling_qwen3_vl.py and the checkpoint:
// config fields are config.json's (text_config, vision_config), weights the
// checkpoint's tensor names.
package qwen3vl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/org/vlm2vec/encoder/family"
)

// RopeScaling mirrors text_config.rope_scaling.
type RopeScaling struct {
	RopeType     string `json:"rope_type,omitempty"`
	Type         string `json:"type,omitempty"`
	MRopeSection []int  `json:"mrope_section"`
	// MRopeInterleaved is written by the released configs; transformers
	// 4.57 does not read it and always interleaves, and so do we.
	MRopeInterleaved *bool `json:"mrope_interleaved,omitempty"`
}

// TextConfig mirrors config.json's "text_config" (Qwen3VLTextConfig).
type TextConfig struct {
	ModelType             string       `json:"model_type"`
	VocabSize             int          `json:"vocab_size"`
	HiddenSize            int          `json:"hidden_size"`
	IntermediateSize      int          `json:"intermediate_size"`
	NumHiddenLayers       int          `json:"num_hidden_layers"`
	NumAttentionHeads     int          `json:"num_attention_heads"`
	NumKeyValueHeads      int          `json:"num_key_value_heads"`
	HeadDim               int          `json:"head_dim"`
	HiddenAct             string       `json:"hidden_act"`
	RMSNormEps            float64      `json:"rms_norm_eps"`
	RopeTheta             float64      `json:"rope_theta"`
	RopeScaling           *RopeScaling `json:"rope_scaling"`
	AttentionBias         bool         `json:"attention_bias"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings"`
}

// VisionConfig mirrors config.json's "vision_config" (Qwen3VLVisionConfig).
type VisionConfig struct {
	Depth                 int    `json:"depth"`
	HiddenSize            int    `json:"hidden_size"`
	HiddenAct             string `json:"hidden_act"`
	IntermediateSize      int    `json:"intermediate_size"`
	NumHeads              int    `json:"num_heads"`
	InChannels            int    `json:"in_channels"`
	PatchSize             int    `json:"patch_size"`
	SpatialMergeSize      int    `json:"spatial_merge_size"`
	TemporalPatchSize     int    `json:"temporal_patch_size"`
	OutHiddenSize         int    `json:"out_hidden_size"`
	NumPositionEmbeddings int    `json:"num_position_embeddings"`
	// DeepstackVisualIndexes are the vision blocks whose outputs, merged by
	// deepstack_merger_list[k], are added after decoder layer k.
	DeepstackVisualIndexes []int `json:"deepstack_visual_indexes"`
}

// Config mirrors a Qwen3-VL config.json.
type Config struct {
	ModelType          string       `json:"model_type"`
	ImageTokenID       int          `json:"image_token_id"`
	VideoTokenID       int          `json:"video_token_id"`
	VisionStartTokenID int          `json:"vision_start_token_id"`
	VisionEndTokenID   int          `json:"vision_end_token_id"`
	TieWordEmbeddings  bool         `json:"tie_word_embeddings"`
	TextConfig         TextConfig   `json:"text_config"`
	VisionConfig       VisionConfig `json:"vision_config"`
}

// GridSide is the side of the learned vision position table
// (num_position_embeddings is its square).
func (c *Config) GridSide() int {
	n := c.VisionConfig.NumPositionEmbeddings
	s := 0
	for (s+1)*(s+1) <= n {
		s++
	}
	return s
}

// PatchDim is the length of one flattened patch: channels x temporal x patch².
func (c *Config) PatchDim() int {
	v := c.VisionConfig
	return v.InChannels * v.TemporalPatchSize * v.PatchSize * v.PatchSize
}

// VisionHeadDim is the per-head width of the vision attention.
func (c *Config) VisionHeadDim() int { return c.VisionConfig.HiddenSize / c.VisionConfig.NumHeads }

// Known extra fields, beyond family.PretrainedConfigFields: bookkeeping of
// the released configs that changes nothing in the embedding graph.
var (
	knownTop    = map[string]bool{"text_config": true, "vision_config": true}
	knownText   = map[string]bool{"use_sliding_window": true, "sliding_window": true, "max_window_layers": true, "layer_types": true}
	knownVision = map[string]bool{"initializer_range": true, "model_type": true}
)

// ParseConfig decodes and validates a config.json document. Unknown fields
// are an error unless allowUnknown is set: a field we do not model could
// change the architecture.
func ParseConfig(data []byte, allowUnknown bool) (*Config, error) {
	var c Config
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&c); err != nil {
		return nil, fmt.Errorf("qwen3vl: config.json: %w", err)
	}
	if !allowUnknown {
		if err := unknownKeys(data, &c); err != nil {
			return nil, err
		}
	}
	return &c, c.validate()
}

func unknownKeys(data []byte, c *Config) error {
	var raw struct {
		Top    map[string]json.RawMessage
		Text   map[string]json.RawMessage `json:"text_config"`
		Vision map[string]json.RawMessage `json:"vision_config"`
	}
	if err := json.Unmarshal(data, &raw.Top); err != nil {
		return fmt.Errorf("qwen3vl: config.json is not a JSON object: %w", err)
	}
	_ = json.Unmarshal(data, &raw)
	var unknown []string
	collect := func(prefix string, m map[string]json.RawMessage, fields, extra map[string]bool) {
		for k := range m {
			if !fields[k] && !extra[k] && !family.PretrainedConfigFields[k] {
				unknown = append(unknown, prefix+k)
			}
		}
	}
	collect("", raw.Top, family.JSONFieldNames(c), knownTop)
	collect("text_config.", raw.Text, family.JSONFieldNames(&c.TextConfig), knownText)
	collect("vision_config.", raw.Vision, family.JSONFieldNames(&c.VisionConfig), knownVision)
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("qwen3vl: config.json has fields this implementation does not know: %s (use AllowUnknownConfigFields to accept them)", strings.Join(unknown, ", "))
	}
	return nil
}

// LoadConfig reads and parses a config.json.
func LoadConfig(path string, allowUnknown bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("qwen3vl: %w", err)
	}
	return ParseConfig(data, allowUnknown)
}

func (c *Config) validate() error {
	var errs family.Problems
	check := errs.Check
	t, v := c.TextConfig, c.VisionConfig
	check(c.ModelType == "qwen3_vl", "model_type %q is not qwen3_vl", c.ModelType)
	check(t.ModelType == "qwen3_vl_text" || t.ModelType == "", "text_config.model_type %q is not qwen3_vl_text", t.ModelType)
	check(t.HiddenSize > 0 && t.IntermediateSize > 0 && t.NumHiddenLayers > 0 && t.VocabSize > 0, "text_config hidden_size, intermediate_size, num_hidden_layers and vocab_size must be positive")
	check(t.NumAttentionHeads > 0 && t.NumKeyValueHeads > 0 && t.NumAttentionHeads%max(t.NumKeyValueHeads, 1) == 0,
		"text_config.num_attention_heads %d not divisible by num_key_value_heads %d", t.NumAttentionHeads, t.NumKeyValueHeads)
	check(t.HeadDim > 0 && t.HeadDim%2 == 0, "text_config.head_dim %d must be positive and even", t.HeadDim)
	check(t.RMSNormEps > 0 && t.RopeTheta > 0, "text_config rms_norm_eps and rope_theta must be positive")
	check(t.HiddenAct == "silu", "text_config.hidden_act %q unsupported (want silu)", t.HiddenAct)
	if t.RopeScaling == nil || len(t.RopeScaling.MRopeSection) != 3 {
		errs = append(errs, "text_config.rope_scaling.mrope_section must have 3 entries")
	} else {
		s := t.RopeScaling.MRopeSection
		check(s[0] >= 0 && s[1] >= 0 && s[2] >= 0 && s[0]+s[1]+s[2] == t.HeadDim/2, "text_config.rope_scaling.mrope_section %v must sum to head_dim/2 = %d", s, t.HeadDim/2)
		// The interleaved layout puts H at frequencies 1, 4, ..., 3*s[1]-2
		// and W at 2, 5, ..., 3*s[2]-1: both must exist.
		check(3*s[1]-2 < t.HeadDim/2 && 3*s[2]-1 < t.HeadDim/2, "text_config.rope_scaling.mrope_section %v does not interleave within head_dim/2 = %d", s, t.HeadDim/2)
		rt := t.RopeScaling.RopeType
		if rt == "" {
			rt = t.RopeScaling.Type
		}
		check(rt == "" || rt == "default" || rt == "mrope", "text_config.rope_scaling.rope_type %q unsupported (default)", rt)
	}
	check(v.Depth > 0 && v.HiddenSize > 0 && v.IntermediateSize > 0 && v.OutHiddenSize > 0, "vision_config depth, hidden_size, intermediate_size and out_hidden_size must be positive")
	check(v.NumHeads > 0 && v.HiddenSize%max(v.NumHeads, 1) == 0 && (v.HiddenSize/max(v.NumHeads, 1))%4 == 0,
		"vision_config.hidden_size %d must split into num_heads %d heads of a width divisible by 4 (2-D rotary)", v.HiddenSize, v.NumHeads)
	check(v.OutHiddenSize == t.HiddenSize, "vision_config.out_hidden_size %d must equal text_config.hidden_size %d", v.OutHiddenSize, t.HiddenSize)
	check(v.PatchSize > 0 && v.SpatialMergeSize > 0 && v.TemporalPatchSize > 0 && v.InChannels > 0, "vision_config patch_size, spatial_merge_size, temporal_patch_size and in_channels must be positive")
	check(v.HiddenAct == "gelu_pytorch_tanh", "vision_config.hidden_act %q unsupported (want gelu_pytorch_tanh)", v.HiddenAct)
	g := c.GridSide()
	check(g >= 1 && g*g == v.NumPositionEmbeddings, "vision_config.num_position_embeddings %d is not a perfect square", v.NumPositionEmbeddings)
	seen := map[int]bool{}
	for _, d := range v.DeepstackVisualIndexes {
		check(d >= 0 && d < v.Depth && !seen[d], "vision_config.deepstack_visual_indexes %v must be distinct blocks below depth %d", v.DeepstackVisualIndexes, v.Depth)
		seen[d] = true
	}
	check(len(v.DeepstackVisualIndexes) <= t.NumHiddenLayers, "%d DeepStack levels but %d decoder layers", len(v.DeepstackVisualIndexes), t.NumHiddenLayers)
	check(c.ImageTokenID > 0 && c.VideoTokenID > 0 && c.VisionStartTokenID > 0, "image_token_id, video_token_id and vision_start_token_id must be set")
	// Bounds far above any released model: a corrupt file is an error, not
	// an allocation of terabytes.
	check(t.NumHiddenLayers <= 1024 && v.Depth <= 1024, "num_hidden_layers %d / vision depth %d is implausible", t.NumHiddenLayers, v.Depth)
	check(t.HiddenSize <= 1<<16 && t.IntermediateSize <= 1<<18 && v.HiddenSize <= 1<<16 && v.IntermediateSize <= 1<<18 && t.HeadDim <= 1<<12, "widths are implausible")
	check(t.VocabSize <= 1<<24 && v.NumPositionEmbeddings <= 1<<20, "vocab_size %d / num_position_embeddings %d is implausible", t.VocabSize, v.NumPositionEmbeddings)
	check(v.PatchSize <= 1024 && v.SpatialMergeSize <= 64 && v.TemporalPatchSize <= 64 && v.InChannels <= 64, "vision patch geometry is implausible")
	return errs.Err("qwen3vl", "config.json")
}
