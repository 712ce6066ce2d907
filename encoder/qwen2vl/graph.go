package qwen2vl

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/layers"
)

// Graph-building code panics on inconsistent shapes, GoMLX-style; the public
// entry points in model.go recover and return errors.

// net is one graph's shared layer context (weights, dtype, adapter,
// attention path) plus the Qwen2-VL config.
type net struct {
	*layers.Net
	cfg *Config
}

func newNet(scope *model.Scope, cfg *Config, dt dtypes.DType, adapter *layers.AdapterGraph, fused bool) *net {
	return &net{Net: &layers.Net{Scope: scope, DType: dt, Adapter: adapter, Fused: fused}, cfg: cfg}
}

// visionTower runs patches [N, patchDim] through the ViT and merger and
// returns merged features [N/merge², hidden]. rowCol [N, 2] holds each
// patch's rotary position; blockIndex [blocks, length] and blockSlot [N] are
// layers.BlockLayout's map of patches to attention blocks.
func (n *net) visionTower(pixels, rowCol, blockIndex, blockSlot *Node) *Node {
	g := pixels.Graph()
	cfg := n.cfg
	vc := cfg.VisionConfig
	np := pixels.Shape().Dimensions[0]
	e, nh, hd := vc.EmbedDim, vc.NumHeads, cfg.VisionHeadDim()

	// The Conv3d with kernel = stride is a matmul over flattened patches.
	w := Reshape(n.Weight(g, "visual.patch_embed.proj.weight"), e, cfg.PatchDim())
	x := layers.Contract("np,ep->ne", ConvertDType(pixels, w.DType()), w)

	// 2-D rotary: the first half of the rotary frequencies follow the row,
	// the second half the column; then duplicated for rotate_half.
	freq := layers.InvFreq(g, hd/2, 10000) // [hd/4]
	pos := ConvertDType(rowCol, dtypes.Float32)
	angles := Reshape(layers.Contract("np,f->npf", pos, freq), np, hd/2)
	angles = Concatenate([]*Node{angles, angles}, -1) // [N, hd]
	cos := Reshape(Cos(angles), 1, 1, np, hd)
	sin := Reshape(Sin(angles), 1, 1, np, hd)

	blocks := layers.NewBlocks(blockIndex, blockSlot)

	for i := 0; i < vc.Depth; i++ {
		p := fmt.Sprintf("visual.blocks.%d.", i)
		h := n.LayerNorm(x, p+"norm1", 1e-6)
		qkv := Reshape(n.Linear(h, p+"attn.qkv", true), np, 3, nh, hd)
		qkv = TransposeAllDims(qkv, 1, 2, 0, 3) // [3, nh, N, hd]
		parts := Split(qkv, 0, 3)
		q := layers.ApplyRotary(parts[0], cos, sin) // [1, nh, N, hd]
		k := layers.ApplyRotary(parts[1], cos, sin)
		rows := func(x *Node) *Node { return Reshape(TransposeAllDims(x, 0, 2, 1, 3), np, nh, hd) }
		a := blocks.Attend(rows(q), rows(k), rows(parts[2]))
		x = Add(x, n.Linear(a, p+"attn.proj", true))
		h = n.LayerNorm(x, p+"norm2", 1e-6)
		h = n.Linear(h, p+"mlp.fc1", true)
		h = layers.QuickGELU(h)
		x = Add(x, n.Linear(h, p+"mlp.fc2", true))
	}
	m2 := vc.SpatialMergeSize * vc.SpatialMergeSize
	x = n.LayerNorm(x, "visual.merger.ln_q", 1e-6)
	x = Reshape(x, np/m2, e*m2)
	x = n.Linear(x, "visual.merger.mlp.0", true)
	x = layers.GELUErf(x)
	return n.Linear(x, "visual.merger.mlp.2", true)
}

