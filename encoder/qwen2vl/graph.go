package qwen2vl

import (
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	attn "github.com/gomlx/gomlx/ml/layers/attention"
	"github.com/gomlx/gomlx/ml/model"
)

// Graph-building code panics on inconsistent shapes, GoMLX-style; the public
// entry points in model.go recover and return errors.

// net carries what every layer of one graph needs: the weights' scope, the
// config, the compute dtype, and the trainable adapter if there is one.
type net struct {
	scope *model.Scope
	cfg   *Config
	dt    dtypes.DType
	lora  *loraGraph // nil: plain (or merged) weights
	fused bool       // decoder attention through the backend's fused op
}

// weight returns the store variable holding a checkpoint tensor. A missing
// weight is a bug (loading verified the checkpoint), hence the panic.
func (n *net) weight(g *Graph, name string) *Node {
	v := n.scope.Store().GetVariable(variablePath(name))
	if v == nil {
		panic(fmt.Sprintf("qwen2vl: weight %q not loaded", name))
	}
	return v.ValueGraph(g)
}

// linear is x @ W^T (+ b), PyTorch's nn.Linear with W stored [out, in],
// plus the LoRA/DoRA branch when the layer is adapted.
func (n *net) linear(x *Node, name string, bias bool) *Node {
	if n.lora != nil && n.lora.adapts(name) {
		return n.lora.linear(n, x, name, bias)
	}
	return n.plainLinear(x, name, bias)
}

func (n *net) plainLinear(x *Node, name string, bias bool) *Node {
	g := x.Graph()
	w := n.weight(g, name+".weight")
	dims := x.Shape().Dimensions
	out := w.Shape().Dimensions[0]
	y := Einsum("ni,oi->no", Reshape(x, -1, dims[len(dims)-1]), w)
	y = Reshape(y, append(append([]int{}, dims[:len(dims)-1]...), out)...)
	if bias {
		b := n.weight(g, name+".bias")
		y = Add(y, BroadcastToDims(expandTo(b, y.Rank()), y.Shape().Dimensions...))
	}
	return y
}

// expandTo prefixes x with unit axes up to the given rank: the Go backend
// wants binary-op operands of equal rank.
func expandTo(x *Node, rank int) *Node {
	for x.Rank() < rank {
		x = InsertAxes(x, 0)
	}
	return x
}

// rmsNorm is Qwen2's RMSNorm: statistics in float32, weight applied after
// casting back to the compute dtype.
func (n *net) rmsNorm(x *Node, name string, eps float64) *Node {
	g := x.Graph()
	dt := x.DType()
	x32 := ConvertDType(x, dtypes.Float32)
	variance := ReduceAndKeep(Square(x32), ReduceMean, -1)
	// 1/Sqrt rather than Rsqrt: the Go backend has no Rsqrt gradient.
	normed := Mul(x32, Inverse(Sqrt(AddScalar(variance, eps))))
	w := n.weight(g, name+".weight")
	return Mul(BroadcastToDims(expandTo(w, x.Rank()), x.Shape().Dimensions...), ConvertDType(normed, dt))
}

// layerNorm is PyTorch's LayerNorm (eps 1e-6 in the vision tower), in float32.
func (n *net) layerNorm(x *Node, name string, eps float64) *Node {
	g := x.Graph()
	dt := x.DType()
	x32 := ConvertDType(x, dtypes.Float32)
	mean := ReduceAndKeep(x32, ReduceMean, -1)
	centred := Sub(x32, mean)
	variance := ReduceAndKeep(Square(centred), ReduceMean, -1)
	normed := Mul(centred, Inverse(Sqrt(AddScalar(variance, eps))))
	w := ConvertDType(n.weight(g, name+".weight"), dtypes.Float32)
	b := ConvertDType(n.weight(g, name+".bias"), dtypes.Float32)
	dims := x.Shape().Dimensions
	out := Add(Mul(normed, BroadcastToDims(expandTo(w, x.Rank()), dims...)), BroadcastToDims(expandTo(b, x.Rank()), dims...))
	return ConvertDType(out, dt)
}

// rotateHalf maps [x1, x2] to [-x2, x1] along the last axis.
func rotateHalf(x *Node) *Node {
	halves := Split(x, -1, 2)
	return Concatenate([]*Node{Neg(halves[1]), halves[0]}, -1)
}

