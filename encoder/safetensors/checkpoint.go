package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexFile is the name of the shard index written next to sharded weights.
const IndexFile = "model.safetensors.index.json"

// Checkpoint is a set of tensors spread over one or more safetensors files.
type Checkpoint struct {
	files []*File
	where map[string]*File
	names []string
}

// OpenCheckpoint opens the weights of a Hugging Face checkpoint directory:
// model.safetensors.index.json with its shards if present, else
// model.safetensors, else adapter_model.safetensors (a PEFT adapter).
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	idx := filepath.Join(dir, IndexFile)
	if _, err := os.Stat(idx); err == nil {
		return openIndexed(dir, idx)
	}
	for _, name := range []string{"model.safetensors", "adapter_model.safetensors"} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return OpenFiles(p)
		}
	}
	return nil, fmt.Errorf("safetensors: %s has no %s, model.safetensors or adapter_model.safetensors", dir, IndexFile)
}

// OpenFiles opens several safetensors files as one checkpoint. A tensor name
// appearing in two files is an error.
func OpenFiles(paths ...string) (*Checkpoint, error) {
	c := &Checkpoint{where: map[string]*File{}}
	for _, p := range paths {
		f, err := Open(p)
		if err != nil {
			c.Close()
			return nil, err
		}
		c.files = append(c.files, f)
		for _, ti := range f.Header().Tensors {
			if prev, dup := c.where[ti.Name]; dup {
				c.Close()
				return nil, fmt.Errorf("safetensors: tensor %q is in both %s and %s", ti.Name, prev.Path(), p)
			}
			c.where[ti.Name] = f
			c.names = append(c.names, ti.Name)
		}
	}
	sort.Strings(c.names)
	return c, nil
}

type shardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

func openIndexed(dir, idxPath string) (*Checkpoint, error) {
	raw, err := os.ReadFile(idxPath)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var idx shardIndex
	if err := json.Unmarshal(raw, &idx); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w", idxPath, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("safetensors: %s has an empty weight_map", idxPath)
	}
	var shards []string
	seen := map[string]bool{}
	for name, shard := range idx.WeightMap {
		// Shards must live in the checkpoint directory: an index is data, and
		// data must not steer reads elsewhere on the machine.
		if shard == "" || filepath.Base(shard) != shard || strings.HasPrefix(shard, ".") {
			return nil, fmt.Errorf("safetensors: %s: tensor %q maps to shard %q outside the directory", idxPath, name, shard)
		}
		if !seen[shard] {
			seen[shard] = true
			shards = append(shards, filepath.Join(dir, shard))
		}
	}
	sort.Strings(shards)
	c, err := OpenFiles(shards...)
	if err != nil {
		return nil, err
	}
	// The index and the shards must agree exactly: a tensor listed but absent,
	// or present but unlisted, means a mixed-up download.
	for name, shard := range idx.WeightMap {
		f, ok := c.where[name]
		if !ok {
			c.Close()
			return nil, fmt.Errorf("safetensors: %s lists tensor %q in %s, which does not contain it", idxPath, name, shard)
		}
		if filepath.Base(f.Path()) != shard {
			c.Close()
			return nil, fmt.Errorf("safetensors: tensor %q is in %s but the index says %s", name, f.Path(), shard)
		}
	}
	if len(c.names) != len(idx.WeightMap) {
		for _, n := range c.names {
			if _, ok := idx.WeightMap[n]; !ok {
				c.Close()
				return nil, fmt.Errorf("safetensors: tensor %q in %s is not in %s", n, c.where[n].Path(), idxPath)
			}
		}
	}
	return c, nil
}

// Names lists the tensor names, sorted.
func (c *Checkpoint) Names() []string { return c.names }

// Info returns the header entry of the named tensor.
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	f, ok := c.where[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Read calls fn with a view of the named tensor's raw bytes (see File.Read).
func (c *Checkpoint) Read(name string, fn func(info TensorInfo, raw []byte) error) error {
	f, ok := c.where[name]
	if !ok {
		return fmt.Errorf("safetensors: checkpoint has no tensor %q", name)
	}
	return f.Read(name, fn)
}

// Close unmaps every file.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// Spec is what a model expects of one tensor.
type Spec struct {
	Shape []int
	// DTypes accepted; empty means any floating-point dtype.
	DTypes []DType
}

// Expect checks the checkpoint against the tensors a model needs. Every
// missing tensor, unexpected tensor, and shape or dtype mismatch is reported
// by name: a silently random-initialised weight is the classic bug of
// checkpoint loading, and this is where it is stopped.
func (c *Checkpoint) Expect(want map[string]Spec) error {
	return c.ExpectAs(want, nil)
}

// ExpectAs is Expect for models whose checkpoints come with more than one
// naming scheme: canonical maps a stored name to the name used in want
// (nil means identity). Two stored names with the same canonical name are
// an error.
func (c *Checkpoint) ExpectAs(want map[string]Spec, canonical func(string) string) error {
	var errs []error
	stored := map[string]TensorInfo{}
	for _, n := range c.names {
		key := n
		if canonical != nil {
			key = canonical(n)
		}
		if prev, dup := stored[key]; dup {
			errs = append(errs, fmt.Errorf("tensors %q and %q are the same weight under two names", prev.Name, n))
		}
		stored[key], _ = c.Info(n)
	}
	names := make([]string, 0, len(want))
	for n := range want {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		spec := want[n]
		info, ok := stored[n]
		if !ok {
			errs = append(errs, fmt.Errorf("missing tensor %q", n))
			continue
		}
		if !equalShape(info.Shape, spec.Shape) {
			errs = append(errs, fmt.Errorf("tensor %q has shape %v, want %v", n, info.Shape, spec.Shape))
		}
		if !dtypeAllowed(info.DType, spec.DTypes) {
			errs = append(errs, fmt.Errorf("tensor %q has dtype %s, want one of %v", n, info.DType, allowedList(spec.DTypes)))
		}
	}
	for _, n := range c.names {
		key := n
		if canonical != nil {
			key = canonical(n)
		}
		if _, ok := want[key]; !ok {
			errs = append(errs, fmt.Errorf("unexpected tensor %q", n))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("safetensors: checkpoint does not fit the model: %w", errors.Join(errs...))
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

var floatDTypes = []DType{F32, BF16, F16, F64}

func allowedList(ds []DType) []DType {
	if len(ds) == 0 {
		return floatDTypes
	}
	return ds
}

func dtypeAllowed(d DType, ds []DType) bool {
	for _, a := range allowedList(ds) {
		if a == d {
			return true
		}
	}
	return false
}
