package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/gomlx/core/tensors"
)

func writeTestFile(t *testing.T, path string, ts ...TensorData) {
	t.Helper()
	if err := Write(path, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
}

func bf16Tensor(name string, shape []int, vals []float32) TensorData {
	buf := make([]byte, 2*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint16(buf[2*i:], bfloat16.FromFloat32(v).Bits())
	}
	return TensorData{Name: name, DType: BF16, Shape: shape, Data: buf}
}

func TestRoundTripDTypes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "model.safetensors")
	vals := []float32{1, -2.5, 3.25, 1e-3, 65504, -0.0}
	ids := make([]byte, 8*3)
	for i, v := range []int64{7, -1, 1 << 40} {
		binary.LittleEndian.PutUint64(ids[8*i:], uint64(v))
	}
	writeTestFile(t, p,
		Float32Tensor("model.embed_tokens.weight", []int{2, 3}, vals),
		bf16Tensor("model.norm.weight", []int{6}, vals),
		TensorData{Name: "position_ids", DType: I64, Shape: []int{3}, Data: ids},
		Float32Tensor("scalar", nil, []float32{42}),
	)
	c, err := OpenCheckpoint(filepath.Dir(p))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := strings.Join(c.Names(), ","); got != "model.embed_tokens.weight,model.norm.weight,position_ids,scalar" {
		t.Fatalf("names %s", got)
	}
	got, shape, err := c.Float32s("model.embed_tokens.weight")
	if err != nil || len(shape) != 2 || shape[0] != 2 || shape[1] != 3 {
		t.Fatalf("shape %v err %v", shape, err)
	}
	for i := range vals {
		if math.Float32bits(got[i]) != math.Float32bits(vals[i]) {
			t.Errorf("f32[%d] = %v want %v", i, got[i], vals[i])
		}
	}
	got, _, err = c.Float32s("model.norm.weight")
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if want := bfloat16.FromFloat32(v).Float32(); got[i] != want {
			t.Errorf("bf16[%d] = %v want %v", i, got[i], want)
		}
	}
	if _, _, err := c.Float32s("position_ids"); err == nil {
		t.Error("I64 as float32 should be an error")
	}
	// GoMLX conversions: bf16 kept as bf16 is a byte copy; f32 narrowed to bf16 rounds.
	tb, err := c.Tensor("model.norm.weight", dtypes.BFloat16)
	if err != nil {
		t.Fatal(err)
	}
	tensors.MustConstFlatData(tb, func(flat []bfloat16.BFloat16) {
		for i, v := range vals {
			if flat[i] != bfloat16.FromFloat32(v) {
				t.Errorf("bf16 tensor[%d] = %v", i, flat[i])
			}
		}
	})
	tf, err := c.Tensor("model.embed_tokens.weight", dtypes.BFloat16)
	if err != nil {
		t.Fatal(err)
	}
	if tf.Shape().String() != "(BFloat16)[2, 3]" {
		t.Errorf("shape %s", tf.Shape())
	}
	ts, err := c.Tensor("scalar", dtypes.Float32)
	if err != nil || tensors.ToScalar[float32](ts) != 42 {
		t.Errorf("scalar: %v %v", ts, err)
	}
	f, _ := Open(p)
	defer f.Close()
	if f.Header().Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Header().Metadata)
	}
	if f.Header().DataOffset%8 != 0 {
		t.Errorf("data section at %d is not 8-byte aligned", f.Header().DataOffset)
	}
}

