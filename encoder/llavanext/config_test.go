package llavanext

import (
	"strings"
	"testing"
)

// hubConfig is the shape of llava-hf/llava-v1.6-mistral-7b-hf's config.json:
// sub-configs carry only what differs from transformers' defaults.
const hubConfig = `{
  "architectures": ["LlavaNextForConditionalGeneration"],
  "ignore_index": -100,
  "image_grid_pinpoints": [[336, 672], [672, 336], [672, 672], [1008, 336], [336, 1008]],
  "image_token_index": 32000,
  "model_type": "llava_next",
  "projector_hidden_act": "gelu",
  "text_config": {
    "_name_or_path": "mistralai/Mistral-7B-Instruct-v0.2",
    "architectures": ["MistralForCausalLM"],
    "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
    "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
    "sliding_window": null, "torch_dtype": "bfloat16", "vocab_size": 32064
  },
  "torch_dtype": "float16",
  "transformers_version": "4.39.0.dev0",
  "use_image_newline_parameter": true,
  "vision_config": {
    "hidden_size": 1024, "image_size": 336, "intermediate_size": 4096, "model_type": "clip_vision_model",
    "num_attention_heads": 16, "num_hidden_layers": 24, "patch_size": 14, "projection_dim": 768, "vocab_size": 32000
  },
  "vision_feature_layer": -2,
  "vision_feature_select_strategy": "default",
  "vocab_size": 32064
}`

// TestHubConfigDefaults: the fields the Hub file leaves out take
// transformers' Mistral / CLIP defaults.
func TestHubConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(hubConfig), false)
	if err != nil {
		t.Fatal(err)
	}
	tc, v := c.TextConfig, c.VisionConfig
	if tc.HiddenSize != 4096 || tc.NumHiddenLayers != 32 || tc.NumAttentionHeads != 32 || tc.Head() != 128 || tc.HiddenAct != "silu" || tc.SlidingWindow != nil {
		t.Errorf("text defaults wrong: %+v", tc)
	}
	if v.NumChannels != 3 || v.HiddenAct != "quick_gelu" || v.LayerNormEps != 1e-5 || v.Grid() != 24 {
		t.Errorf("vision defaults wrong: %+v", v)
	}
	if got := c.Indices(); len(got) != 1 || got[0] != 23 || c.featureDepth() != 23 {
		t.Errorf("feature layer -2 of 24 resolves to %v (depth %d), want hidden state 23", got, c.featureDepth())
	}
	if !c.MultimodalProjectorBias || c.ImageTokenIndex != 32000 {
		t.Errorf("projector bias %v, image token %d", c.MultimodalProjectorBias, c.ImageTokenIndex)
	}
	// The unused top layer of CLIP is checked but not loaded.
	u := c.unusedWeights()
	if !u[visionPrefix+"encoder.layers.23.mlp.fc1.weight"] || u[visionPrefix+"encoder.layers.22.mlp.fc1.weight"] {
		t.Error("unused vision layers wrong")
	}
	if canonicalName("language_model.model.layers.0.mlp.up_proj.weight") != textPrefix+"layers.0.mlp.up_proj.weight" ||
		canonicalName("vision_tower.vision_model.pre_layrnorm.bias") != visionPrefix+"pre_layrnorm.bias" ||
		canonicalName("image_newline") != imageNewline || canonicalName("language_model.lm_head.weight") != "lm_head.weight" {
		t.Error("Hub names do not map to the canonical ones")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct{ edit, want string }{
		{`"vision_feature_select_strategy": "full"`, "cannot be tiled"},
		{`"vision_feature_layer": 40`, "out of range"},
		{`"projector_hidden_act": "relu"`, "projector_hidden_act"},
		{`"mystery_field": 1`, "mystery_field"},
		{`"vision_feature_layer": "x"`, "vision_feature_layer"},
	} {
		key := c.edit[:strings.Index(c.edit, ":")]
		doc := hubConfig
		if i := strings.Index(doc, key); i >= 0 {
			end := i + strings.IndexAny(doc[i:], ",\n")
			doc = doc[:i] + c.edit + doc[end:]
		} else {
			doc = strings.Replace(doc, "{", "{"+c.edit+",", 1)
		}
		_, err := ParseConfig([]byte(doc), false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one mentioning %q", c.edit, err, c.want)
		}
	}
	if _, err := ParseConfig([]byte(`{"model_type": "llava_next", "vision_feature_layer": [-2, -5], "text_config": {"model_type": "mistral", "vocab_size": 32064}, "vision_config": {"model_type": "clip_vision_model", "image_size": 336, "patch_size": 14}}`), false); err != nil {
		t.Errorf("a list of feature layers: %v", err)
	}
}