// applyRotary applies cos/sin (already broadcastable to x) in float32, as
// the reference does, and returns x's dtype.
func applyRotary(x, cos, sin *Node) *Node {
	dt := x.DType()
	x32 := ConvertDType(x, dtypes.Float32)
	return ConvertDType(Add(Mul(x32, cos), Mul(rotateHalf(x32), sin)), dt)
}

// invFreq is 1/theta^(2i/dim) for i < dim/2, computed in float32 like the
// reference's torch expression.
func invFreq(g *Graph, dim int, theta float64) *Node {
	v := make([]float32, dim/2)
	for i := range v {
		v[i] = float32(1 / math.Pow(theta, float64(2*i)/float64(dim)))
	}
	return Const(g, v)
}

// attention runs softmax(q k^T / sqrt(d) + mask) v with q [B, H, Sq, D],
// k/v [B, KV, Sk, D] (grouped-query: each KV head serves H/KV query heads)
// and a boolean mask broadcastable to [B, H, Sq, Sk]. Scores and softmax are
// float32. Masked entries get a large negative bias rather than -inf, so a
// row with nothing to attend to (a left-padding query) stays finite instead
// of poisoning later layers with NaN.
func attention(q, k, v, mask *Node) *Node {
	dt := q.DType()
	b, h, d := q.Shape().Dimensions[0], q.Shape().Dimensions[1], q.Shape().Dimensions[3]
	kvh, sk := k.Shape().Dimensions[1], k.Shape().Dimensions[2]
	if kvh != h {
		rep := h / kvh
		k = Reshape(BroadcastToDims(InsertAxes(k, 2), b, kvh, rep, sk, d), b, h, sk, d)
		v = Reshape(BroadcastToDims(InsertAxes(v, 2), b, kvh, rep, sk, d), b, h, sk, d)
	}
	scores := Einsum("bhqd,bhkd->bhqk", ConvertDType(q, dtypes.Float32), ConvertDType(k, dtypes.Float32))
	scores = MulScalar(scores, 1/math.Sqrt(float64(d)))
	g := q.Graph()
	negInf := BroadcastToDims(Scalar(g, dtypes.Float32, -1e30), scores.Shape().Dimensions...)
	scores = Where(BroadcastToDims(mask, scores.Shape().Dimensions...), scores, negInf)
	probs := Softmax(scores, -1)
	return Einsum("bhqk,bhkd->bhqd", ConvertDType(probs, dt), v)
}

// causalAttention is the decoder's self-attention. Batches are right-padded
// (Batch.Validate), so for every real token the causal mask alone already
// leaves the padding out: padding only follows it. A causal mask is what
// fused attention kernels take (cuDNN flash attention on CUDA in bf16, the
// Go backend's fused op), so where the backend has one it is used; padding
// rows then attend to earlier padding, which no pooled token reads.
// Elsewhere the explicit masked form runs.
func (n *net) causalAttention(q, k, v, mask *Node) *Node {
	if !n.fused {
		return attention(q, k, v, mask)
	}
	out, _ := attn.Core(q, k, v, attn.LayoutBHSD, attn.CoreOptions{UseCausalMask: true})
	return out
}

