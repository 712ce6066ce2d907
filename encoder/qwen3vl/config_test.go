package qwen3vl

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func tinyConfig(t testing.TB) map[string]any {
	data, err := os.ReadFile("testdata/tiny/config.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func parse(t testing.TB, m map[string]any, allowUnknown bool) error {
	data, _ := json.Marshal(m)
	_, err := ParseConfig(data, allowUnknown)
	return err
}

// TestConfigStrict: the tiny checkpoint's config parses; unknown fields at
// any level are named (and accepted when allowed); contradictions and
// nonsense values are errors that say which field.
func TestConfigStrict(t *testing.T) {
	if err := parse(t, tinyConfig(t), false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(m map[string]any)
		want string
	}{
		{func(m map[string]any) { m["frobnicate"] = 1 }, "frobnicate"},
		{func(m map[string]any) { m["text_config"].(map[string]any)["sliding_attention"] = true }, "text_config.sliding_attention"},
		{func(m map[string]any) { m["vision_config"].(map[string]any)["window_size"] = 112 }, "vision_config.window_size"},
		{func(m map[string]any) { m["model_type"] = "qwen2_vl" }, "model_type"},
		{func(m map[string]any) { m["text_config"].(map[string]any)["head_dim"] = 15 }, "head_dim"},
		{func(m map[string]any) {
			m["text_config"].(map[string]any)["rope_scaling"].(map[string]any)["mrope_section"] = []int{3, 3, 3}
		}, "mrope_section"},
		{func(m map[string]any) { m["vision_config"].(map[string]any)["num_position_embeddings"] = 50 }, "perfect square"},
		{func(m map[string]any) { m["vision_config"].(map[string]any)["deepstack_visual_indexes"] = []int{0, 4} }, "deepstack"},
		{func(m map[string]any) { m["vision_config"].(map[string]any)["out_hidden_size"] = 41 }, "out_hidden_size"},
		{func(m map[string]any) { m["vision_config"].(map[string]any)["hidden_act"] = "silu" }, "hidden_act"},
		{func(m map[string]any) { m["text_config"].(map[string]any)["num_hidden_layers"] = 1 << 20 }, "implausible"},
		{func(m map[string]any) { m["text_config"].(map[string]any)["hidden_size"] = "wide" }, "hidden_size"},
	} {
		m := tinyConfig(t)
		c.edit(m)
		err := parse(t, m, false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %q, got %v", c.want, err)
		}
	}
	m := tinyConfig(t)
	m["frobnicate"] = 1
	if err := parse(t, m, true); err != nil {
		t.Errorf("unknown field with allowUnknown: %v", err)
	}
}

// FuzzParseConfig: any bytes give a config or an error, never a panic.
func FuzzParseConfig(f *testing.F) {
	data, _ := os.ReadFile("testdata/tiny/config.json")
	f.Add(data)
	f.Add([]byte(`{"model_type":"qwen3_vl","vision_config":{"num_position_embeddings":-1}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConfig(b, true)
		if err == nil {
			_ = c.ExpectedWeights()
			_ = c.GridSide()
		}
	})
}
