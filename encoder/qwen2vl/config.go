// Package qwen2vl is the Qwen2-VL backbone as GoMLX graphs: the vision
// tower (patch embedding, 2-D rotary attention within each image, 2x2 patch
// merger), the Qwen2 decoder (GQA with q/k/v biases, RMSNorm, SwiGLU,
// 3-section M-RoPE), the placement of visual features at the image-token
// positions, and the Hugging Face image processor.
//
// Names mirror transformers' modeling_qwen2_vl.py and the checkpoint, so the
// two can be read side by side: config fields are config.json's, weights are
// the checkpoint's tensor names.
package qwen2vl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/org/vlm2vec/encoder/family"
)

// VisionConfig mirrors config.json's "vision_config".
type VisionConfig struct {
	Depth      int     `json:"depth"`
	EmbedDim   int     `json:"embed_dim"`
	HiddenSize int     `json:"hidden_size"` // output width of the merger: the LM hidden size
	HiddenAct  string  `json:"hidden_act"`
	MLPRatio   float64 `json:"mlp_ratio"`
	NumHeads   int     `json:"num_heads"`
	InChannels int     `json:"in_channels"`
	InChans    int     `json:"in_chans"` // older spelling of in_channels
	PatchSize  int     `json:"patch_size"`
	// SpatialPatchSize is a second spelling of patch_size that the
	// published Qwen2-VL configs carry (Qwen/Qwen2-VL-2B-Instruct's
	// vision_config has both, equal); when present it must agree.
	SpatialPatchSize  int `json:"spatial_patch_size,omitempty"`
	SpatialMergeSize  int `json:"spatial_merge_size"`
	TemporalPatchSize int `json:"temporal_patch_size"`
}

// RopeScaling mirrors config.json's "rope_scaling" (M-RoPE for Qwen2-VL).
type RopeScaling struct {
	Type         string `json:"type"`
	RopeType     string `json:"rope_type"`
	MRopeSection []int  `json:"mrope_section"`
}

// Config mirrors a Qwen2-VL config.json. Newer transformers versions nest
// the language-model fields under "text_config"; Load accepts both layouts.
type Config struct {
	ModelType             string       `json:"model_type"`
	VocabSize             int          `json:"vocab_size"`
	HiddenSize            int          `json:"hidden_size"`
	IntermediateSize      int          `json:"intermediate_size"`
	NumHiddenLayers       int          `json:"num_hidden_layers"`
	NumAttentionHeads     int          `json:"num_attention_heads"`
	NumKeyValueHeads      int          `json:"num_key_value_heads"`
	HiddenAct             string       `json:"hidden_act"`
	RMSNormEps            float64      `json:"rms_norm_eps"`
	RopeTheta             float64      `json:"rope_theta"`
	RopeScaling           *RopeScaling `json:"rope_scaling"`
	TieWordEmbeddings     bool         `json:"tie_word_embeddings"`
	ImageTokenID          int          `json:"image_token_id"`
	VideoTokenID          int          `json:"video_token_id"`
	VisionStartTokenID    int          `json:"vision_start_token_id"`
	VisionEndTokenID      int          `json:"vision_end_token_id"`
	VisionTokenID         int          `json:"vision_token_id"`
	MaxPositionEmbeddings int          `json:"max_position_embeddings"`
	TorchDType            string       `json:"torch_dtype"`
	VisionConfig          VisionConfig `json:"vision_config"`
}

// HeadDim is the per-head width of the decoder attention.
func (c *Config) HeadDim() int { return c.HiddenSize / c.NumAttentionHeads }

// VisionHeadDim is the per-head width of the vision attention.
func (c *Config) VisionHeadDim() int { return c.VisionConfig.EmbedDim / c.VisionConfig.NumHeads }

// VisionMLPDim is the hidden width of the vision blocks' MLP.
func (c *Config) VisionMLPDim() int {
	return int(float64(c.VisionConfig.EmbedDim) * c.VisionConfig.MLPRatio)
}