// visionTower runs patches [N, patchDim] through the ViT and merger and
// returns merged features [N/merge², hidden]. rowCol [N, 2] holds each
// patch's rotary position; blockIndex [blocks, length] and blockSlot [N] are
// BlockLayout's map of patches to attention blocks.
func (n *net) visionTower(pixels, rowCol, blockIndex, blockSlot *Node) *Node {
	g := pixels.Graph()
	cfg := n.cfg
	vc := cfg.VisionConfig
	np := pixels.Shape().Dimensions[0]
	e, nh, hd := vc.EmbedDim, vc.NumHeads, cfg.VisionHeadDim()

	// The Conv3d with kernel = stride is a matmul over flattened patches.
	w := Reshape(n.weight(g, "visual.patch_embed.proj.weight"), e, cfg.PatchDim())
	x := Einsum("np,ep->ne", ConvertDType(pixels, w.DType()), w)

	// 2-D rotary: the first half of the rotary frequencies follow the row,
	// the second half the column; then duplicated for rotate_half.
	freq := invFreq(g, hd/2, 10000) // [hd/4]
	pos := ConvertDType(rowCol, dtypes.Float32)
	angles := Reshape(Einsum("np,f->npf", pos, freq), np, hd/2)
	angles = Concatenate([]*Node{angles, angles}, -1) // [N, hd]
	cos := Reshape(Cos(angles), 1, 1, np, hd)
	sin := Reshape(Sin(angles), 1, 1, np, hd)

	blocks, length := blockIndex.Shape().Dimensions[0], blockIndex.Shape().Dimensions[1]
	idx := ConvertDType(blockIndex, dtypes.Int32)
	slotValid := GreaterOrEqual(idx, ZerosLike(idx))                 // [blocks, length]
	gatherIdx := Reshape(Max(idx, ZerosLike(idx)), blocks*length, 1) // empty slots read patch 0, then are masked
	keyMask := BroadcastToDims(Reshape(slotValid, blocks, 1, 1, length), blocks, 1, length, length)
	scatterIdx := Reshape(ConvertDType(blockSlot, dtypes.Int32), np, 1)
	// toBlocks lays [N, heads, hd] rows out as [blocks, heads, length, hd].
	toBlocks := func(x *Node) *Node {
		xb := Reshape(Gather(x, gatherIdx), blocks, length, nh, hd)
		return TransposeAllDims(xb, 0, 2, 1, 3)
	}

	for i := 0; i < vc.Depth; i++ {
		p := fmt.Sprintf("visual.blocks.%d.", i)
		h := n.layerNorm(x, p+"norm1", 1e-6)
		qkv := Reshape(n.linear(h, p+"attn.qkv", true), np, 3, nh, hd)
		qkv = TransposeAllDims(qkv, 1, 2, 0, 3) // [3, nh, N, hd]
		parts := Split(qkv, 0, 3)
		q := applyRotary(parts[0], cos, sin) // [1, nh, N, hd]
		k := applyRotary(parts[1], cos, sin)
		rows := func(x *Node) *Node { return Reshape(TransposeAllDims(x, 0, 2, 1, 3), np, nh, hd) }
		a := attention(toBlocks(rows(q)), toBlocks(rows(k)), toBlocks(rows(parts[2])), keyMask) // [blocks, nh, length, hd]
		a = Reshape(TransposeAllDims(a, 0, 2, 1, 3), blocks*length, e)
		// Back to patch order; padding patches read the appended zero row.
		a = Concatenate([]*Node{a, ZerosLike(Slice(a, AxisRange(0, 1)))}, 0)
		a = Gather(a, scatterIdx)
		x = Add(x, n.linear(a, p+"attn.proj", true))
		h = n.layerNorm(x, p+"norm2", 1e-6)
		h = n.linear(h, p+"mlp.fc1", true)
		h = Mul(h, Sigmoid(MulScalar(h, 1.702))) // QuickGELU
		x = Add(x, n.linear(h, p+"mlp.fc2", true))
	}
	m2 := vc.SpatialMergeSize * vc.SpatialMergeSize
	x = n.layerNorm(x, "visual.merger.ln_q", 1e-6)
	x = Reshape(x, np/m2, e*m2)
	x = n.linear(x, "visual.merger.mlp.0", true)
	x = geluErf(x)
	return n.linear(x, "visual.merger.mlp.2", true)
}

// geluErf is the exact GELU, x/2 (1 + erf(x/sqrt 2)), PyTorch's nn.GELU().
func geluErf(x *Node) *Node {
	dt := x.DType()
	x32 := ConvertDType(x, dtypes.Float32)
	y := Mul(MulScalar(x32, 0.5), OnePlus(Erf(MulScalar(x32, 1/math.Sqrt2))))
	return ConvertDType(y, dt)
}

