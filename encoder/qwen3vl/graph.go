package qwen3vl

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/layers"
)

// Graph-building code panics on inconsistent shapes, GoMLX-style; the public
// entry points in model.go recover and return errors.

type net struct {
	*layers.Net
	cfg *Config
}

func newNet(scope *model.Scope, cfg *Config, dt dtypes.DType, adapter *layers.AdapterGraph, fused bool) *net {
	return &net{Net: &layers.Net{Scope: scope, DType: dt, Adapter: adapter, Fused: fused}, cfg: cfg}
}

// visionInputs are the vision tower's input nodes (Batch.Inputs order).
type visionInputs struct {
	pixels, rowCol, blockIndex, blockSlot *Node
	posIdx, posWeight                     *Node // [N, 4] bilinear taps into the position table
}

// visionTower runs patches [N, patchDim] through the ViT and returns the
// merged features [N/merge², out_hidden] and, per DeepStack level, the
// merged features of that level's block.
func (n *net) visionTower(in visionInputs) (merged *Node, deepstack []*Node) {
	g := in.pixels.Graph()
	cfg := n.cfg
	vc := cfg.VisionConfig
	np := in.pixels.Shape().Dimensions[0]
	e, nh, hd := vc.HiddenSize, vc.NumHeads, cfg.VisionHeadDim()

	// The Conv3d with kernel = stride is a matmul over flattened patches.
	w := Reshape(n.Weight(g, "visual.patch_embed.proj.weight"), e, cfg.PatchDim())
	x := layers.Contract("np,ep->ne", ConvertDType(in.pixels, w.DType()), w)
	x = Add(x, BroadcastToDims(InsertAxes(n.Weight(g, "visual.patch_embed.proj.bias"), 0), np, e))

	// The learned position table, bilinearly interpolated to each grid:
	// four taps per patch, summed in the reference's order.
	table := n.Weight(g, "visual.pos_embed.weight")
	idx := ConvertDType(in.posIdx, dtypes.Int32)
	wts := ConvertDType(in.posWeight, table.DType())
	var pos *Node
	for k := 0; k < 4; k++ {
		tap := Mul(Gather(table, Reshape(Slice(idx, AxisRange(), AxisRange(k, k+1)), np, 1)),
			BroadcastToDims(Slice(wts, AxisRange(), AxisRange(k, k+1)), np, e))
		if pos == nil {
			pos = tap
		} else {
			pos = Add(pos, tap)
		}
	}
	x = Add(x, pos)

	// 2-D rotary, as Qwen2-VL's: the first half of the frequencies follow
	// the row, the second the column; duplicated for rotate_half.
	freq := layers.InvFreq(g, hd/2, 10000)
	angles := Reshape(layers.Contract("np,f->npf", ConvertDType(in.rowCol, dtypes.Float32), freq), np, hd/2)
	angles = Concatenate([]*Node{angles, angles}, -1)
	cos, sin := Reshape(Cos(angles), np, 1, hd), Reshape(Sin(angles), np, 1, hd)
	blocks := layers.NewBlocks(in.blockIndex, in.blockSlot)

	level := map[int]int{}
	for k, b := range vc.DeepstackVisualIndexes {
		level[b] = k
	}
	deepstack = make([]*Node, len(vc.DeepstackVisualIndexes))
	m2 := vc.SpatialMergeSize * vc.SpatialMergeSize
	for i := 0; i < vc.Depth; i++ {
		p := fmt.Sprintf("visual.blocks.%d.", i)
		h := n.LayerNorm(x, p+"norm1", 1e-6)
		qkv := Reshape(n.Linear(h, p+"attn.qkv", true), np, 3, nh, hd)
		parts := Split(qkv, 1, 3)
		q := layers.ApplyRotary(Reshape(parts[0], np, nh, hd), cos, sin)
		k := layers.ApplyRotary(Reshape(parts[1], np, nh, hd), cos, sin)
		a := blocks.Attend(q, k, Reshape(parts[2], np, nh, hd))
		x = Add(x, n.Linear(a, p+"attn.proj", true))
		h = n.LayerNorm(x, p+"norm2", 1e-6)
		h = layers.GELUTanh(n.Linear(h, p+"mlp.linear_fc1", true))
		x = Add(x, n.Linear(h, p+"mlp.linear_fc2", true))
		if k, ok := level[i]; ok {
			// DeepStack mergers normalise after the 2x2 shuffle.
			d := n.LayerNorm(Reshape(x, np/m2, e*m2), fmt.Sprintf("visual.deepstack_merger_list.%d.norm", k), 1e-6)
			deepstack[k] = n.mergerMLP(d, fmt.Sprintf("visual.deepstack_merger_list.%d.", k))
		}
	}
	x = Reshape(n.LayerNorm(x, "visual.merger.norm", 1e-6), np/m2, e*m2)
	return n.mergerMLP(x, "visual.merger."), deepstack
}

func (n *net) mergerMLP(x *Node, prefix string) *Node {
	return n.Linear(layers.GELUErf(n.Linear(x, prefix+"linear_fc1", true)), prefix+"linear_fc2", true)
}

