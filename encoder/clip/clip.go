// Package clip is the CLIP ViT vision tower as GoMLX graph code, shared by
// the families whose backbones read image features from one (LLaVA-NeXT,
// Phi-3.5-V). Config fields mirror transformers' CLIPVisionConfig, weight
// names its CLIPVisionModel under a family's prefix ("...vision_model.").
package clip

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/org/vlm2vec/encoder/layers"
)

// Config mirrors a CLIPVisionConfig (config.json's "vision_config" with
// model_type clip_vision_model).
type Config struct {
	ModelType         string  `json:"model_type"`
	HiddenSize        int     `json:"hidden_size"`
	IntermediateSize  int     `json:"intermediate_size"`
	NumHiddenLayers   int     `json:"num_hidden_layers"`
	NumAttentionHeads int     `json:"num_attention_heads"`
	NumChannels       int     `json:"num_channels"`
	ImageSize         int     `json:"image_size"`
	PatchSize         int     `json:"patch_size"`
	HiddenAct         string  `json:"hidden_act"`
	LayerNormEps      float64 `json:"layer_norm_eps"`
	ProjectionDim     int     `json:"projection_dim"`
}

// Grid is the patch grid side (image_size / patch_size).
func (c *Config) Grid() int { return c.ImageSize / c.PatchSize }

// Problems lists what makes c unusable, each prefixed by where ("vision_config").
func (c *Config) Problems(where string) []string {
	var errs []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, where+"."+fmt.Sprintf(format, args...))
		}
	}
	check(c.HiddenSize > 0 && c.NumHiddenLayers > 0 && c.IntermediateSize > 0 && c.NumChannels > 0, "sizes must be positive")
	check(c.NumAttentionHeads > 0 && c.HiddenSize%max(c.NumAttentionHeads, 1) == 0, "hidden_size %d not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	check(c.PatchSize > 0 && c.ImageSize > 0 && c.ImageSize%max(c.PatchSize, 1) == 0, "image_size %d is not a multiple of patch_size %d", c.ImageSize, c.PatchSize)
	check(c.HiddenAct == "quick_gelu" || c.HiddenAct == "gelu", "hidden_act %q unsupported (quick_gelu, gelu)", c.HiddenAct)
	check(c.LayerNormEps > 0, "layer_norm_eps must be positive")
	check(c.NumHiddenLayers <= 1024 && c.HiddenSize <= 1<<16 && c.IntermediateSize <= 1<<18 && c.ImageSize <= 1<<13 && c.NumChannels <= 64, "sizes are implausible")
	return errs
}

// AddWeights adds every tensor of a CLIPVisionModel's vision_model (under
// prefix, e.g. "model.vision_tower.vision_model.") to w, with its shape.
func AddWeights(w map[string][]int, prefix string, c *Config) {
	e, p, g := c.HiddenSize, c.PatchSize, c.Grid()
	w[prefix+"embeddings.class_embedding"] = []int{e}
	w[prefix+"embeddings.patch_embedding.weight"] = []int{e, c.NumChannels, p, p}
	w[prefix+"embeddings.position_embedding.weight"] = []int{g*g + 1, e}
	w[prefix+"pre_layrnorm.weight"], w[prefix+"pre_layrnorm.bias"] = []int{e}, []int{e}
	w[prefix+"post_layernorm.weight"], w[prefix+"post_layernorm.bias"] = []int{e}, []int{e}
	for i := 0; i < c.NumHiddenLayers; i++ {
		pre := fmt.Sprintf("%sencoder.layers.%d.", prefix, i)
		for _, m := range []string{"q_proj", "k_proj", "v_proj", "out_proj"} {
			w[pre+"self_attn."+m+".weight"], w[pre+"self_attn."+m+".bias"] = []int{e, e}, []int{e}
		}
		w[pre+"layer_norm1.weight"], w[pre+"layer_norm1.bias"] = []int{e}, []int{e}
		w[pre+"layer_norm2.weight"], w[pre+"layer_norm2.bias"] = []int{e}, []int{e}
		w[pre+"mlp.fc1.weight"], w[pre+"mlp.fc1.bias"] = []int{c.IntermediateSize, e}, []int{c.IntermediateSize}
		w[pre+"mlp.fc2.weight"], w[pre+"mlp.fc2.bias"] = []int{e, c.IntermediateSize}, []int{e}
	}
}

// IsPositionTable reports whether a 2-D weight name is the tower's
// position-embedding table (a lookup table, not a linear layer).
func IsPositionTable(name string) bool {
	return strings.HasSuffix(name, "embeddings.position_embedding.weight")
}

