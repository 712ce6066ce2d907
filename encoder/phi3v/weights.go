package phi3v

import (
	"fmt"

	"github.com/org/vlm2vec/encoder/clip"
	"github.com/org/vlm2vec/encoder/layers"
)

// Checkpoint tensor names (Phi3VForCausalLM's state dict).
const (
	textPrefix   = "model."
	imagePrefix  = "model.vision_embed_tokens."
	visionPrefix = imagePrefix + "img_processor.vision_model."
	projPrefix   = imagePrefix + "img_projection."
	subGN        = imagePrefix + "sub_GN"
	glbGN        = imagePrefix + "glb_GN"
	embedTokens  = textPrefix + "embed_tokens.weight"
	// wteAlias is the image embedding's handle on embed_tokens: the same
	// module, so most checkpoints store it once, under embed_tokens.
	wteAlias = imagePrefix + "wte.weight"
)

// ExpectedWeights lists every tensor a checkpoint of this config holds,
// with its shape.
func (c *Config) ExpectedWeights() map[string][]int {
	h, hd := c.HiddenSize, c.Head()
	q, kv := c.NumAttentionHeads*hd, c.NumKeyValueHeads*hd
	v := c.Vision()
	w := map[string][]int{}
	clip.AddWeights(w, visionPrefix, v)
	merged := 4 * v.HiddenSize
	w[subGN], w[glbGN] = []int{1, 1, 1, merged}, []int{1, 1, merged}
	w[projPrefix+"0.weight"], w[projPrefix+"0.bias"] = []int{h, merged}, []int{h}
	w[projPrefix+"2.weight"], w[projPrefix+"2.bias"] = []int{h, h}, []int{h}
	w[embedTokens] = []int{c.VocabSize, h}
	w[textPrefix+"norm.weight"] = []int{h}
	if !c.TieWordEmbeddings {
		w["lm_head.weight"] = []int{c.VocabSize, h}
	}
	for i := 0; i < c.NumHiddenLayers; i++ {
		pre := fmt.Sprintf("%slayers.%d.", textPrefix, i)
		w[pre+"input_layernorm.weight"], w[pre+"post_attention_layernorm.weight"] = []int{h}, []int{h}
		w[pre+"self_attn.qkv_proj.weight"] = []int{q + 2*kv, h}
		w[pre+"self_attn.o_proj.weight"] = []int{h, q}
		w[pre+"mlp.gate_up_proj.weight"] = []int{2 * c.IntermediateSize, h}
		w[pre+"mlp.down_proj.weight"] = []int{h, c.IntermediateSize}
	}
	return w
}

// weightSet describes the checkpoint; withAlias adds the image
// embedding's copy of embed_tokens, for checkpoints that store it twice.
func (c *Config) weightSet(withAlias bool) layers.WeightSet {
	w := c.ExpectedWeights()
	u := map[string]bool{"lm_head.weight": true}
	clip.UnusedWeights(u, visionPrefix, c.Vision(), c.FeatureIndex())
	if withAlias {
		w[wteAlias] = w[embedTokens]
		u[wteAlias] = true
	}
	return layers.WeightSet{Expected: w, Unused: u, Prefix: "phi3v"}
}

// LinearModules lists the model's adaptable linear layers (module paths).
func (c *Config) LinearModules() []string {
	return c.weightSet(false).LinearModules(func(name string) bool { return name == embedTokens || clip.IsPositionTable(name) })
}
