// Package peft reads and writes adapters in Hugging Face PEFT's format
// (adapter_config.json + adapter_model.safetensors) and merges LoRA and DoRA
// adapters into base weights for inference.
//
// VLM2Vec's released Qwen2-VL adapters are DoRA (use_dora: true, Gaussian
// init, alpha 64, r 8 or 16) over the language model's projections.
package peft

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/org/vlm2vec/encoder/safetensors"
	"github.com/org/vlm2vec/encoder/torchbin"
	"github.com/org/vlm2vec/internal/atomicfile"
)

// Config mirrors the fields of adapter_config.json that change the math.
// Fields PEFT writes for other adapter kinds are accepted and ignored only
// when they hold their neutral value (see Check).
type Config struct {
	PeftType          string         `json:"peft_type"`
	R                 int            `json:"r"`
	LoraAlpha         float64        `json:"lora_alpha"`
	LoraDropout       float64        `json:"lora_dropout"`
	TargetModules     TargetModules  `json:"target_modules"`
	UseDora           bool           `json:"use_dora"`
	UseRSLora         bool           `json:"use_rslora"`
	FanInFanOut       bool           `json:"fan_in_fan_out"`
	Bias              string         `json:"bias"`
	InitLoraWeights   any            `json:"init_lora_weights"`
	ModulesToSave     []string       `json:"modules_to_save"`
	RankPattern       map[string]int `json:"rank_pattern"`
	AlphaPattern      map[string]int `json:"alpha_pattern"`
	BaseModel         string         `json:"base_model_name_or_path"`
	TaskType          *string        `json:"task_type"`
	InferenceMode     bool           `json:"inference_mode"`
	LayersToTransform any            `json:"layers_to_transform"`
}

// TargetModules is PEFT's target_modules: a list of module-name suffixes or
// a single regular-expression string.
type TargetModules []string

// UnmarshalJSON accepts a list or a string.
func (t *TargetModules) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*t = list
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("target_modules must be a list or a string")
	}
	return fmt.Errorf("target_modules as a regular expression (%q) is not supported; list the module names", s)
}

// Scale is the factor s in W + s·B·A: alpha/r, or alpha/sqrt(r) with rsLoRA.
func (c *Config) Scale() float64 {
	if c.UseRSLora {
		return c.LoraAlpha / math.Sqrt(float64(c.R))
	}
	return c.LoraAlpha / float64(c.R)
}

// Matches reports whether a module (dotted path, e.g.
// model.layers.0.self_attn.q_proj) is adapted: PEFT matches a listed name
// against the module's last component or a dotted suffix.
func (c *Config) Matches(module string) bool {
	for _, t := range c.TargetModules {
		if module == t || strings.HasSuffix(module, "."+t) {
			return true
		}
	}
	return false
}

