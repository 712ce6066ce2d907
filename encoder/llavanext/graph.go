package llavanext

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/clip"
	"github.com/org/vlm2vec/encoder/layers"
)

// Graph-building code panics on inconsistent shapes, GoMLX-style; the public
// entry points in model.go recover and return errors.

type net struct {
	*layers.Net
	cfg *Config
}

func newNet(scope *model.Scope, cfg *Config, dt dtypes.DType, adapter *layers.AdapterGraph) *net {
	return &net{Net: &layers.Net{Scope: scope, DType: dt, Adapter: adapter}, cfg: cfg}
}

// VisualTable runs crops [N, grid², channels·patch²] (clip.Im2Col
// layout) through CLIP up to the feature layer(s), drops the CLS token
// ("default" strategy) and projects: [N·grid², hidden] in the compute dtype.
func (n *net) VisualTable(crops *Node) *Node {
	selected := clip.HiddenStates(n.Net, visionPrefix, &n.cfg.VisionConfig, crops, n.cfg.Indices())
	nc, np := crops.Shape().Dimensions[0], crops.Shape().Dimensions[1]
	t := np + 1
	f := selected[0]
	if len(selected) > 1 {
		f = Concatenate(selected, -1)
	}
	f = Slice(f, AxisRange(), AxisRange(1, t)) // drop CLS
	f = n.Linear(f, projectorPrefix+"linear_1", n.cfg.MultimodalProjectorBias)
	f = layers.GELUErf(f)
	f = n.Linear(f, projectorPrefix+"linear_2", n.cfg.MultimodalProjectorBias)
	return Reshape(f, nc*np, n.cfg.TextConfig.HiddenSize)
}

// Decoder embeds tokens (a token with featSrc >= 0 takes that row of the
// visual table: the projected features, then image_newline), runs the
// Mistral/Llama layers and returns the final-norm hidden state at each
// row's pooled position: [B, hidden] in float32.
func (n *net) Decoder(ids, valid, pooled, visual, featSrc *Node) *Node {
	g := ids.Graph()
	t, dt := &n.cfg.TextConfig, n.DType
	b, s := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]
	h, nh, kvh, hd := t.HiddenSize, t.NumAttentionHeads, t.NumKeyValueHeads, t.Head()

	emb := n.Weight(g, textPrefix+"embed_tokens.weight")
	x := Gather(emb, Reshape(ConvertDType(ids, dtypes.Int32), b*s, 1)) // [B*S, H]
	if visual != nil {
		table := Concatenate([]*Node{ConvertDType(visual, x.DType()), Reshape(ConvertDType(n.Weight(g, imageNewline), x.DType()), 1, h)}, 0)
		src := Reshape(ConvertDType(featSrc, dtypes.Int32), b*s)
		isVisual := GreaterOrEqual(src, ScalarZero(g, dtypes.Int32))
		vis := Gather(table, Reshape(Max(src, ScalarZero(g, dtypes.Int32)), b*s, 1))
		x = Where(BroadcastToDims(Reshape(isVisual, b*s, 1), b*s, h), vis, x)
	}
	x = Reshape(ConvertDType(x, dt), b, s, h)

	// 1-D rotary positions 0..S-1: transformers' default position ids.
	freq := layers.InvFreq(g, hd, t.RopeTheta) // [hd/2]
	angles := layers.Contract("s,f->sf", Iota(g, shapes.Make(dtypes.Float32, s), 0), freq)
	angles = Concatenate([]*Node{angles, angles}, -1)
	cos, sin := Reshape(Cos(angles), 1, 1, s, hd), Reshape(Sin(angles), 1, 1, s, hd)
	window := 0
	if t.SlidingWindow != nil && t.ModelType == "mistral" {
		window = *t.SlidingWindow
	}
	mask := layers.SlidingCausalMask(valid, window)

	for i := 0; i < t.NumHiddenLayers; i++ {
		p := fmt.Sprintf("%slayers.%d.", textPrefix, i)
		r := n.RMSNorm(x, p+"input_layernorm", t.RMSNormEps)
		heads := func(name string, k int) *Node {
			return TransposeAllDims(Reshape(n.Linear(r, p+"self_attn."+name, t.AttentionBias), b, s, k, hd), 0, 2, 1, 3)
		}
		q, k, v := heads("q_proj", nh), heads("k_proj", kvh), heads("v_proj", kvh)
		q, k = layers.ApplyRotary(q, cos, sin), layers.ApplyRotary(k, cos, sin)
		a := Reshape(TransposeAllDims(layers.Attention(q, k, v, mask), 0, 2, 1, 3), b, s, nh*hd)
		x = Add(x, n.Linear(a, p+"self_attn.o_proj", t.AttentionBias))
		r = n.RMSNorm(x, p+"post_attention_layernorm", t.RMSNormEps)
		x = Add(x, n.SwiGLU(r, p+"mlp."))
	}
	last := layers.GatherPooled(x, pooled) // [B, H]
	return ConvertDType(n.RMSNorm(last, textPrefix+"norm", t.RMSNormEps), dtypes.Float32)
}
