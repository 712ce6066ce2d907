package peft

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testAdapter(dora bool) *Adapter {
	l := &Layer{Module: "model.layers.0.self_attn.q_proj", Rank: 2, In: 3, Out: 2,
		A: []float32{1, 0, 2, 0, 1, -1}, B: []float32{0.5, 1, -1, 0.25}}
	if dora {
		l.Magnitude = []float32{2, 3}
	}
	return &Adapter{
		Config: Config{PeftType: "LORA", R: 2, LoraAlpha: 4, LoraDropout: 0.1, UseDora: dora,
			TargetModules: TargetModules{"q_proj", "v_proj"}, Bias: "none", InitLoraWeights: "gaussian"},
		Layers: map[string]*Layer{l.Module: l},
	}
}

// Merge checked against the formulas computed by hand in float64.
func TestMergeLoRAAndDoRA(t *testing.T) {
	w := []float32{1, 2, 3, 4, 5, 6}
	for _, dora := range []bool{false, true} {
		a := testAdapter(dora)
		l := a.Layers["model.layers.0.self_attn.q_proj"]
		got, err := l.Merge(w, a.Config.Scale())
		if err != nil {
			t.Fatal(err)
		}
		s := a.Config.Scale() // 2
		for o := 0; o < 2; o++ {
			row := make([]float64, 3)
			var norm float64
			for i := 0; i < 3; i++ {
				d := float64(l.B[o*2])*float64(l.A[i]) + float64(l.B[o*2+1])*float64(l.A[3+i])
				row[i] = float64(w[o*3+i]) + s*d
				norm += row[i] * row[i]
			}
			for i := 0; i < 3; i++ {
				want := row[i]
				if dora {
					want *= float64(l.Magnitude[o]) / math.Sqrt(norm)
				}
				if math.Abs(float64(got[o*3+i])-want) > 1e-6 {
					t.Errorf("dora=%v [%d,%d] = %v want %v", dora, o, i, got[o*3+i], want)
				}
			}
		}
		if _, err := l.Merge(w[:5], s); err == nil {
			t.Error("wrong base size accepted")
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "adapter")
	a := testAdapter(true)
	if err := Save(dir, a); err != nil {
		t.Fatal(err)
	}
	b, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	la, lb := a.Layers["model.layers.0.self_attn.q_proj"], b.Layers["model.layers.0.self_attn.q_proj"]
	if lb == nil || lb.Rank != 2 || lb.In != 3 || lb.Out != 2 || len(lb.Magnitude) != 2 || lb.B[3] != la.B[3] {
		t.Fatalf("round trip lost data: %+v", lb)
	}
	if b.Config.Scale() != 2 || !b.Config.UseDora {
		t.Fatalf("config %+v", b.Config)
	}
}

func TestLoadRejects(t *testing.T) {
	for name, mutate := range map[string]func(a *Adapter){
		"unmatched module": func(a *Adapter) { a.Config.TargetModules = TargetModules{"k_proj"} },
		"rank mismatch":    func(a *Adapter) { a.Config.R = 4 },
		"dora without mag": func(a *Adapter) { a.Layers["model.layers.0.self_attn.q_proj"].Magnitude = nil },
		"bias":             func(a *Adapter) { a.Config.Bias = "all" },
		"not lora":         func(a *Adapter) { a.Config.PeftType = "IA3" },
	} {
		dir := filepath.Join(t.TempDir(), "a")
		a := testAdapter(true)
		mutate(a)
		if err := Save(dir, a); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil {
			t.Errorf("%s: loaded without error", name)
		}
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(`{"peft_type":"LORA","r":2,"target_modules":"q_proj|v_proj"}`), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "regular expression") {
		t.Errorf("regex target_modules: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "adapter_config.json"), []byte(`{"peft_type":"LORA","r":2,"target_modules":["q_proj"]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "adapter_model.bin"), []byte("pickle"), 0o644)
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "adapter_model.bin") {
		t.Errorf("bin adapter: %v", err)
	}
}

// TestLoadBinAdapter: an adapter stored as adapter_model.bin (torch.save,
// as TIGER-Lab's repositories hold them) loads with the values of the
// safetensors original (scripts/goldens/torchbin/make_fixtures.py re-saved
// tiny-a-dora).
func TestLoadBinAdapter(t *testing.T) {
	bin, err := Load(filepath.Join("..", "torchbin", "testdata", "tiny-a-dora-bin"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := Load(filepath.Join("..", "qwen2vl", "testdata", "tiny-a-dora"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bin.Layers) != len(st.Layers) || len(bin.Layers) == 0 {
		t.Fatalf("%d layers from .bin, %d from safetensors", len(bin.Layers), len(st.Layers))
	}
	for m, l := range st.Layers {
		b := bin.Layers[m]
		if b == nil {
			t.Fatalf("%s missing from the .bin adapter", m)
		}
		for i := range l.A {
			if l.A[i] != b.A[i] {
				t.Fatalf("%s lora_A differs", m)
			}
		}
		for i := range l.B {
			if l.B[i] != b.B[i] {
				t.Fatalf("%s lora_B differs", m)
			}
		}
		for i := range l.Magnitude {
			if l.Magnitude[i] != b.Magnitude[i] {
				t.Fatalf("%s magnitude differs", m)
			}
		}
	}
}
