package layers

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // graph code reads best with the ops unqualified
	"github.com/gomlx/gomlx/ml/model"
)

// Net carries what every layer of one graph needs: the scope holding the
// weights, the compute dtype, the trainable adapter (nil for plain or merged
// weights) and whether the decoder attention goes through the backend's
// fused op.
type Net struct {
	Scope   *model.Scope
	DType   dtypes.DType
	Adapter *AdapterGraph
	Fused   bool
}

// VariablePath is where a checkpoint tensor lives in the GoMLX store: the
// dotted name with dots as scope separators, e.g.
// model.layers.0.self_attn.q_proj.weight -> /model/layers/0/self_attn/q_proj/weight.
func VariablePath(name string) string { return "/" + strings.ReplaceAll(name, ".", "/") }

// Weight returns the store variable holding a checkpoint tensor. A missing
// weight is a bug (loading verified the checkpoint), hence the panic.
func (n *Net) Weight(g *Graph, name string) *Node {
	v := n.Scope.Store().GetVariable(VariablePath(name))
	if v == nil {
		panic(fmt.Sprintf("layers: weight %q not loaded", name))
	}
	return v.ValueGraph(g)
}

// Linear is x @ W^T (+ b), PyTorch's nn.Linear with W stored [out, in]
// under name+".weight", plus the LoRA/DoRA branch when the layer is adapted.
func (n *Net) Linear(x *Node, name string, bias bool) *Node {
	if n.Adapter != nil && n.Adapter.Adapts(name) {
		return n.Adapter.linear(n, x, name, bias)
	}
	return n.PlainLinear(x, name, bias)
}

// PlainLinear is Linear without the adapter branch.
func (n *Net) PlainLinear(x *Node, name string, bias bool) *Node {
	g := x.Graph()
	w := n.Weight(g, name+".weight")
	dims := x.Shape().Dimensions
	out := w.Shape().Dimensions[0]
	y := Contract("ni,oi->no", Reshape(x, -1, dims[len(dims)-1]), w)
	y = Reshape(y, append(append([]int{}, dims[:len(dims)-1]...), out)...)
	if bias {
		b := n.Weight(g, name+".bias")
		y = Add(y, BroadcastToDims(ExpandTo(b, y.Rank()), y.Shape().Dimensions...))
	}
	return y
}

// ExpandTo prefixes x with unit axes up to the given rank: the Go backend
// wants binary-op operands of equal rank.
func ExpandTo(x *Node, rank int) *Node {
	for x.Rank() < rank {
		x = InsertAxes(x, 0)
	}
	return x
}