func TestSharded(t *testing.T) {
	dir := t.TempDir()
	writeTestFile(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), Float32Tensor("a.weight", []int{2}, []float32{1, 2}))
	writeTestFile(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), Float32Tensor("b.weight", []int{1}, []float32{3}))
	writeIndex := func(m map[string]string) {
		raw, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 12}, "weight_map": m})
		if err := os.WriteFile(filepath.Join(dir, IndexFile), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeIndex(map[string]string{"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00002-of-00002.safetensors"})
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, _, err := c.Float32s("b.weight")
	if err != nil || v[0] != 3 {
		t.Fatalf("b.weight %v %v", v, err)
	}
	if err := c.Expect(map[string]Spec{"a.weight": {Shape: []int{2}}, "b.weight": {Shape: []int{1}}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := c.Read("a.weight", func(TensorInfo, []byte) error { return nil }); err != ErrClosed {
		t.Errorf("read after close: %v", err)
	}

	for name, tc := range map[string]struct {
		m    map[string]string
		want string
	}{
		"listed but absent": {map[string]string{"a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00001-of-00002.safetensors"}, `lists tensor "b.weight" in model-00001-of-00002.safetensors, which does not contain it`},
		"unlisted":          {map[string]string{"b.weight": "model-00002-of-00002.safetensors", "a.weight": "model-00002-of-00002.safetensors"}, `lists tensor "a.weight"`},
		"escapes dir":       {map[string]string{"a.weight": "../x.safetensors"}, "outside the directory"},
		"missing shard":     {map[string]string{"a.weight": "nope.safetensors"}, "no such file"},
	} {
		writeIndex(tc.m)
		_, err := OpenCheckpoint(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, tc.want)
		}
	}
}

func TestExpectNamesEveryProblem(t *testing.T) {
	p := filepath.Join(t.TempDir(), "model.safetensors")
	writeTestFile(t, p,
		Float32Tensor("q.weight", []int{2, 2}, make([]float32, 4)),
		Float32Tensor("extra.bias", []int{1}, []float32{0}),
		TensorData{Name: "ids", DType: I64, Shape: []int{1}, Data: make([]byte, 8)},
	)
	c, err := OpenFiles(p)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Expect(map[string]Spec{
		"q.weight": {Shape: []int{2, 3}},
		"k.weight": {Shape: []int{2}},
		"ids":      {Shape: []int{1}},
	})
	if err == nil {
		t.Fatal("expected an error")
	}
	for _, want := range []string{`missing tensor "k.weight"`, `"q.weight" has shape [2 2], want [2 3]`, `unexpected tensor "extra.bias"`, `"ids" has dtype I64`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// header builds a raw file: length prefix, header JSON, data bytes.
func rawFile(header string, data int) []byte {
	b := make([]byte, 8, 8+len(header)+data)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func TestHostileHeaders(t *testing.T) {
	for name, tc := range map[string]struct {
		file []byte
		want string
	}{
		"empty":             {nil, "too short"},
		"length past end":   {append([]byte{255, 0, 0, 0, 0, 0, 0, 0}, "{}"...), "runs past the end"},
		"huge length":       {[]byte{0, 0, 0, 0, 0, 0, 0, 1}, "exceeds"},
		"bad json":          {rawFile(`{"a":`, 0), "not a JSON object"},
		"not object":        {rawFile(`[1,2]`, 0), "not a JSON object"},
		"bad entry":         {rawFile(`{"a":{"dtype":"F32","shape":"x","data_offsets":[0,4]}}`, 4), `tensor "a": bad header entry`},
		"unknown dtype":     {rawFile(`{"a":{"dtype":"F8_E9","shape":[1],"data_offsets":[0,1]}}`, 1), "unsupported dtype"},
		"negative dim":      {rawFile(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, 4), "dimension 0 is -1"},
		"absurd shape":      {rawFile(`{"a":{"dtype":"F32","shape":[2147483647,2147483647,2147483647],"data_offsets":[0,4]}}`, 4), "absurdly large"},
		"offsets past data": {rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "runs past"},
		"reversed offsets":  {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`, 4), "bad data offsets"},
		"size mismatch":     {rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), "needs 8 bytes"},
		"overlap":           {rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "overlaps"},
		"gap":               {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), "gap of 4 bytes"},
		"trailing bytes":    {rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 12), "trailing"},
		"bad metadata":      {rawFile(`{"__metadata__":{"a":1}}`, 0), "__metadata__"},
	} {
		_, err := ParseHeader(tc.file, int64(len(tc.file)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want error containing %q", name, err, tc.want)
		}
	}
}

func TestTruncatedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "model.safetensors")
	writeTestFile(t, p, Float32Tensor("w", []int{64}, make([]float32, 64)))
	raw, _ := os.ReadFile(p)
	for _, cut := range []int{len(raw) - 1, len(raw) - 100, 20, 7, 0} {
		if err := os.WriteFile(p, raw[:cut], 0o644); err != nil {
			t.Fatal(err)
		}
		if f, err := Open(p); err == nil {
			f.Close()
			t.Errorf("file truncated to %d bytes opened without error", cut)
		}
	}
}

func TestWriteRejectsBadInput(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.safetensors")
	for _, ts := range [][]TensorData{
		{{Name: "a", DType: F32, Shape: []int{2}, Data: make([]byte, 4)}},
		{{Name: "a", DType: "Q4", Shape: []int{1}, Data: make([]byte, 1)}},
		{Float32Tensor("a", []int{1}, []float32{1}), Float32Tensor("a", []int{1}, []float32{1})},
		{Float32Tensor("__metadata__", []int{1}, []float32{1})},
	} {
		if err := Write(p, ts, nil); err == nil {
			t.Errorf("Write(%v) succeeded", ts[0].Name)
		}
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("a failed Write left a file behind")
	}
}

// FuzzParseHeader feeds arbitrary bytes to the header parser: it must return
// an error or a header whose tensors lie inside the file, never panic.
func FuzzParseHeader(f *testing.F) {
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, 4))
	f.Add(rawFile(`{"__metadata__":{"format":"pt"},"b":{"dtype":"BF16","shape":[2,1],"data_offsets":[0,4]}}`, 4))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I64","shape":[],"data_offsets":[8,16]}}`, 16))
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, '{'})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b, int64(len(b)))
		if err != nil {
			return
		}
		for _, ti := range h.Tensors {
			if ti.Begin < 0 || h.DataOffset+ti.End > int64(len(b)) {
				t.Fatalf("tensor %q [%d,%d) outside a %d-byte file", ti.Name, ti.Begin, ti.End, len(b))
			}
		}
	})
}

// TestDuplicateHeaderKeys: a header naming a tensor twice (even with equal
// entries, which would tile the data) is refused, as is a repeated
// __metadata__.
func TestDuplicateHeaderKeys(t *testing.T) {
	for _, h := range []string{
		`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`,
		`{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"__metadata__":{}}`,
	} {
		raw := rawFile(h, 4)
		if _, err := ParseHeader(raw, int64(len(raw))); err == nil || !strings.Contains(err.Error(), "twice") {
			t.Errorf("%s: error %v", h, err)
		}
	}
}
