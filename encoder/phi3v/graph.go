package phi3v

import (
	"fmt"
	"math"

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

// VisualTable runs crops [N, 576, 3·14²] (clip.Im2Col layout; each image's
// global crop then its local crops) through CLIP to the feature layer,
// drops CLS, merges each 2x2 block of patches into one 4C-wide feature
// (Phi-3-V's reshape_hd_patches_2x2merge), appends the sub_GN and glb_GN
// separators and projects every row through img_projection:
// [N·144 + 2, hidden]. The projection works row by row, so projecting the
// table and then gathering tokens equals the reference's gather-then-project.
func (n *net) VisualTable(crops *Node) *Node {
	g := crops.Graph()
	v := n.cfg.Vision()
	nc := crops.Shape().Dimensions[0]
	grid, c := v.Grid(), v.HiddenSize
	f := clip.HiddenStates(n.Net, visionPrefix, v, crops, []int{n.cfg.FeatureIndex()})[0]
	f = Slice(f, AxisRange(), AxisRange(1, grid*grid+1)) // drop CLS
	half := grid / 2
	f = Reshape(f, nc, half, 2, half, 2, c)
	f = TransposeAllDims(f, 0, 1, 3, 2, 4, 5) // [N, 12, 12, dy, dx, C]
	f = Reshape(f, nc*half*half, 4*c)
	sep := func(name string) *Node { return Reshape(ConvertDType(n.Weight(g, name), f.DType()), 1, 4*c) }
	table := Concatenate([]*Node{f, sep(subGN), sep(glbGN)}, 0)
	table = n.Linear(table, projPrefix+"0", true)
	table = layers.GELUErf(table)
	return n.Linear(table, projPrefix+"2", true)
}

// Decoder embeds tokens (a token with featSrc >= 0 takes that row of the
// visual table instead), runs the Phi-3 layers and returns the final-norm
// hidden state at each row's pooled position: [B, hidden] in float32.
func (n *net) Decoder(ids, valid, pooled, visual, featSrc *Node) *Node {
	g := ids.Graph()
	c, dt := n.cfg, n.DType
	b, s := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]
	h, nh, kvh, hd := c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads, c.Head()

	x := Gather(n.Weight(g, embedTokens), Reshape(ConvertDType(ids, dtypes.Int32), b*s, 1)) // [B*S, H]
	if visual != nil {
		src := Reshape(ConvertDType(featSrc, dtypes.Int32), b*s)
		isVisual := GreaterOrEqual(src, ScalarZero(g, dtypes.Int32))
		vis := Gather(ConvertDType(visual, x.DType()), Reshape(Max(src, ScalarZero(g, dtypes.Int32)), b*s, 1))
		x = Where(BroadcastToDims(Reshape(isVisual, b*s, 1), b*s, h), vis, x)
	}
	x = Reshape(ConvertDType(x, dt), b, s, h)

	cos, sin := n.rotary(g, valid)
	window := 0
	if c.SlidingWindow != nil {
		// The reference's 4-D mask hides keys more than sliding_window
		// positions back: window+1 keys in all, one more than Mistral's.
		window = *c.SlidingWindow + 1
	}
	mask := layers.SlidingCausalMask(valid, window)
	qn, kn := nh*hd, kvh*hd
	for i := 0; i < c.NumHiddenLayers; i++ {
		p := fmt.Sprintf("%slayers.%d.", textPrefix, i)
		r := n.RMSNorm(x, p+"input_layernorm", c.RMSNormEps)
		qkv := n.Linear(r, p+"self_attn.qkv_proj", false)
		heads := func(from, k int) *Node {
			part := Slice(qkv, AxisRange(), AxisRange(), AxisRange(from, from+k*hd))
			return TransposeAllDims(Reshape(part, b, s, k, hd), 0, 2, 1, 3)
		}
		q, k, v := heads(0, nh), heads(qn, kvh), heads(qn+kn, kvh)
		q, k = layers.ApplyRotary(q, cos, sin), layers.ApplyRotary(k, cos, sin)
		a := Reshape(TransposeAllDims(layers.Attention(q, k, v, mask), 0, 2, 1, 3), b, s, qn)
		x = Add(x, n.Linear(a, p+"self_attn.o_proj", false))
		r = n.RMSNorm(x, p+"post_attention_layernorm", c.RMSNormEps)
		gu := n.Linear(r, p+"mlp.gate_up_proj", false)
		gate := Slice(gu, AxisRange(), AxisRange(), AxisRange(0, c.IntermediateSize))
		up := Slice(gu, AxisRange(), AxisRange(), AxisRange(c.IntermediateSize, 2*c.IntermediateSize))
		x = Add(x, n.Linear(Mul(up, layers.SiLU(gate)), p+"mlp.down_proj", false))
	}
	last := layers.GatherPooled(x, pooled) // [B, H]
	return ConvertDType(n.RMSNorm(last, textPrefix+"norm", c.RMSNormEps), dtypes.Float32)
}