// PatchDim is the length of one flattened patch: channels x temporal x patch².
func (c *Config) PatchDim() int {
	v := c.VisionConfig
	return v.InChannels * v.TemporalPatchSize * v.PatchSize * v.PatchSize
}

// knownFields are Qwen2-VL config.json keys that carry nothing for the
// embedding graph, beyond family.PretrainedConfigFields. Anything else not
// in Config is reported: a field we do not understand could change the
// architecture.
var knownFields = map[string]bool{
	"max_window_layers": true, "sliding_window": true, "use_sliding_window": true, "text_config": true, "layer_types": true,
}

func known(k string) bool { return knownFields[k] || family.PretrainedConfigFields[k] }

var knownVisionFields = map[string]bool{
	"model_type": true, "initializer_range": true, "_name_or_path": true, "torch_dtype": true, "dtype": true,
	"architectures": true, "transformers_version": true, "num_hidden_layers": true,
}

// ParseConfig decodes and validates a config.json document. Unknown fields
// are an error unless allowUnknown is set.
func ParseConfig(data []byte, allowUnknown bool) (*Config, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("qwen2vl: config.json is not a JSON object: %w", err)
	}
	// transformers >= 4.53 writes the decoder fields under text_config; fold
	// them into the top level, where older versions put them.
	if tc, ok := raw["text_config"]; ok && string(tc) != "null" {
		var text map[string]json.RawMessage
		if err := json.Unmarshal(tc, &text); err != nil {
			return nil, fmt.Errorf("qwen2vl: config.json text_config: %w", err)
		}
		var clash []string
		for k, v := range text {
			t, top := raw[k]
			if !top {
				raw[k] = v
				continue
			}
			// A field in both places must agree: the modeling code of the
			// nested layout reads text_config, older code the top level. A
			// null in text_config is unset (transformers writes the token
			// ids that way there).
			if k != "model_type" && !family.PretrainedConfigFields[k] && string(v) != "null" && !sameJSON(t, v) {
				clash = append(clash, fmt.Sprintf("%s (%s at the top level, %s in text_config)", k, t, v))
			}
		}
		if len(clash) > 0 {
			sort.Strings(clash)
			return nil, fmt.Errorf("qwen2vl: config.json contradicts itself: %s", strings.Join(clash, "; "))
		}
	}
	merged, _ := json.Marshal(raw)
	var c Config
	dec := json.NewDecoder(bytes.NewReader(merged))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("qwen2vl: config.json: %w", err)
	}
	if !allowUnknown {
		if err := unknownKeys(raw, &c); err != nil {
			return nil, err
		}
	}
	if c.VisionConfig.InChannels == 0 {
		c.VisionConfig.InChannels = c.VisionConfig.InChans
	}
	return &c, c.validate()
}

// sameJSON reports whether two JSON values are equal as values (1e-6 and
// 0.000001 are).
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return string(a) == string(b)
	}
	return reflect.DeepEqual(x, y)
}

func unknownKeys(raw map[string]json.RawMessage, c *Config) error {
	top := family.JSONFieldNames(c)
	var unknown []string
	for k := range raw {
		if !top[k] && !known(k) {
			unknown = append(unknown, k)
		}
	}
	if vc, ok := raw["vision_config"]; ok {
		var vraw map[string]json.RawMessage
		if err := json.Unmarshal(vc, &vraw); err != nil {
			return fmt.Errorf("qwen2vl: config.json vision_config: %w", err)
		}
		vf := family.JSONFieldNames(&c.VisionConfig)
		for k := range vraw {
			if !vf[k] && !knownVisionFields[k] && !known(k) {
				unknown = append(unknown, "vision_config."+k)
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("qwen2vl: config.json has fields this implementation does not know: %s (use AllowUnknownConfigFields to accept them)", strings.Join(unknown, ", "))
	}
	return nil
}

// LoadConfig reads dir/config.json.
func LoadConfig(path string, allowUnknown bool) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("qwen2vl: %w", err)
	}
	return ParseConfig(data, allowUnknown)
}

