package peft

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzAdapterConfig: any adapter_config.json either fails Check or gives a
// usable config (positive rank, a finite scale, target matching that does
// not panic).
func FuzzAdapterConfig(f *testing.F) {
	for _, dir := range []string{"../qwen2vl/testdata/tiny-a-dora", "../phi3v/testdata/tiny-phi3v-lora"} {
		data, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"r": 8, "lora_alpha": 16, "target_modules": "q_proj|v_proj"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Config
		if json.Unmarshal(data, &c) != nil || c.Check() != nil {
			return
		}
		if c.R <= 0 {
			t.Fatalf("rank %d passed Check", c.R)
		}
		if s := c.Scale(); s != s || s > 1e30 || s < -1e30 {
			t.Fatalf("scale %v passed Check", s)
		}
		_ = c.Matches("model.layers.0.self_attn.q_proj")
	})
}