// mropeCosSin builds the decoder's rotary tables from position ids
// [3, B, S] with interleaved M-RoPE: frequency f takes its angle from the
// row axis when f%3 == 1 and f < 3*section[1], from the column axis when
// f%3 == 2 and f < 3*section[2], from the temporal axis otherwise.
func mropeCosSin(cfg *Config, posIDs *Node) (cos, sin *Node) {
	g := posIDs.Graph()
	t := cfg.TextConfig
	hd := t.HeadDim
	b, s := posIDs.Shape().Dimensions[1], posIDs.Shape().Dimensions[2]
	freq := layers.InvFreq(g, hd, t.RopeTheta)
	angles := layers.Contract("abs,f->absf", ConvertDType(posIDs, dtypes.Float32), freq)
	sec := t.RopeScaling.MRopeSection
	sel := [3][]float32{make([]float32, hd/2), make([]float32, hd/2), make([]float32, hd/2)}
	for f := 0; f < hd/2; f++ {
		axis := 0
		switch {
		case f%3 == 1 && f < 3*sec[1]:
			axis = 1
		case f%3 == 2 && f < 3*sec[2]:
			axis = 2
		}
		sel[axis][f] = 1
	}
	// Selecting by a 0/1 mask and summing is exact.
	angles = layers.Contract("absf,af->bsf", angles, Const(g, [][]float32{sel[0], sel[1], sel[2]}))
	angles = Concatenate([]*Node{angles, angles}, -1)
	cos = Reshape(Cos(angles), b, 1, s, hd)
	sin = Reshape(Sin(angles), b, 1, s, hd)
	return
}

// decoder embeds tokens (visual features replace the rows of vision
// tokens where featSrc >= 0), runs the Qwen3 layers, adding the DeepStack
// features at the vision tokens after the first layers, and returns the
// final-norm hidden state at each row's pooled position: [B, hidden] in
// float32.
func (n *net) decoder(ids, posIDs, valid, pooled, visual *Node, deepstack []*Node, featSrc *Node) *Node {
	g := ids.Graph()
	t, dt := n.cfg.TextConfig, n.DType
	b, s := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]
	h, nh, kvh, hd := t.HiddenSize, t.NumAttentionHeads, t.NumKeyValueHeads, t.HeadDim

	x := Gather(n.Weight(g, "model.embed_tokens.weight"), Reshape(ConvertDType(ids, dtypes.Int32), b*s, 1))
	var isVisual, src *Node
	if visual != nil {
		flat := Reshape(ConvertDType(featSrc, dtypes.Int32), b*s)
		isVisual = BroadcastToDims(Reshape(GreaterOrEqual(flat, ScalarZero(g, dtypes.Int32)), b*s, 1), b*s, h)
		src = Reshape(Max(flat, ScalarZero(g, dtypes.Int32)), b*s, 1)
		x = Where(isVisual, Gather(ConvertDType(visual, x.DType()), src), x)
	}
	x = Reshape(ConvertDType(x, dt), b, s, h)

	cos, sin := mropeCosSin(n.cfg, posIDs)
	cos, sin = ConvertDType(cos, dt), ConvertDType(sin, dt) // the reference casts the tables to the model dtype
	mask := layers.CausalMask(valid)
	heads := func(y *Node, k int) *Node { return Reshape(y, b, s, k, hd) }
	for i := 0; i < t.NumHiddenLayers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		r := n.RMSNorm(x, p+"input_layernorm", t.RMSNormEps)
		q := n.RMSNorm(heads(n.Linear(r, p+"self_attn.q_proj", t.AttentionBias), nh), p+"self_attn.q_norm", t.RMSNormEps)
		k := n.RMSNorm(heads(n.Linear(r, p+"self_attn.k_proj", t.AttentionBias), kvh), p+"self_attn.k_norm", t.RMSNormEps)
		v := heads(n.Linear(r, p+"self_attn.v_proj", t.AttentionBias), kvh)
		q, k, v = TransposeAllDims(q, 0, 2, 1, 3), TransposeAllDims(k, 0, 2, 1, 3), TransposeAllDims(v, 0, 2, 1, 3)
		q, k = layers.ApplyRotary(q, cos, sin), layers.ApplyRotary(k, cos, sin)
		a := Reshape(TransposeAllDims(n.CausalAttention(q, k, v, mask), 0, 2, 1, 3), b, s, nh*hd)
		x = Add(x, n.Linear(a, p+"self_attn.o_proj", t.AttentionBias))
		r = n.RMSNorm(x, p+"post_attention_layernorm", t.RMSNormEps)
		x = Add(x, n.SwiGLU(r, p+"mlp."))
		if visual != nil && i < len(deepstack) {
			add := Where(isVisual, Gather(ConvertDType(deepstack[i], dt), src), ZerosLike(Reshape(x, b*s, h)))
			x = Add(x, Reshape(add, b, s, h))
		}
	}
	last := layers.GatherPooled(x, pooled)
	return ConvertDType(n.RMSNorm(last, "model.norm", t.RMSNormEps), dtypes.Float32)
}
