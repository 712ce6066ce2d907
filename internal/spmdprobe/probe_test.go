package spmdprobe

import (
	"testing"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/org/vlm2vec/internal/testutil"
)

func TestProbe(t *testing.T) {
	b := testutil.Backend(t)
	t.Logf("backend %s devices %d", b.Name(), b.NumDevices())
	mesh, err := distributed.NewDeviceMesh([]int{4}, []string{"data"})
	if err != nil {
		t.Fatal(err)
	}
	g := graph.NewGraph(b, "probe")
	if err := g.SetSPMD(mesh); err != nil {
		t.Fatal(err)
	}
	x := graph.Parameter(g, "x", shapes.Make(dtypes.Float32, 2))
	r := g.Distributed().AllReduceOne(x, compute.ReduceOpSum)
	if err := g.Compile(r); err != nil {
		t.Fatal(err)
	}
	out := g.Run([]float32{1, 2}, []float32{10, 20}, []float32{100, 200}, []float32{1000, 2000})
	for i, o := range out {
		t.Logf("dev %d: %v", i, o.Value())
	}
}