// rotary returns cos and sin [B, 1, S, head] for positions 0..S-1. With
// "su" scaling a row uses the long factors when it is longer than
// original_max_position_embeddings, the short ones otherwise, and cos and
// sin carry the attention factor. The reference chooses by the padded
// batch length, so there a short row batched with a long one changes; here
// each row gets what it gets alone.
func (n *net) rotary(g *Graph, valid *Node) (cos, sin *Node) {
	c := n.cfg
	b, s := valid.Shape().Dimensions[0], valid.Shape().Dimensions[1]
	hd := c.Head()
	pos := Iota(g, shapes.Make(dtypes.Float32, s), 0)
	table := func(factors []float64) (*Node, *Node) {
		angles := layers.Contract("s,f->sf", pos, Const(g, invFreq(hd, c.RopeTheta, factors)))
		angles = Concatenate([]*Node{angles, angles}, -1) // [S, hd]
		cs, sn := Cos(angles), Sin(angles)
		if f := c.AttentionFactor(); f != 1 {
			cs, sn = MulScalar(cs, f), MulScalar(sn, f)
		}
		return ConvertDType(cs, n.DType), ConvertDType(sn, n.DType)
	}
	if c.RopeScaling == nil {
		cs, sn := table(nil)
		return Reshape(cs, 1, 1, s, hd), Reshape(sn, 1, 1, s, hd)
	}
	shortCos, shortSin := table(c.RopeScaling.ShortFactor)
	if s <= c.OriginalMaxPositionEmbeddings {
		// No row can be long: positions stop at s-1.
		return Reshape(shortCos, 1, 1, s, hd), Reshape(shortSin, 1, 1, s, hd)
	}
	longCos, longSin := table(c.RopeScaling.LongFactor)
	length := ReduceSum(ConvertDType(valid, dtypes.Int32), -1) // [B]
	long := GreaterThan(length, Scalar(g, dtypes.Int32, c.OriginalMaxPositionEmbeddings))
	pick := func(l, sh *Node) *Node {
		sel := BroadcastToDims(Reshape(long, b, 1, 1, 1), b, 1, s, hd)
		return Where(sel, BroadcastToDims(Reshape(l, 1, 1, s, hd), b, 1, s, hd), BroadcastToDims(Reshape(sh, 1, 1, s, hd), b, 1, s, hd))
	}
	return pick(longCos, shortCos), pick(longSin, shortSin)
}

// invFreq is 1 / (factor_i · theta^(2i/d)) for i < d/2, in float32 as the
// reference computes it (factors 1 without rope scaling).
func invFreq(d int, theta float64, factors []float64) []float32 {
	out := make([]float32, d/2)
	for i := range out {
		e := float32(2*i) / float32(d)
		p := float32(math.Pow(theta, float64(e)))
		f := float32(1)
		if factors != nil {
			f = float32(factors[i])
		}
		out[i] = 1 / (f * p)
	}
	return out
}
