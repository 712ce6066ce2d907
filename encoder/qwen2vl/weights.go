package qwen2vl

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/encoder/safetensors"
)

// Checkpoint tensor names, as Qwen2-VL checkpoints on the Hub spell them.
// transformers >= 4.52 uses "model.language_model." and "model.visual."
// inside the module tree; canonicalName maps those back.
const (
	lmPrefix     = "model."
	visualPrefix = "visual."
)

// canonicalName maps either naming scheme to the Hub checkpoint's.
func canonicalName(name string) string {
	switch {
	case strings.HasPrefix(name, "model.language_model."):
		return lmPrefix + strings.TrimPrefix(name, "model.language_model.")
	case strings.HasPrefix(name, "model.visual."):
		return visualPrefix + strings.TrimPrefix(name, "model.visual.")
	}
	return name
}

// ExpectedWeights lists every tensor a Qwen2-VL checkpoint of this config
// holds, with its shape. lm_head.weight is expected (unless tied) but never
// loaded: an embedding model does not need the vocabulary projection.
func (c *Config) ExpectedWeights() map[string][]int {
	h, hd := c.HiddenSize, c.HeadDim()
	q, kv := c.NumAttentionHeads*hd, c.NumKeyValueHeads*hd
	w := map[string][]int{
		"model.embed_tokens.weight": {c.VocabSize, h},
		"model.norm.weight":         {h},
	}
	if !c.TieWordEmbeddings {
		w["lm_head.weight"] = []int{c.VocabSize, h}
	}
	for i := 0; i < c.NumHiddenLayers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		w[p+"input_layernorm.weight"] = []int{h}
		w[p+"post_attention_layernorm.weight"] = []int{h}
		w[p+"self_attn.q_proj.weight"] = []int{q, h}
		w[p+"self_attn.q_proj.bias"] = []int{q}
		w[p+"self_attn.k_proj.weight"] = []int{kv, h}
		w[p+"self_attn.k_proj.bias"] = []int{kv}
		w[p+"self_attn.v_proj.weight"] = []int{kv, h}
		w[p+"self_attn.v_proj.bias"] = []int{kv}
		w[p+"self_attn.o_proj.weight"] = []int{h, q}
		w[p+"mlp.gate_proj.weight"] = []int{c.IntermediateSize, h}
		w[p+"mlp.up_proj.weight"] = []int{c.IntermediateSize, h}
		w[p+"mlp.down_proj.weight"] = []int{h, c.IntermediateSize}
	}
	v := c.VisionConfig
	e, m := v.EmbedDim, c.VisionMLPDim()
	merged := e * v.SpatialMergeSize * v.SpatialMergeSize
	w["visual.patch_embed.proj.weight"] = []int{e, v.InChannels, v.TemporalPatchSize, v.PatchSize, v.PatchSize}
	for i := 0; i < v.Depth; i++ {
		p := fmt.Sprintf("visual.blocks.%d.", i)
		w[p+"norm1.weight"], w[p+"norm1.bias"] = []int{e}, []int{e}
		w[p+"norm2.weight"], w[p+"norm2.bias"] = []int{e}, []int{e}
		w[p+"attn.qkv.weight"], w[p+"attn.qkv.bias"] = []int{3 * e, e}, []int{3 * e}
		w[p+"attn.proj.weight"], w[p+"attn.proj.bias"] = []int{e, e}, []int{e}
		w[p+"mlp.fc1.weight"], w[p+"mlp.fc1.bias"] = []int{m, e}, []int{m}
		w[p+"mlp.fc2.weight"], w[p+"mlp.fc2.bias"] = []int{e, m}, []int{e}
	}
	w["visual.merger.ln_q.weight"], w["visual.merger.ln_q.bias"] = []int{e}, []int{e}
	w["visual.merger.mlp.0.weight"], w["visual.merger.mlp.0.bias"] = []int{merged, merged}, []int{merged}
	w["visual.merger.mlp.2.weight"], w["visual.merger.mlp.2.bias"] = []int{h, merged}, []int{h}
	return w
}

// unusedWeights are checked for shape but not loaded.
var unusedWeights = map[string]bool{"lm_head.weight": true}

// variablePath is where a checkpoint tensor lives in the GoMLX store: the
// dotted name with dots as scope separators, e.g.
// model.layers.0.self_attn.q_proj.weight -> /model/layers/0/self_attn/q_proj/weight.
func variablePath(name string) string { return "/" + strings.ReplaceAll(name, ".", "/") }

// weightSource reads canonical weight names from a checkpoint that may use
// either naming scheme.
type weightSource struct {
	ckpt   *safetensors.Checkpoint
	actual map[string]string // canonical -> name in the checkpoint
}

// checkWeights verifies the checkpoint holds exactly what the config
// implies, whichever naming scheme it uses, and names every discrepancy.
func checkWeights(cfg *Config, ckpt *safetensors.Checkpoint) (*weightSource, error) {
	want := map[string]safetensors.Spec{}
	for n, shape := range cfg.ExpectedWeights() {
		want[n] = safetensors.Spec{Shape: shape, DTypes: []safetensors.DType{safetensors.F32, safetensors.BF16, safetensors.F16}}
	}
	if err := ckpt.ExpectAs(want, canonicalName); err != nil {
		return nil, fmt.Errorf("qwen2vl: %w", err)
	}
	src := &weightSource{ckpt: ckpt, actual: map[string]string{}}
	for _, n := range ckpt.Names() {
		src.actual[canonicalName(n)] = n
	}
	return src, nil
}

// loadInto creates one store variable per used weight, converted to dtype,
// with the adapter's layers (if any) merged in.
func (s *weightSource) loadInto(store *model.Store, cfg *Config, dtype dtypes.DType, adapter *peft.Adapter) error {
	merges := map[string]*peft.Layer{}
	if adapter != nil {
		want := cfg.ExpectedWeights()
		for module, l := range adapter.Layers {
			name := canonicalName(module + ".weight")
			if shape, ok := want[name]; !ok || len(shape) != 2 {
				return fmt.Errorf("qwen2vl: adapter layer %s matches no linear weight of the model", module)
			} else if shape[0] != l.Out || shape[1] != l.In {
				return fmt.Errorf("qwen2vl: adapter layer %s is [%d, %d], the model's weight is %v", module, l.Out, l.In, shape)
			}
			merges[name] = l
		}
	}
	for canon := range cfg.ExpectedWeights() {
		if unusedWeights[canon] {
			continue
		}
		var t *tensors.Tensor
		var err error
		if l, ok := merges[canon]; ok {
			t, err = s.merged(canon, l, adapter.Config.Scale(), dtype)
		} else {
			t, err = s.ckpt.Tensor(s.actual[canon], dtype)
		}
		if err != nil {
			return fmt.Errorf("qwen2vl: loading %s: %w", canon, err)
		}
		if _, err := store.CreateVariable(variablePath(canon), t); err != nil {
			return fmt.Errorf("qwen2vl: variable for %s: %w", canon, err)
		}
	}
	return nil
}

// merged folds an adapter layer into a base weight, in float32 on the host.
func (s *weightSource) merged(canon string, l *peft.Layer, scale float64, dtype dtypes.DType) (*tensors.Tensor, error) {
	w, shape, err := s.ckpt.Float32s(s.actual[canon])
	if err != nil {
		return nil, err
	}
	m, err := l.Merge(w, scale)
	if err != nil {
		return nil, err
	}
	return safetensors.Float32sToTensor(m, shape, dtype)
}
