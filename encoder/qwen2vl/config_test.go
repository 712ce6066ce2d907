package qwen2vl

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readConfig(t testing.TB, name string) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", name, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Both layouts parse to the same architecture fields: tiny-a is flat (the
// Hub's Qwen2-VL configs), tiny-b nests the decoder under text_config
// (transformers >= 4.52's save_pretrained).
func TestParseConfigLayouts(t *testing.T) {
	a, err := ParseConfig(readConfig(t, "tiny-a"), false)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ParseConfig(readConfig(t, "tiny-b"), false)
	if err != nil {
		t.Fatal(err)
	}
	if a.HiddenSize != 64 || a.NumKeyValueHeads != 2 || a.ImageTokenID != 957 || a.VisionConfig.InChannels != 3 {
		t.Errorf("tiny-a: %+v", a)
	}
	if b.HiddenSize != 96 || b.NumHiddenLayers != 3 || b.NumKeyValueHeads != 1 || b.TieWordEmbeddings {
		t.Errorf("tiny-b: %+v", b)
	}
}

func TestParseConfigErrors(t *testing.T) {
	good := string(readConfig(t, "tiny-a"))
	for name, tc := range map[string]struct{ doc, want string }{
		"not json":       {"{", "not a JSON object"},
		"unknown field":  {strings.Replace(good, `"hidden_act"`, `"sliding_attention_sinks": 4, "hidden_act"`, 1), "sliding_attention_sinks"},
		"unknown vision": {strings.Replace(good, `"depth": 2`, `"depth": 2, "window_size": 112`, 1), "vision_config.window_size"},
		"wrong type":     {strings.Replace(good, `"hidden_size": 64`, `"hidden_size": "64"`, 1), "hidden_size"},
		"bad heads":      {strings.Replace(good, `"num_attention_heads": 4`, `"num_attention_heads": 5`, 1), "not divisible"},
		"bad mrope":      {strings.Replace(good, `3,`, `4,`, 1), "mrope_section"},
		"other model":    {strings.Replace(good, `"model_type": "qwen2_vl"`, `"model_type": "llava"`, 1), "not qwen2_vl"},
		"vision width": {strings.Replace(good, `"hidden_size": 64,
    "in_chans"`, `"hidden_size": 32,
    "in_chans"`, 1), "vision_config.hidden_size"},
	} {
		_, err := ParseConfig([]byte(tc.doc), false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error mentioning %q", name, err, tc.want)
		}
	}
	unknown := strings.Replace(good, `"hidden_act"`, `"sliding_attention_sinks": 4, "hidden_act"`, 1)
	if _, err := ParseConfig([]byte(unknown), true); err != nil {
		t.Errorf("AllowUnknownConfigFields: %v", err)
	}
}

// FuzzParseConfig: any bytes give a config that passed validation or an
// error; never a panic, and an accepted config has usable dimensions.
func FuzzParseConfig(f *testing.F) {
	f.Add(readConfig(f, "tiny-a"))
	f.Add(readConfig(f, "tiny-b"))
	f.Add([]byte(`{"text_config": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, true)
		if err != nil {
			return
		}
		if c.HeadDim() <= 0 || c.VisionHeadDim() <= 0 || c.PatchDim() <= 0 {
			t.Fatalf("accepted a config with unusable dimensions: %+v", c)
		}
		_ = c.ExpectedWeights()
	})
}

// TestNestedTextConfigMustAgree: a field both at the top level and in
// text_config must have one value there (numbers compared as numbers).
func TestNestedTextConfigMustAgree(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(readConfig(t, "tiny-a"), &m); err != nil {
		t.Fatal(err)
	}
	hidden := m["hidden_size"]
	if hidden == nil {
		t.Fatal("tiny-a has no top-level hidden_size")
	}
	m["text_config"] = map[string]any{"hidden_size": hidden, "rms_norm_eps": m["rms_norm_eps"], "model_type": "qwen2_vl_text"}
	data, _ := json.Marshal(m)
	if _, err := ParseConfig(data, false); err != nil {
		t.Fatalf("agreeing text_config refused: %v", err)
	}
	m["text_config"] = map[string]any{"hidden_size": 4096}
	data, _ = json.Marshal(m)
	if _, err := ParseConfig(data, false); err == nil || !strings.Contains(err.Error(), "hidden_size") {
		t.Errorf("contradicting text_config: %v", err)
	}
}

// TestSpatialPatchSize: the published configs' vision_config.spatial_patch_size
// loads without AllowUnknownConfigFields when it equals patch_size, and a
// contradicting one is refused.
func TestSpatialPatchSize(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal(readConfig(t, "tiny-a"), &m); err != nil {
		t.Fatal(err)
	}
	vc := m["vision_config"].(map[string]any)
	vc["spatial_patch_size"] = vc["patch_size"]
	data, _ := json.Marshal(m)
	if _, err := ParseConfig(data, false); err != nil {
		t.Fatalf("spatial_patch_size equal to patch_size: %v", err)
	}
	vc["spatial_patch_size"] = 16
	data, _ = json.Marshal(m)
	if _, err := ParseConfig(data, false); err == nil || !strings.Contains(err.Error(), "spatial_patch_size") {
		t.Errorf("contradicting spatial_patch_size: %v", err)
	}
}
