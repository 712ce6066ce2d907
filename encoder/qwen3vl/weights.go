package qwen3vl

import (
	"fmt"

	"github.com/org/vlm2vec/encoder/layers"
	"github.com/org/vlm2vec/encoder/qwen2vl"
)

// ExpectedWeights lists every tensor a Qwen3-VL checkpoint of this config
// holds, with its shape, by canonical name: visual.* for the vision tower,
// model.* for the language model (the released files spell them
// model.visual.* and model.language_model.*; both schemes load).
// lm_head.weight is expected unless tied, and never loaded.
func (c *Config) ExpectedWeights() map[string][]int {
	t, v := c.TextConfig, c.VisionConfig
	h, hd := t.HiddenSize, t.HeadDim
	q, kv := t.NumAttentionHeads*hd, t.NumKeyValueHeads*hd
	w := map[string][]int{
		"model.embed_tokens.weight": {t.VocabSize, h},
		"model.norm.weight":         {h},
	}
	if !c.TieWordEmbeddings {
		w["lm_head.weight"] = []int{t.VocabSize, h}
	}
	linear := func(name string, out, in int, bias bool) {
		w[name+".weight"] = []int{out, in}
		if bias {
			w[name+".bias"] = []int{out}
		}
	}
	norm := func(name string, n int) { w[name+".weight"], w[name+".bias"] = []int{n}, []int{n} }
	for i := 0; i < t.NumHiddenLayers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		w[p+"input_layernorm.weight"] = []int{h}
		w[p+"post_attention_layernorm.weight"] = []int{h}
		w[p+"self_attn.q_norm.weight"] = []int{hd}
		w[p+"self_attn.k_norm.weight"] = []int{hd}
		linear(p+"self_attn.q_proj", q, h, t.AttentionBias)
		linear(p+"self_attn.k_proj", kv, h, t.AttentionBias)
		linear(p+"self_attn.v_proj", kv, h, t.AttentionBias)
		linear(p+"self_attn.o_proj", h, q, t.AttentionBias)
		linear(p+"mlp.gate_proj", t.IntermediateSize, h, false)
		linear(p+"mlp.up_proj", t.IntermediateSize, h, false)
		linear(p+"mlp.down_proj", h, t.IntermediateSize, false)
	}
	e := v.HiddenSize
	merged := e * v.SpatialMergeSize * v.SpatialMergeSize
	w["visual.patch_embed.proj.weight"] = []int{e, v.InChannels, v.TemporalPatchSize, v.PatchSize, v.PatchSize}
	w["visual.patch_embed.proj.bias"] = []int{e}
	w["visual.pos_embed.weight"] = []int{v.NumPositionEmbeddings, e}
	for i := 0; i < v.Depth; i++ {
		p := fmt.Sprintf("visual.blocks.%d.", i)
		norm(p+"norm1", e)
		norm(p+"norm2", e)
		linear(p+"attn.qkv", 3*e, e, true)
		linear(p+"attn.proj", e, e, true)
		linear(p+"mlp.linear_fc1", v.IntermediateSize, e, true)
		linear(p+"mlp.linear_fc2", e, v.IntermediateSize, true)
	}
	norm("visual.merger.norm", e)
	linear("visual.merger.linear_fc1", merged, merged, true)
	linear("visual.merger.linear_fc2", v.OutHiddenSize, merged, true)
	for k := range v.DeepstackVisualIndexes {
		p := fmt.Sprintf("visual.deepstack_merger_list.%d.", k)
		norm(p+"norm", merged) // after the 2x2 shuffle
		linear(p+"linear_fc1", merged, merged, true)
		linear(p+"linear_fc2", v.OutHiddenSize, merged, true)
	}
	return w
}

// LinearModules lists the model's adaptable linear layers (module paths).
func (c *Config) LinearModules() []string {
	return c.weightSet().LinearModules(func(name string) bool { return name == "model.embed_tokens.weight" })
}

func (c *Config) weightSet() layers.WeightSet {
	return layers.WeightSet{Expected: c.ExpectedWeights(), Canonical: qwen2vl.CanonicalName, Unused: map[string]bool{"lm_head.weight": true}, Prefix: "qwen3vl"}
}