// Check refuses settings this package would get wrong rather than silently
// ignoring them.
func (c *Config) Check() error {
	var errs []string
	if c.PeftType != "LORA" {
		errs = append(errs, fmt.Sprintf("peft_type %q (only LORA, with or without use_dora)", c.PeftType))
	}
	if c.R <= 0 {
		errs = append(errs, fmt.Sprintf("r = %d", c.R))
	}
	if c.FanInFanOut {
		errs = append(errs, "fan_in_fan_out (Conv1D-style weights) is not supported")
	}
	if c.Bias != "" && c.Bias != "none" {
		errs = append(errs, fmt.Sprintf("bias %q (only \"none\")", c.Bias))
	}
	if len(c.ModulesToSave) > 0 {
		errs = append(errs, fmt.Sprintf("modules_to_save %v", c.ModulesToSave))
	}
	if len(c.RankPattern) > 0 || len(c.AlphaPattern) > 0 {
		errs = append(errs, "rank_pattern/alpha_pattern")
	}
	if c.LayersToTransform != nil {
		errs = append(errs, "layers_to_transform")
	}
	if len(c.TargetModules) == 0 {
		errs = append(errs, "no target_modules")
	}
	if len(errs) > 0 {
		return fmt.Errorf("peft: unsupported adapter_config.json: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Layer is one adapted linear layer: A [r, in], B [out, r] and, for DoRA,
// the magnitude vector [out].
type Layer struct {
	Module    string // base-model module path, e.g. model.layers.0.self_attn.q_proj
	A, B      []float32
	Rank      int
	In, Out   int
	Magnitude []float32 // nil for plain LoRA
}

// Adapter is a loaded PEFT adapter.
type Adapter struct {
	Config Config
	Layers map[string]*Layer // by module path
}

// Tensor-name parts PEFT uses.
const (
	peftPrefix   = "base_model.model."
	loraA        = ".lora_A.weight"
	loraB        = ".lora_B.weight"
	magnitude    = ".lora_magnitude_vector"
	magnitudeOld = ".lora_magnitude_vector.weight"
)

// Load reads an adapter directory.
func Load(dir string) (*Adapter, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "adapter_config.json"))
	if err != nil {
		return nil, fmt.Errorf("peft: %w", err)
	}
	var a Adapter
	if err := json.Unmarshal(raw, &a.Config); err != nil {
		return nil, fmt.Errorf("peft: adapter_config.json: %w", err)
	}
	if err := a.Config.Check(); err != nil {
		return nil, err
	}
	p := filepath.Join(dir, "adapter_model.safetensors")
	if _, err := os.Stat(p); err != nil {
		bin := filepath.Join(dir, "adapter_model.bin")
		if _, binErr := os.Stat(bin); binErr != nil {
			return nil, fmt.Errorf("peft: %w", err)
		}
		// TIGER-Lab's adapters are torch.save files: read their tensors
		// (no pickle code runs) into a temporary safetensors file.
		tmp, err := binToSafetensors(bin)
		if err != nil {
			return nil, err
		}
		defer os.Remove(tmp)
		p = tmp
	}
	ckpt, err := safetensors.OpenFiles(p)
	if err != nil {
		return nil, err
	}
	defer ckpt.Close()
	a.Layers = map[string]*Layer{}
	get := func(module string) *Layer {
		l, ok := a.Layers[module]
		if !ok {
			l = &Layer{Module: module}
			a.Layers[module] = l
		}
		return l
	}
	for _, name := range ckpt.Names() {
		vals, shape, err := ckpt.Float32s(name)
		if err != nil {
			return nil, fmt.Errorf("peft: %w", err)
		}
		module, kind := splitName(name)
		if kind == "" {
			return nil, fmt.Errorf("peft: unexpected tensor %q in %s (only lora_A, lora_B and DoRA magnitudes are supported)", name, p)
		}
		l := get(module)
		switch kind {
		case loraA:
			if len(shape) != 2 {
				return nil, fmt.Errorf("peft: %s has shape %v, want [r, in]", name, shape)
			}
			l.A, l.Rank, l.In = vals, shape[0], shape[1]
		case loraB:
			if len(shape) != 2 {
				return nil, fmt.Errorf("peft: %s has shape %v, want [out, r]", name, shape)
			}
			l.B, l.Out = vals, shape[0]
			if l.Rank != 0 && shape[1] != l.Rank {
				return nil, fmt.Errorf("peft: %s has rank %d, lora_A has %d", name, shape[1], l.Rank)
			}
		case magnitude, magnitudeOld:
			l.Magnitude = vals
		}
	}
	var errs []error
	for m, l := range a.Layers {
		switch {
		case l.A == nil || l.B == nil:
			errs = append(errs, fmt.Errorf("module %s lacks lora_A or lora_B", m))
		case len(l.B) != l.Out*l.Rank:
			errs = append(errs, fmt.Errorf("module %s: lora_B rank does not match lora_A", m))
		case l.Rank != a.Config.R:
			errs = append(errs, fmt.Errorf("module %s: rank %d but r = %d", m, l.Rank, a.Config.R))
		case a.Config.UseDora && len(l.Magnitude) != l.Out:
			errs = append(errs, fmt.Errorf("module %s: use_dora but magnitude has %d of %d entries", m, len(l.Magnitude), l.Out))
		case !a.Config.UseDora && l.Magnitude != nil:
			errs = append(errs, fmt.Errorf("module %s: DoRA magnitude present but use_dora is false", m))
		case !a.Config.Matches(m):
			errs = append(errs, fmt.Errorf("module %s is not in target_modules %v", m, a.Config.TargetModules))
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("peft: %s: %w", dir, errors.Join(errs...))
	}
	return &a, nil
}

// binToSafetensors converts a torch.save state dict to a temporary
// safetensors file and returns its path.
func binToSafetensors(bin string) (string, error) {
	sd, err := torchbin.Read(bin)
	if err != nil {
		return "", fmt.Errorf("peft: %w", err)
	}
	ts := make([]safetensors.TensorData, 0, len(sd))
	for _, name := range torchbin.Names(sd) {
		t := sd[name]
		ts = append(ts, safetensors.TensorData{Name: name, DType: t.DType, Shape: t.Shape, Data: t.Data})
	}
	f, err := os.CreateTemp("", "adapter-*.safetensors")
	if err != nil {
		return "", fmt.Errorf("peft: %w", err)
	}
	f.Close()
	if err := safetensors.Write(f.Name(), ts, map[string]string{"format": "pt"}); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("peft: %s: %w", bin, err)
	}
	return f.Name(), nil
}

// splitName turns base_model.model.<module>.lora_A.weight into (module, kind).
func splitName(name string) (module, kind string) {
	rest := strings.TrimPrefix(name, peftPrefix)
	for _, k := range []string{loraA, loraB, magnitudeOld, magnitude} {
		if strings.HasSuffix(rest, k) {
			return strings.TrimSuffix(rest, k), k
		}
	}
	return rest, ""
}

// Merge returns W' for a base weight W [out, in] (row-major):
// LoRA: W + s·B·A. DoRA: m ⊙ (W + s·B·A) / ‖W + s·B·A‖, the norm taken per
// output row, as PEFT's merge_and_unload computes it.
func (l *Layer) Merge(w []float32, scale float64) ([]float32, error) {
	if len(w) != l.Out*l.In {
		return nil, fmt.Errorf("peft: %s: base weight has %d values, adapter expects [%d, %d]", l.Module, len(w), l.Out, l.In)
	}
	out := make([]float32, len(w))
	row := make([]float64, l.In)
	for o := 0; o < l.Out; o++ {
		var norm float64
		for i := 0; i < l.In; i++ {
			var delta float64
			for k := 0; k < l.Rank; k++ {
				delta += float64(l.B[o*l.Rank+k]) * float64(l.A[k*l.In+i])
			}
			row[i] = float64(w[o*l.In+i]) + scale*delta
			norm += row[i] * row[i]
		}
		f := 1.0
		if l.Magnitude != nil {
			f = float64(l.Magnitude[o]) / math.Sqrt(norm)
		}
		for i := 0; i < l.In; i++ {
			out[o*l.In+i] = float32(row[i] * f)
		}
	}
	return out, nil
}

// Save writes an adapter in PEFT's layout: adapter_config.json and
// adapter_model.safetensors, each atomically.
func Save(dir string, a *Adapter) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("peft: %w", err)
	}
	modules := make([]string, 0, len(a.Layers))
	for m := range a.Layers {
		modules = append(modules, m)
	}
	sort.Strings(modules)
	var ts []safetensors.TensorData
	for _, m := range modules {
		l := a.Layers[m]
		ts = append(ts,
			safetensors.Float32Tensor(peftPrefix+m+loraA, []int{l.Rank, l.In}, l.A),
			safetensors.Float32Tensor(peftPrefix+m+loraB, []int{l.Out, l.Rank}, l.B))
		if l.Magnitude != nil {
			ts = append(ts, safetensors.Float32Tensor(peftPrefix+m+magnitude, []int{l.Out}, l.Magnitude))
		}
	}
	if err := safetensors.Write(filepath.Join(dir, "adapter_model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	c := a.Config
	// PEFT reads these as dicts and fails on null.
	if c.RankPattern == nil {
		c.RankPattern = map[string]int{}
	}
	if c.AlphaPattern == nil {
		c.AlphaPattern = map[string]int{}
	}
	cfg, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("peft: %w", err)
	}
	return atomicfile.WriteBytes(filepath.Join(dir, "adapter_config.json"), append(cfg, '\n'), 0o644)
}
