package layers

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/encoder/safetensors"
)

// WeightSet describes the tensors one model's checkpoint must hold, by their
// canonical checkpoint names.
type WeightSet struct {
	// Expected maps every tensor name to its shape.
	Expected map[string][]int
	// Canonical maps a name as a checkpoint spells it to the canonical one
	// (families whose checkpoints circulate in several naming schemes); nil
	// is the identity.
	Canonical func(string) string
	// Unused tensors are checked for shape but not loaded (an LM head an
	// embedding model never runs).
	Unused map[string]bool
	// Prefix names the caller in errors ("qwen2vl").
	Prefix string
}

func (w WeightSet) canonical(name string) string {
	if w.Canonical == nil {
		return name
	}
	return w.Canonical(name)
}

// LinearModules lists the adaptable linear layers of the set: every 2-D
// weight except embedding tables and unused tensors, without ".weight".
func (w WeightSet) LinearModules(isEmbedding func(name string) bool) []string {
	var out []string
	for name, shape := range w.Expected {
		if len(shape) == 2 && !w.Unused[name] && !(isEmbedding != nil && isEmbedding(name)) && strings.HasSuffix(name, ".weight") {
			out = append(out, TrimWeight(name))
		}
	}
	sort.Strings(out)
	return out
}

// LoadWeights verifies that ckpt holds exactly the set's tensors (every one
// present, nothing unexpected, shapes right, whichever naming scheme), then
// creates one store variable per used tensor converted to dtype, with the
// adapter's layers (if any) merged in on the host in float32, as PEFT's
// merge_and_unload does. Errors name every discrepancy.
func LoadWeights(store *model.Store, ckpt *safetensors.Checkpoint, set WeightSet, dtype dtypes.DType, adapter *peft.Adapter) error {
	pre := set.Prefix
	if pre == "" {
		pre = "layers"
	}
	want := map[string]safetensors.Spec{}
	for n, shape := range set.Expected {
		want[n] = safetensors.Spec{Shape: shape, DTypes: []safetensors.DType{safetensors.F32, safetensors.BF16, safetensors.F16, safetensors.F64}}
	}
	if err := ckpt.ExpectAs(want, set.canonical); err != nil {
		return fmt.Errorf("%s: %w", pre, err)
	}
	actual := map[string]string{} // canonical -> name in the checkpoint
	for _, n := range ckpt.Names() {
		actual[set.canonical(n)] = n
	}
	merges := map[string]*peft.Layer{}
	if adapter != nil {
		for module, l := range adapter.Layers {
			name := set.canonical(module + ".weight")
			if shape, ok := set.Expected[name]; !ok || len(shape) != 2 {
				return fmt.Errorf("%s: adapter layer %s matches no linear weight of the model", pre, module)
			} else if shape[0] != l.Out || shape[1] != l.In {
				return fmt.Errorf("%s: adapter layer %s is [%d, %d], the model's weight is %v", pre, module, l.Out, l.In, shape)
			}
			merges[name] = l
		}
	}
	for canon := range set.Expected {
		if set.Unused[canon] {
			continue
		}
		var t *tensors.Tensor
		var err error
		if l, ok := merges[canon]; ok {
			t, err = merged(ckpt, actual[canon], l, adapter.Config.Scale(), dtype)
		} else {
			t, err = ckpt.Tensor(actual[canon], dtype)
		}
		if err != nil {
			return fmt.Errorf("%s: loading %s: %w", pre, canon, err)
		}
		if _, err := store.CreateVariable(VariablePath(canon), t); err != nil {
			return fmt.Errorf("%s: variable for %s: %w", pre, canon, err)
		}
	}
	return nil
}

// merged folds an adapter layer into a base weight, in float32 on the host.
func merged(ckpt *safetensors.Checkpoint, name string, l *peft.Layer, scale float64, dtype dtypes.DType) (*tensors.Tensor, error) {
	w, shape, err := ckpt.Float32s(name)
	if err != nil {
		return nil, err
	}
	m, err := l.Merge(w, scale)
	if err != nil {
		return nil, err
	}
	for k, v := range m {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("%s with the adapter merged: element %d: %w", name, k, safetensors.ErrNonFinite)
		}
	}
	return safetensors.Float32sToTensor(m, shape, dtype)
}

// LoadStore loads a checkpoint into a new store in the compute dtype dt
// (Float32 when unset; Float32 or BFloat16), through LoadWeights, and
// returns the dtype it resolved.
func LoadStore(ckpt *safetensors.Checkpoint, set WeightSet, dt dtypes.DType, adapter *peft.Adapter) (*model.Store, dtypes.DType, error) {
	if dt == dtypes.InvalidDType {
		dt = dtypes.Float32
	}
	if dt != dtypes.Float32 && dt != dtypes.BFloat16 {
		return nil, dt, fmt.Errorf("%s: dtype %s unsupported (Float32 or BFloat16)", set.Prefix, dt)
	}
	store := model.NewStore()
	if err := LoadWeights(store, ckpt, set, dt, adapter); err != nil {
		return nil, dt, err
	}
	return store, dt, nil
}
