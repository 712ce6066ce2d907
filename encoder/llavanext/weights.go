package llavanext

import (
	"fmt"
	"strings"

	"github.com/org/vlm2vec/encoder/clip"
	"github.com/org/vlm2vec/encoder/layers"
)

// Checkpoint tensor names. The canonical names are those transformers
// (>= 4.52) saves; llava-hf's Hub checkpoints use the older layout, which
// canonicalName maps: language_model.model.* -> model.language_model.*,
// language_model.lm_head -> lm_head, and vision_tower / multi_modal_projector
// / image_newline gain the "model." prefix.
const (
	visionPrefix    = "model.vision_tower.vision_model."
	projectorPrefix = "model.multi_modal_projector."
	textPrefix      = "model.language_model."
	imageNewline    = "model.image_newline"
)

func canonicalName(name string) string {
	switch {
	case strings.HasPrefix(name, "language_model.model."):
		return textPrefix + strings.TrimPrefix(name, "language_model.model.")
	case name == "language_model.lm_head.weight":
		return "lm_head.weight"
	case strings.HasPrefix(name, "vision_tower."), strings.HasPrefix(name, "multi_modal_projector."), name == "image_newline":
		return "model." + name
	}
	return name
}

// featureDepth is how many vision layers the selected features need; the
// layers above are never run.
func (c *Config) featureDepth() int {
	d := 0
	for _, l := range c.Indices() {
		d = max(d, l)
	}
	return d
}

// ExpectedWeights lists every tensor a checkpoint of this config holds,
// with its shape.
func (c *Config) ExpectedWeights() map[string][]int {
	t, v := &c.TextConfig, &c.VisionConfig
	h, hd := t.HiddenSize, t.Head()
	q, kv := t.NumAttentionHeads*hd, t.NumKeyValueHeads*hd
	w := map[string][]int{}
	clip.AddWeights(w, visionPrefix, v)
	e := v.HiddenSize
	in := e * len(c.VisionFeatureLayer)
	w[projectorPrefix+"linear_1.weight"], w[projectorPrefix+"linear_2.weight"] = []int{h, in}, []int{h, h}
	if c.MultimodalProjectorBias {
		w[projectorPrefix+"linear_1.bias"], w[projectorPrefix+"linear_2.bias"] = []int{h}, []int{h}
	}
	w[imageNewline] = []int{h}
	w[textPrefix+"embed_tokens.weight"] = []int{t.VocabSize, h}
	w[textPrefix+"norm.weight"] = []int{h}
	if !c.tied() {
		w["lm_head.weight"] = []int{t.VocabSize, h}
	}
	for i := 0; i < t.NumHiddenLayers; i++ {
		pre := fmt.Sprintf("%slayers.%d.", textPrefix, i)
		w[pre+"input_layernorm.weight"], w[pre+"post_attention_layernorm.weight"] = []int{h}, []int{h}
		w[pre+"self_attn.q_proj.weight"] = []int{q, h}
		w[pre+"self_attn.k_proj.weight"] = []int{kv, h}
		w[pre+"self_attn.v_proj.weight"] = []int{kv, h}
		w[pre+"self_attn.o_proj.weight"] = []int{h, q}
		if t.AttentionBias {
			w[pre+"self_attn.q_proj.bias"], w[pre+"self_attn.k_proj.bias"] = []int{q}, []int{kv}
			w[pre+"self_attn.v_proj.bias"], w[pre+"self_attn.o_proj.bias"] = []int{kv}, []int{h}
		}
		w[pre+"mlp.gate_proj.weight"], w[pre+"mlp.up_proj.weight"] = []int{t.IntermediateSize, h}, []int{t.IntermediateSize, h}
		w[pre+"mlp.down_proj.weight"] = []int{h, t.IntermediateSize}
	}
	return w
}

// tied reports whether the LM head shares the embedding table (no
// lm_head.weight in the checkpoint).
func (c *Config) tied() bool { return c.TieWordEmbeddings || c.TextConfig.TieWordEmbeddings }

// unusedWeights are the tensors checked for shape but not loaded: the LM
// head, the pooled-output norm, and the vision layers above the feature
// layer.
func (c *Config) unusedWeights() map[string]bool {
	u := map[string]bool{"lm_head.weight": true}
	clip.UnusedWeights(u, visionPrefix, &c.VisionConfig, c.featureDepth())
	return u
}

func (c *Config) weightSet() layers.WeightSet {
	return layers.WeightSet{Expected: c.ExpectedWeights(), Canonical: canonicalName, Unused: c.unusedWeights(), Prefix: "llavanext"}
}

// LinearModules lists the model's adaptable linear layers (module paths).
func (c *Config) LinearModules() []string {
	return c.weightSet().LinearModules(func(name string) bool { return name == textPrefix+"embed_tokens.weight" || clip.IsPositionTable(name) })
}
