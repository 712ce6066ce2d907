package torchbin

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/org/vlm2vec/encoder/safetensors"
)

// TestReadMatchesTorch: every tensor of a torch.save file (four dtypes, a
// view with a storage offset, a transpose, a scalar, an empty tensor) reads
// with torch's dtype, shape and values (scripts/goldens/torchbin).
func TestReadMatchesTorch(t *testing.T) {
	got, err := Read(filepath.Join("testdata", "state_dict.bin"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("testdata", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		DType  string    `json:"dtype"`
		Shape  []int     `json:"shape"`
		Values []float64 `json:"values"`
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	dts := map[string]safetensors.DType{"float32": safetensors.F32, "bfloat16": safetensors.BF16, "float16": safetensors.F16, "int64": safetensors.I64, "float64": safetensors.F64}
	if len(got) != len(want) {
		t.Fatalf("%d tensors, torch has %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Fatalf("%s missing", name)
		}
		if g.DType != dts[w.DType] || len(g.Shape) != len(w.Shape) {
			t.Fatalf("%s: %s %v, torch %s %v", name, g.DType, g.Shape, w.DType, w.Shape)
		}
		for i := range w.Shape {
			if g.Shape[i] != w.Shape[i] {
				t.Fatalf("%s: shape %v, torch %v", name, g.Shape, w.Shape)
			}
		}
		vals := decode(g)
		if len(vals) != len(w.Values) {
			t.Fatalf("%s: %d values, torch %d", name, len(vals), len(w.Values))
		}
		for i := range vals {
			if vals[i] != w.Values[i] {
				t.Fatalf("%s[%d] = %v, torch %v", name, i, vals[i], w.Values[i])
			}
		}
	}
}

func decode(t Tensor) []float64 {
	n := len(t.Data) / t.DType.Size()
	out := make([]float64, n)
	for i := range out {
		switch t.DType {
		case safetensors.F32:
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:])))
		case safetensors.F64:
			out[i] = math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:]))
		case safetensors.BF16:
			out[i] = float64(bfloat16.BFloat16(binary.LittleEndian.Uint16(t.Data[2*i:])).Float32())
		case safetensors.F16:
			out[i] = float64(float16.Float16(binary.LittleEndian.Uint16(t.Data[2*i:])).Float32())
		case safetensors.I64:
			out[i] = float64(int64(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
	}
	return out
}

// zipWith builds a torch.save-like archive with the given pickle.
func zipWith(t testing.TB, pkl []byte, storages map[string][]byte) *zip.Reader {
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data)
	}
	add("a/data.pkl", pkl)
	for k, v := range storages {
		add("a/data/"+k, v)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestHostilePickles: code-running globals, views past their storage,
// truncated pickles and non-dict roots are errors, not panics or calls.
func TestHostilePickles(t *testing.T) {
	for name, pkl := range map[string]string{
		"os.system":    "\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R.",
		"truncated":    "\x80\x02}q\x00(X\x05\x00\x00",
		"not a dict":   "\x80\x02K\x05.",
		"no stop":      "\x80\x02}",
		"bad opcode":   "\x80\x02\xff.",
		"memo unset":   "\x80\x02h\x07.",
		"past storage": "\x80\x02}(X\x01\x00\x00\x00actorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQK\x00K\x05\x85K\x01\x85\x89)tRu.",
	} {
		_, err := read(zipWith(t, []byte(pkl), map[string][]byte{"0": make([]byte, 8)}), name)
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzUnpickle(f *testing.F) {
	z, err := zip.OpenReader(filepath.Join("testdata", "state_dict.bin"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range z.File {
		if filepath.Base(e.Name) == "data.pkl" {
			b, err := readEntry(e, 1<<20)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	z.Close()
	storage := make([]byte, 64)
	f.Fuzz(func(t *testing.T, pkl []byte) {
		_, _ = unpickle(pkl, func(string) ([]byte, error) { return storage, nil })
	})
}
