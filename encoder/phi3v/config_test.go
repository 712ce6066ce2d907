package phi3v

import (
	"encoding/json"
	"strings"
	"testing"
)

// hubConfig has the shape of microsoft/Phi-3.5-vision-instruct's
// config.json (the rope factor values here are placeholders; the real file
// has 48 of each, for head width 96).
func hubConfig(t *testing.T, edit func(m map[string]any)) []byte {
	t.Helper()
	factors := make([]float64, 48)
	for i := range factors {
		factors[i] = 1 + float64(i)/10
	}
	m := map[string]any{
		"_name_or_path": "Phi-3.5-vision-instruct", "architectures": []string{"Phi3VForCausalLM"},
		"attention_dropout": 0.0, "auto_map": map[string]string{"AutoConfig": "configuration_phi3_v.Phi3VConfig"},
		"bos_token_id": 1, "embd_pdrop": 0.0, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 3072,
		"embd_layer": map[string]any{"embedding_cls": "image", "hd_transform_order": "sub_glb", "projection_cls": "mlp",
			"use_hd_transform": true, "with_learnable_separator": true},
		"img_processor": map[string]any{"image_dim_out": 1024, "model_name": "openai/clip-vit-large-patch14-336",
			"name": "clip_vision_model", "num_img_tokens": 144},
		"initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072, "model_type": "phi3_v",
		"num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
		"original_max_position_embeddings": 4096, "pad_token_id": 32000, "resid_pdrop": 0.0, "rms_norm_eps": 1e-05,
		"rope_scaling": map[string]any{"long_factor": factors, "short_factor": factors, "type": "su"},
		"rope_theta":   10000.0, "sliding_window": 262144, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
		"transformers_version": "4.38.1", "use_cache": true, "vocab_size": 32064, "_attn_implementation": "flash_attention_2",
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHubConfig(t *testing.T) {
	c, err := ParseConfig(hubConfig(t, nil), false)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Vision()
	if *v != CLIPViTLarge336 || c.FeatureIndex() != 23 || c.Head() != 96 {
		t.Errorf("tower %+v, feature index %d, head %d", v, c.FeatureIndex(), c.Head())
	}
	// sqrt(1 + ln 32 / ln 4096) = sqrt(1 + 5/12)
	if f := c.AttentionFactor(); f < 1.19023 || f > 1.19024 {
		t.Errorf("attention factor %v", f)
	}
	w := c.ExpectedWeights()
	if s := w[imagePrefix+"img_projection.0.weight"]; s[0] != 3072 || s[1] != 4096 {
		t.Errorf("projection %v", s)
	}
	if s := w[textPrefix+"layers.0.self_attn.qkv_proj.weight"]; s[0] != 3*3072 {
		t.Errorf("qkv %v", s)
	}
	u := c.weightSet(false).Unused
	if !u[visionPrefix+"encoder.layers.23.mlp.fc1.weight"] || u[visionPrefix+"encoder.layers.22.mlp.fc1.weight"] {
		t.Error("CLIP's last layer should be the only unused one (features from layer -2)")
	}
	if mods := c.LinearModules(); len(mods) != 32*4+23*6+2 {
		t.Errorf("%d linear modules", len(mods))
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(m map[string]any)
		want string
	}{
		{"unknown top field", func(m map[string]any) { m["new_thing"] = 1 }, "new_thing"},
		{"unknown img_processor field", func(m map[string]any) { m["img_processor"].(map[string]any)["crop"] = 1 }, "img_processor.crop"},
		{"other tower", func(m map[string]any) {
			m["img_processor"].(map[string]any)["model_name"] = "openai/clip-vit-base-patch32"
		}, "model_name"},
		{"linear projection", func(m map[string]any) { m["embd_layer"].(map[string]any)["projection_cls"] = "linear" }, "projection_cls"},
		{"glb_sub order", func(m map[string]any) { m["embd_layer"].(map[string]any)["hd_transform_order"] = "glb_sub" }, "hd_transform_order"},
		{"yarn", func(m map[string]any) { m["rope_scaling"].(map[string]any)["type"] = "yarn" }, "rope_scaling.type"},
		{"short factors", func(m map[string]any) { m["rope_scaling"].(map[string]any)["short_factor"] = []float64{1, 2} }, "factors"},
		{"heads", func(m map[string]any) { m["num_key_value_heads"] = 5 }, "num_key_value_heads"},
		{"not phi", func(m map[string]any) { m["model_type"] = "phi3" }, "model_type"},
		{"dim out", func(m map[string]any) { m["img_processor"].(map[string]any)["image_dim_out"] = 768 }, "image_dim_out"},
	} {
		_, err := ParseConfig(hubConfig(t, c.edit), false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.want)
		}
	}
	if _, err := ParseConfig(hubConfig(t, func(m map[string]any) { m["new_thing"] = 1 }), true); err != nil {
		t.Errorf("AllowUnknownConfigFields: %v", err)
	}
	if _, err := ParseConfig([]byte(`[1]`), false); err == nil {
		t.Error("a non-object config.json was accepted")
	}
}

func TestParseImageProcessorConfig(t *testing.T) {
	c, err := ParseImageProcessorConfig([]byte(`{"image_processor_type": "Phi3VImageProcessor", "num_crops": 4, "num_img_tokens": 144}`))
	if err != nil || c.NumCrops != 4 || c.ImageMean != clipMean || !c.DoConvertRGB {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []string{`{"image_processor_type": "CLIPImageProcessor"}`, `{"num_crops": 0}`, `{"num_img_tokens": 576}`, `{"image_std": [0, 1, 1]}`, `{`} {
		if _, err := ParseImageProcessorConfig([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