// UnusedWeights marks, in u, the tensors a reader of hidden states up to
// index depth never runs: the pooled-output norm and the layers above.
func UnusedWeights(u map[string]bool, prefix string, c *Config, depth int) {
	u[prefix+"post_layernorm.weight"], u[prefix+"post_layernorm.bias"] = true, true
	for i := depth; i < c.NumHiddenLayers; i++ {
		pre := fmt.Sprintf("%sencoder.layers.%d.", prefix, i)
		for _, m := range []string{"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj", "layer_norm1", "layer_norm2", "mlp.fc1", "mlp.fc2"} {
			u[pre+m+".weight"], u[pre+m+".bias"] = true, true
		}
	}
}

// HiddenStates runs crops [N, grid², channels·patch²] (each crop's patches
// in raster order, each patch flattened as (channel, y, x)) through the
// tower and returns the hidden states at indices (0 is the embeddings after
// pre_layrnorm, k the output of layer k), each [N, grid²+1, hidden] with
// the CLS token first. Layers above the largest index are not built.
func HiddenStates(n *layers.Net, prefix string, c *Config, crops *Node, indices []int) []*Node {
	g := crops.Graph()
	nc, np := crops.Shape().Dimensions[0], crops.Shape().Dimensions[1]
	e, nh := c.HiddenSize, c.NumAttentionHeads
	hd := e / nh
	dt := n.DType

	// The patch Conv2d (kernel = stride, no bias) is a matmul over
	// flattened patches.
	w := Reshape(n.Weight(g, prefix+"embeddings.patch_embedding.weight"), e, -1)
	x := layers.Contract("npk,ek->npe", ConvertDType(crops, w.DType()), w) // [N, grid², e]
	cls := BroadcastToDims(Reshape(n.Weight(g, prefix+"embeddings.class_embedding"), 1, 1, e), nc, 1, e)
	x = Concatenate([]*Node{cls, x}, 1)
	pos := n.Weight(g, prefix+"embeddings.position_embedding.weight") // [grid²+1, e]
	x = Add(x, BroadcastToDims(Reshape(pos, 1, np+1, e), nc, np+1, e))
	x = n.LayerNorm(x, prefix+"pre_layrnorm", c.LayerNormEps)

	depth := 0
	for _, l := range indices {
		depth = max(depth, l)
	}
	states := []*Node{x}
	t := np + 1
	scale := 1 / math.Sqrt(float64(hd))
	for i := 0; i < depth; i++ {
		p := fmt.Sprintf("%sencoder.layers.%d.", prefix, i)
		h := n.LayerNorm(x, p+"layer_norm1", c.LayerNormEps)
		heads := func(name string) *Node {
			return TransposeAllDims(Reshape(n.Linear(h, p+"self_attn."+name, true), nc, t, nh, hd), 0, 2, 1, 3)
		}
		q, k, v := heads("q_proj"), heads("k_proj"), heads("v_proj")
		scores := layers.Contract("bhqd,bhkd->bhqk", ConvertDType(q, dtypes.Float32), ConvertDType(k, dtypes.Float32))
		probs := Softmax(MulScalar(scores, scale), -1)
		a := layers.Contract("bhqk,bhkd->bhqd", ConvertDType(probs, dt), v)
		a = Reshape(TransposeAllDims(a, 0, 2, 1, 3), nc, t, e)
		x = Add(x, n.Linear(a, p+"self_attn.out_proj", true))
		h = n.LayerNorm(x, p+"layer_norm2", c.LayerNormEps)
		h = n.Linear(h, p+"mlp.fc1", true)
		if c.HiddenAct == "quick_gelu" {
			h = layers.QuickGELU(h)
		} else {
			h = layers.GELUErf(h)
		}
		x = Add(x, n.Linear(h, p+"mlp.fc2", true))
		states = append(states, x)
	}
	out := make([]*Node, len(indices))
	for i, l := range indices {
		out[i] = states[l]
	}
	return out
}

// Im2Col lays a crop [channels, side, side] out as patches [grid²,
// channels·p·p] in raster order, each flattened (channel, y, x) like the
// patch embedding's Conv2d kernel.
func Im2Col(crop []float32, channels, side, p int) []float32 {
	g := side / p
	out := make([]float32, 0, len(crop))
	for py := 0; py < g; py++ {
		for px := 0; px < g; px++ {
			for c := 0; c < channels; c++ {
				for y := 0; y < p; y++ {
					base := c*side*side + (py*p+y)*side + px*p
					out = append(out, crop[base:base+p]...)
				}
			}
		}
	}
	return out
}
