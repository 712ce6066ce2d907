// Package torchbin reads the tensors of a PyTorch checkpoint written by
// torch.save (the zip format, PyTorch >= 1.6): a state dict of name ->
// tensor, such as the adapter_model.bin files of PEFT adapters on the Hub.
//
// The pickle inside is not executed: a small interpreter understands only
// the opcodes torch.save emits for a state dict, and only the globals that
// build one (collections.OrderedDict, torch._utils._rebuild_tensor_v2, the
// typed storages). Anything else is an error, so a hostile file cannot run
// code or claim memory beyond its own size.
package torchbin

import (
	"archive/zip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	"github.com/org/vlm2vec/encoder/safetensors"
)

// Tensor is one tensor of the state dict, contiguous in row-major order,
// little-endian.
type Tensor struct {
	DType safetensors.DType
	Shape []int
	Data  []byte
}

// maxEntry bounds one zip entry (a storage); adapters are megabytes, and
// this reader is not meant for multi-gigabyte model weights.
const maxEntry = 4 << 30

// Read returns the state dict in the torch.save zip file at p.
func Read(p string) (map[string]Tensor, error) {
	zr, err := zip.OpenReader(p)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: %w (not a torch.save zip file; the legacy format before PyTorch 1.6 is not read)", p, err)
	}
	defer zr.Close()
	return read(&zr.Reader, p)
}

func read(zr *zip.Reader, name string) (map[string]Tensor, error) {
	var prefix string
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
		if path.Base(f.Name) == "data.pkl" && strings.Count(f.Name, "/") == 1 {
			prefix = path.Dir(f.Name)
		}
	}
	if prefix == "" {
		return nil, fmt.Errorf("torchbin: %s has no <archive>/data.pkl", name)
	}
	if bo, ok := files[prefix+"/byteorder"]; ok {
		b, err := readEntry(bo, 16)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(string(b)) != "little" {
			return nil, fmt.Errorf("torchbin: %s is %q-endian; only little-endian checkpoints are read", name, b)
		}
	}
	pkl, err := readEntry(files[prefix+"/data.pkl"], 64<<20)
	if err != nil {
		return nil, err
	}
	storages := map[string][]byte{}
	load := func(key string) ([]byte, error) {
		if b, ok := storages[key]; ok {
			return b, nil
		}
		f, ok := files[prefix+"/data/"+key]
		if !ok {
			return nil, fmt.Errorf("torchbin: %s: storage %q missing", name, key)
		}
		b, err := readEntry(f, maxEntry)
		if err != nil {
			return nil, err
		}
		storages[key] = b
		return b, nil
	}
	root, err := unpickle(pkl, load)
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: %w", name, err)
	}
	d, ok := root.(*dict)
	if !ok {
		return nil, fmt.Errorf("torchbin: %s does not hold a state dict (a %T)", name, root)
	}
	out := map[string]Tensor{}
	for i, k := range d.keys {
		s, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("torchbin: %s: state dict key %v is not a string", name, k)
		}
		t, ok := d.vals[i].(Tensor)
		if !ok {
			return nil, fmt.Errorf("torchbin: %s: %q is a %T, not a tensor", name, s, d.vals[i])
		}
		if _, dup := out[s]; dup {
			return nil, fmt.Errorf("torchbin: %s: %q appears twice", name, s)
		}
		out[s] = t
	}
	return out, nil
}

func readEntry(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("torchbin: entry %s is %d bytes, over the %d limit", f.Name, f.UncompressedSize64, limit)
	}
	r, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: %w", f.Name, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("torchbin: %s: %w", f.Name, err)
	}
	if int64(len(b)) > limit || uint64(len(b)) != f.UncompressedSize64 {
		return nil, fmt.Errorf("torchbin: %s: %d bytes, the directory says %d", f.Name, len(b), f.UncompressedSize64)
	}
	return b, nil
}

// Names lists a state dict's names, sorted.
func Names(m map[string]Tensor) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
