package gradcache

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/distributed"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/dtensor"
	"github.com/gomlx/gomlx/ml/model"
)

// Data parallelism, the way VLM2Vec trains on several GPUs: each device
// holds a replica of the weights and computes on its share of every chunk,
// and the loss sees the whole (global) batch, so the in-batch negatives grow
// with the device count.
//
// It runs on GoMLX's AutoSharding: the two chunk passes are the single-device
// programs, compiled once for a mesh of devices with the chunk's rows split
// over them and the weights and gradient accumulators replicated. XLA's
// partitioner (Shardy) places the work and inserts the collectives: the
// gathers the vision tower's per-image attention needs, and the all-reduce
// that sums each device's share of the parameter gradient into the
// replicated accumulators. The loss runs on the gathered embeddings of the
// whole batch, which is what VLM2Vec's cross-device loss computes
// (loss.DistributedInfoNCE, checked equal in package loss). Because every
// program is written for the global batch, the result equals one device's
// by construction; the device count only changes where the work runs.
//
// GoMLX's other strategy, SPMD with explicit collectives, cannot be used
// with stored variables on go-xla v0.4.13: it gives every variable a
// replicated sharding spec, and the XLA builder rejects a sharded parameter
// in SPMD mode ("mesh not found").

// DataAxis names the device mesh's one axis.
const DataAxis = "data"

// Sharder is implemented by models that say how a chunk's inputs split over
// devices: ShardAxes returns, for each of a chunk's inputs, the axis to
// split (-1 keeps the input whole on every device). The split only decides
// where work runs, never the result. Without it, GradCache splits axis 0.
type Sharder interface {
	ShardAxes(inputs []any) []int
}

// NewDataParallel prepares GradCache that trains m on the first `devices`
// devices of its backend at once (XLA; the Go backend has one device). It
// takes the same chunks as New, built for the global batch: every chunk's
// row count (real plus filler rows) must be a multiple of `devices`, and
// each device computes its rows of every chunk. The loss is the
// single-device loss on the whole batch.
func NewDataParallel(m Model, lossFn LossFn, devices int) (*GradCache, error) {
	if devices < 1 {
		return nil, fmt.Errorf("gradcache: %d devices", devices)
	}
	if have := m.Backend().NumDevices(); have < devices {
		return nil, fmt.Errorf("gradcache: data parallelism over %d devices, but backend %q has %d "+
			"(the Go backend has one; XLA's CPU plugin has several, see docs/backends.md)",
			devices, m.Backend().Name(), have)
	}
	gc, err := New(m, lossFn)
	if err != nil || devices == 1 {
		return gc, err
	}
	if gc.mesh, err = distributed.NewDeviceMesh([]int{devices}, []string{DataAxis}); err != nil {
		return nil, fmt.Errorf("gradcache: %w", err)
	}
	gc.sharded = map[string]*model.Exec{}
	return gc, nil
}

// Devices is the number of devices the GradCache trains on (1 unless made
// by NewDataParallel with more).
func (gc *GradCache) Devices() int {
	if gc.mesh == nil {
		return 1
	}
	return gc.mesh.NumDevices()
}

// The two chunk passes.
const (
	passEmbed = "embed"
	passBack  = "back"
)

// run executes one chunk pass. args are the pass's inputs: the chunk's
// inputs, its seeds, and for passBack the gradient rows. It returns the
// outputs (of the first device, when data-parallel: the embedding output is
// replicated, so all devices hold the same).
func (gc *GradCache) run(pass string, args []any) ([]*tensors.Tensor, error) {
	if gc.mesh == nil {
		if pass == passEmbed {
			return gc.embedExec.Exec(args...)
		}
		return gc.backExec.Exec(args...)
	}
	ts := make([]*tensors.Tensor, len(args))
	for i, a := range args {
		t, ok := a.(*tensors.Tensor)
		if !ok {
			var err error
			if t, err = tensors.FromAnyValue(a); err != nil {
				return nil, fmt.Errorf("input %d: %w", i, err)
			}
		}
		ts[i] = t
	}
	specs, key, err := gc.specs(pass, ts)
	if err != nil {
		return nil, err
	}
	exec := gc.sharded[key]
	if exec == nil {
		if pass == passEmbed {
			exec = gc.newEmbedExec()
		} else {
			exec = gc.newBackExec()
		}
		// Outputs (embeddings, updated accumulators) are replicated: every
		// device ends with the whole.
		exec.AutoSharding(gc.mesh).WithInputShardingSpecs(specs...).
			WithOutputShardingSpecs(distributed.NewReplicatedShardingSpec(gc.mesh))
		gc.sharded[key] = exec
	}
	// Arguments go device by device: each device's shard of a split input,
	// the whole tensor for a replicated one.
	perDevice := make([][]any, gc.Devices())
	for i, t := range ts {
		if specs[i] == nil {
			// One copy per device: a tensor moved to one device is not
			// moved again to another.
			for d := range perDevice {
				c := t
				if d > 0 {
					var err error
					if c, err = t.LocalClone(); err != nil {
						return nil, err
					}
				}
				perDevice[d] = append(perDevice[d], c)
			}
			continue
		}
		dt, err := dtensor.ShardTensor(specs[i], t)
		if err != nil {
			return nil, fmt.Errorf("splitting input %d %s: %w", i, t.Shape(), err)
		}
		for d, shard := range dt.Shards() {
			perDevice[d] = append(perDevice[d], shard)
		}
	}
	var flat []any
	for _, a := range perDevice {
		flat = append(flat, a...)
	}
	out, err := exec.Exec(flat...)
	if err != nil {
		return nil, err
	}
	per := len(out) / gc.Devices()
	for _, o := range out[per:] {
		o.MustFinalizeAll()
	}
	return out[:per], nil
}

// specs picks each input's sharding: the model's axes (or axis 0), the
// seeds and gradient rows by row, and replication where an axis does not
// divide evenly. key names the layout, one compiled program each.
func (gc *GradCache) specs(pass string, ts []*tensors.Tensor) ([]*distributed.ShardingSpec, string, error) {
	extra := 1 // seeds
	if pass == passBack {
		extra = 2 // seeds, gradient rows
	}
	nIn := len(ts) - extra
	rows := ts[nIn].Shape().Dimensions[0]
	if rows%gc.Devices() != 0 {
		return nil, "", fmt.Errorf("a chunk of %d rows does not split over %d devices (make chunk sizes a multiple of the device count)",
			rows, gc.Devices())
	}
	axes := make([]int, len(ts)) // seeds and gradient rows split along axis 0
	if s, ok := gc.m.(Sharder); ok {
		inputs := make([]any, nIn)
		for i := range inputs {
			inputs[i] = ts[i]
		}
		a := s.ShardAxes(inputs)
		if len(a) != nIn {
			return nil, "", fmt.Errorf("the model gave %d shard axes for %d inputs", len(a), nIn)
		}
		copy(axes, a)
	}
	specs := make([]*distributed.ShardingSpec, len(ts))
	var key strings.Builder
	key.WriteString(pass)
	for i, t := range ts {
		ax := axes[i]
		if ax >= t.Shape().Rank() || (ax >= 0 && t.Shape().Dimensions[ax]%gc.Devices() != 0) {
			ax = -1
		}
		fmt.Fprintf(&key, ",%d", ax)
		if ax < 0 {
			continue
		}
		b := distributed.BuildSpec(gc.mesh)
		for k := 0; k < ax; k++ {
			b = b.R()
		}
		var err error
		if specs[i], err = b.S(DataAxis).Done(); err != nil {
			return nil, "", err
		}
	}
	return specs, key.String(), nil
}