// mropeCosSin builds the decoder's rotary tables from position ids
// [3, B, S]: each rotary frequency takes its angle from the temporal, row or
// column axis according to mrope_section (the same split in both halves).
func mropeCosSin(cfg *Config, posIDs *Node) (cos, sin *Node) {
	g := posIDs.Graph()
	hd := cfg.HeadDim()
	b, s := posIDs.Shape().Dimensions[1], posIDs.Shape().Dimensions[2]
	freq := layers.InvFreq(g, hd, cfg.RopeTheta) // [hd/2]
	angles := layers.Contract("abs,f->absf", ConvertDType(posIDs, dtypes.Float32), freq)
	sel := make([][]float32, 3)
	for a := range sel {
		sel[a] = make([]float32, hd/2)
	}
	i := 0
	for a, n := range cfg.RopeScaling.MRopeSection {
		for j := 0; j < n; j++ {
			sel[a][i] = 1
			i++
		}
	}
	// Selecting by a 0/1 mask and summing is exact: one term is the angle,
	// the others are zero.
	angles = layers.Contract("absf,af->bsf", angles, Const(g, sel))
	angles = Concatenate([]*Node{angles, angles}, -1) // [B, S, hd]
	cos = Reshape(Cos(angles), b, 1, s, hd)
	sin = Reshape(Sin(angles), b, 1, s, hd)
	return
}

// decoder embeds tokens (replacing image-token rows by visual features
// where featSrc >= 0), runs the Qwen2 layers and returns the final-norm
// hidden state at each row's pooled position: [B, hidden] in float32.
func (n *net) decoder(ids, posIDs, valid, pooled, visual, featSrc *Node) *Node {
	g := ids.Graph()
	cfg, dt := n.cfg, n.DType
	b, s := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]
	h, nh, kvh, hd := cfg.HiddenSize, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim()

	emb := n.Weight(g, "model.embed_tokens.weight")
	x := Gather(emb, Reshape(ConvertDType(ids, dtypes.Int32), b*s, 1)) // [B*S, H]
	if visual != nil {
		src := Reshape(ConvertDType(featSrc, dtypes.Int32), b*s)
		isVisual := GreaterOrEqual(src, ScalarZero(g, dtypes.Int32))
		vis := Gather(ConvertDType(visual, x.DType()), Reshape(Max(src, ScalarZero(g, dtypes.Int32)), b*s, 1))
		x = Where(BroadcastToDims(Reshape(isVisual, b*s, 1), b*s, h), vis, x)
	}
	x = Reshape(ConvertDType(x, dt), b, s, h)

	cos, sin := mropeCosSin(cfg, posIDs)
	mask := layers.CausalMask(valid)

	for i := 0; i < cfg.NumHiddenLayers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		r := n.RMSNorm(x, p+"input_layernorm", cfg.RMSNormEps)
		q := TransposeAllDims(Reshape(n.Linear(r, p+"self_attn.q_proj", true), b, s, nh, hd), 0, 2, 1, 3)
		k := TransposeAllDims(Reshape(n.Linear(r, p+"self_attn.k_proj", true), b, s, kvh, hd), 0, 2, 1, 3)
		v := TransposeAllDims(Reshape(n.Linear(r, p+"self_attn.v_proj", true), b, s, kvh, hd), 0, 2, 1, 3)
		q, k = layers.ApplyRotary(q, cos, sin), layers.ApplyRotary(k, cos, sin)
		a := Reshape(TransposeAllDims(n.CausalAttention(q, k, v, mask), 0, 2, 1, 3), b, s, nh*hd)
		x = Add(x, n.Linear(a, p+"self_attn.o_proj", false))
		r = n.RMSNorm(x, p+"post_attention_layernorm", cfg.RMSNormEps)
		x = Add(x, n.SwiGLU(r, p+"mlp."))
	}
	// Only the pooled token matters: gather it before the final norm (a
	// per-token operation) and never build the LM head.
	last := layers.GatherPooled(x, pooled) // [B, H]
	return ConvertDType(n.RMSNorm(last, "model.norm", cfg.RMSNormEps), dtypes.Float32)
}