// mropeCosSin builds the decoder's rotary tables from position ids
// [3, B, S]: each rotary frequency takes its angle from the temporal, row or
// column axis according to mrope_section (the same split in both halves).
func mropeCosSin(cfg *Config, posIDs *Node) (cos, sin *Node) {
	g := posIDs.Graph()
	hd := cfg.HeadDim()
	b, s := posIDs.Shape().Dimensions[1], posIDs.Shape().Dimensions[2]
	freq := invFreq(g, hd, cfg.RopeTheta) // [hd/2]
	angles := Einsum("abs,f->absf", ConvertDType(posIDs, dtypes.Float32), freq)
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
	angles = Einsum("absf,af->bsf", angles, Const(g, sel))
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
	cfg, dt := n.cfg, n.dt
	b, s := ids.Shape().Dimensions[0], ids.Shape().Dimensions[1]
	h, nh, kvh, hd := cfg.HiddenSize, cfg.NumAttentionHeads, cfg.NumKeyValueHeads, cfg.HeadDim()

	emb := n.weight(g, "model.embed_tokens.weight")
	x := Gather(emb, Reshape(ConvertDType(ids, dtypes.Int32), b*s, 1)) // [B*S, H]
	if visual != nil {
		src := Reshape(ConvertDType(featSrc, dtypes.Int32), b*s)
		isVisual := GreaterOrEqual(src, ScalarZero(g, dtypes.Int32))
		vis := Gather(ConvertDType(visual, x.DType()), Reshape(Max(src, ScalarZero(g, dtypes.Int32)), b*s, 1))
		x = Where(BroadcastToDims(Reshape(isVisual, b*s, 1), b*s, h), vis, x)
	}
	x = Reshape(ConvertDType(x, dt), b, s, h)

	cos, sin := mropeCosSin(cfg, posIDs)
	// Causal and key-padding mask; a query always sees itself so rows of
	// padding keep a finite softmax.
	qi := Iota(g, shapes.Make(dtypes.Int32, s, s), 0)
	ki := Iota(g, shapes.Make(dtypes.Int32, s, s), 1)
	causal := BroadcastToDims(Reshape(GreaterOrEqual(qi, ki), 1, s, s), b, s, s)
	keyOK := BroadcastToDims(Reshape(valid, b, 1, s), b, s, s)
	self := BroadcastToDims(Reshape(Equal(qi, ki), 1, s, s), b, s, s)
	mask := Reshape(LogicalOr(LogicalAnd(causal, keyOK), self), b, 1, s, s)

	for i := 0; i < cfg.NumHiddenLayers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		r := n.rmsNorm(x, p+"input_layernorm", cfg.RMSNormEps)
		q := TransposeAllDims(Reshape(n.linear(r, p+"self_attn.q_proj", true), b, s, nh, hd), 0, 2, 1, 3)
		k := TransposeAllDims(Reshape(n.linear(r, p+"self_attn.k_proj", true), b, s, kvh, hd), 0, 2, 1, 3)
		v := TransposeAllDims(Reshape(n.linear(r, p+"self_attn.v_proj", true), b, s, kvh, hd), 0, 2, 1, 3)
		q, k = applyRotary(q, cos, sin), applyRotary(k, cos, sin)
		a := Reshape(TransposeAllDims(n.causalAttention(q, k, v, mask), 0, 2, 1, 3), b, s, nh*hd)
		x = Add(x, n.linear(a, p+"self_attn.o_proj", false))
		r = n.rmsNorm(x, p+"post_attention_layernorm", cfg.RMSNormEps)
		gate := n.linear(r, p+"mlp.gate_proj", false)
		up := n.linear(r, p+"mlp.up_proj", false)
		x = Add(x, n.linear(Mul(Mul(gate, Sigmoid(gate)), up), p+"mlp.down_proj", false))
	}
	// Only the pooled token matters: gather it before the final norm (a
	// per-token operation) and never build the LM head.
	flat := Reshape(x, b*s, h)
	rows := Add(MulScalar(Iota(g, shapes.Make(dtypes.Int32, b), 0), s), ConvertDType(pooled, dtypes.Int32))
	last := Gather(flat, Reshape(rows, b, 1)) // [B, H]
	return ConvertDType(n.rmsNorm(last, "model.norm", cfg.RMSNormEps), dtypes.Float32)
}

// l2Normalize divides each row by its Euclidean norm (PyTorch's
// F.normalize: the norm is clamped at 1e-12).
func l2Normalize(x *Node) *Node {
	norm := Sqrt(ReduceAndKeep(Square(x), ReduceSum, -1))
	return Div(x, Max(norm, BroadcastToDims(Scalar(x.Graph(), x.DType(), 1e-12), norm.Shape().Dimensions...)))
}