func (c *Config) validate() error {
	var errs family.Problems
	check := errs.Check
	check(c.ModelType == "qwen2_vl" || c.ModelType == "", "model_type %q is not qwen2_vl", c.ModelType)
	check(c.HiddenSize > 0, "hidden_size must be positive")
	check(c.NumHiddenLayers > 0, "num_hidden_layers must be positive")
	check(c.IntermediateSize > 0, "intermediate_size must be positive")
	check(c.VocabSize > 0, "vocab_size must be positive")
	check(c.NumAttentionHeads > 0 && c.HiddenSize%max(c.NumAttentionHeads, 1) == 0, "hidden_size %d not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	check(c.NumKeyValueHeads > 0 && c.NumAttentionHeads%max(c.NumKeyValueHeads, 1) == 0, "num_attention_heads %d not divisible by num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	check(c.RMSNormEps > 0, "rms_norm_eps must be positive")
	check(c.RopeTheta > 0, "rope_theta must be positive")
	check(c.HiddenAct == "silu" || c.HiddenAct == "", "hidden_act %q unsupported (want silu)", c.HiddenAct)
	if c.RopeScaling != nil && len(c.RopeScaling.MRopeSection) > 0 && c.NumAttentionHeads > 0 {
		sum := 0
		for _, s := range c.RopeScaling.MRopeSection {
			sum += s
		}
		check(len(c.RopeScaling.MRopeSection) == 3 && sum*2 == c.HeadDim(), "rope_scaling.mrope_section %v must have 3 entries summing to head_dim/2 = %d", c.RopeScaling.MRopeSection, c.HeadDim()/2)
	} else {
		errs = append(errs, "rope_scaling.mrope_section is missing")
	}
	v := c.VisionConfig
	check(v.Depth > 0, "vision_config.depth must be positive")
	check(v.EmbedDim > 0 && v.NumHeads > 0 && v.EmbedDim%max(v.NumHeads, 1) == 0, "vision_config.embed_dim %d not divisible by num_heads %d", v.EmbedDim, v.NumHeads)
	check(v.HiddenSize == c.HiddenSize, "vision_config.hidden_size %d must equal hidden_size %d", v.HiddenSize, c.HiddenSize)
	check(v.PatchSize > 0 && v.SpatialMergeSize > 0 && v.TemporalPatchSize > 0 && v.InChannels > 0, "vision_config patch_size/spatial_merge_size/temporal_patch_size/in_channels must be positive")
	check(v.MLPRatio > 0, "vision_config.mlp_ratio must be positive")
	check(v.HiddenAct == "quick_gelu" || v.HiddenAct == "", "vision_config.hidden_act %q unsupported (want quick_gelu)", v.HiddenAct)
	if v.NumHeads > 0 && v.EmbedDim > 0 {
		check((v.EmbedDim/v.NumHeads)%4 == 0, "vision head dim %d must be divisible by 4 for 2-D rotary", v.EmbedDim/v.NumHeads)
	}
	check(c.ImageTokenID > 0, "image_token_id must be set")
	// Bounds far above any released model, so a corrupt file is an error
	// rather than an allocation of terabytes.
	check(c.NumHiddenLayers <= 1024 && v.Depth <= 1024, "num_hidden_layers %d / vision depth %d is implausible", c.NumHiddenLayers, v.Depth)
	check(c.HiddenSize <= 1<<16 && c.IntermediateSize <= 1<<18 && v.EmbedDim <= 1<<16, "widths hidden %d / intermediate %d / vision %d are implausible", c.HiddenSize, c.IntermediateSize, v.EmbedDim)
	check(c.VocabSize <= 1<<24, "vocab_size %d is implausible", c.VocabSize)
	check(v.SpatialPatchSize == 0 || v.SpatialPatchSize == v.PatchSize, "vision_config.spatial_patch_size %d contradicts patch_size %d", v.SpatialPatchSize, v.PatchSize)
	check(v.PatchSize <= 1024 && v.SpatialMergeSize <= 64 && v.TemporalPatchSize <= 64 && v.InChannels <= 64 && v.MLPRatio <= 64, "vision patch geometry is implausible")
	return errs.Err("qwen2vl", "config.json")
}
