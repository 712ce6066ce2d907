package qwen2vl

import (
	"fmt"
	"strings"

	"github.com/org/vlm2vec/encoder/layers"
)

// Checkpoint tensor names, as Qwen2-VL checkpoints on the Hub spell them.
// transformers >= 4.52 uses "model.language_model." and "model.visual."
// inside the module tree; CanonicalName maps those back.
const (
	lmPrefix     = "model."
	visualPrefix = "visual."
)

// CanonicalName maps either naming scheme to the Hub checkpoint's
// (visual.*, model.*); Qwen3-VL checkpoints use the same two schemes.
func CanonicalName(name string) string {
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

// weightSet is what LoadWeights needs to read this config's checkpoint.
func (c *Config) weightSet() layers.WeightSet {
	return layers.WeightSet{Expected: c.ExpectedWeights(), Canonical: CanonicalName, Unused: unusedWeights, Prefix: "qwen2vl"}
}
