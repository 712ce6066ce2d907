// Package safetensors reads and writes Hugging Face safetensors files:
// single files, sharded checkpoints with model.safetensors.index.json, and
// the adapters PEFT saves.
//
// Files are memory-mapped; a tensor's bytes are a view into the mapping until
// they are converted. Every structural fault of a hostile or truncated file
// (header length past the end, offsets outside the data, overlapping or
// leaky tensors, unknown dtypes, absurd shapes) is an error that names the
// tensor, never a panic.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"sort"
)

// DType is a safetensors element type, spelled as in the file header.
type DType string

// The element types this package understands.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size is the byte size of one element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// MaxHeaderSize bounds the JSON header. The reference implementation uses
// 100 MB; a larger length prefix is a corrupt or hostile file.
const MaxHeaderSize = 100 << 20

// maxRank bounds tensor rank; real checkpoints stay below 8.
const maxRank = 16

// TensorInfo describes one tensor of a file: its header entry.
type TensorInfo struct {
	Name  string
	DType DType
	Shape []int
	// Begin and End are byte offsets into the data section (after the header).
	Begin, End int64
}

// NumElements is the product of the shape (1 for a scalar).
func (ti TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range ti.Shape {
		n *= int64(d)
	}
	return n
}

// Header is a parsed safetensors header.
type Header struct {
	// Tensors in file order (sorted by data offset).
	Tensors []TensorInfo
	// Metadata is the optional "__metadata__" string map.
	Metadata map[string]string
	// DataOffset is where the data section starts in the file: 8 + header length.
	DataOffset int64
}

type rawEntry struct {
	DType       DType    `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

// duplicateKey returns the first top-level key of a JSON object that
// appears twice, or "".
func duplicateKey(raw []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return "", err
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", err
		}
		key, _ := tok.(string)
		if seen[key] {
			return key, nil
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", err
		}
	}
	return "", nil
}

// ParseHeader parses and validates the header of a safetensors file whose
// first bytes are prefix and whose total size is fileSize. prefix must hold
// at least the 8-byte length and the header itself.
//
// Validation follows the format's rules strictly: the tensors must tile the
// data section exactly (no gaps, no overlap, nothing past the end), each
// tensor's byte length must equal its element count times its dtype size.
func ParseHeader(prefix []byte, fileSize int64) (*Header, error) {
	if fileSize < 8 || len(prefix) < 8 {
		return nil, fmt.Errorf("safetensors: file is %d bytes, too short for the 8-byte header length", fileSize)
	}
	n := binary.LittleEndian.Uint64(prefix[:8])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if int64(n) > fileSize-8 {
		return nil, fmt.Errorf("safetensors: header length %d runs past the end of the %d-byte file (truncated?)", n, fileSize)
	}
	if uint64(len(prefix)-8) < n {
		return nil, fmt.Errorf("safetensors: need %d header bytes, have %d", n, len(prefix)-8)
	}
	raw := prefix[8 : 8+n]
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	}
	if dup, err := duplicateKey(raw); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	} else if dup != "" {
		// A map keeps the last entry; which tensor a reader meant is then a
		// guess.
		return nil, fmt.Errorf("safetensors: header names %q twice", dup)
	}
	h := &Header{DataOffset: 8 + int64(n)}
	dataSize := fileSize - h.DataOffset
	for name, msg := range entries {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &h.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: __metadata__ must map strings to strings: %w", err)
			}
			continue
		}
		var e rawEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: bad header entry: %w", name, err)
		}
		ti, err := checkEntry(name, e, dataSize)
		if err != nil {
			return nil, err
		}
		h.Tensors = append(h.Tensors, ti)
	}
	sort.Slice(h.Tensors, func(i, j int) bool {
		a, b := h.Tensors[i], h.Tensors[j]
		if a.Begin != b.Begin {
			return a.Begin < b.Begin
		}
		return a.Name < b.Name
	})
	// The tensors must tile [0, dataSize) exactly: the same rule the reference
	// reader enforces, which catches overlaps, gaps and trailing garbage alike.
	var pos int64
	for i, ti := range h.Tensors {
		if ti.Begin != pos {
			if ti.Begin < pos {
				return nil, fmt.Errorf("safetensors: tensor %q [%d,%d) overlaps %q", ti.Name, ti.Begin, ti.End, h.Tensors[i-1].Name)
			}
			return nil, fmt.Errorf("safetensors: gap of %d bytes before tensor %q at offset %d", ti.Begin-pos, ti.Name, ti.Begin)
		}
		pos = ti.End
	}
	if pos != dataSize {
		return nil, fmt.Errorf("safetensors: tensors cover %d bytes but the data section has %d (truncated or trailing bytes)", pos, dataSize)
	}
	return h, nil
}

func checkEntry(name string, e rawEntry, dataSize int64) (TensorInfo, error) {
	ti := TensorInfo{Name: name, DType: e.DType, Begin: e.DataOffsets[0], End: e.DataOffsets[1]}
	size := e.DType.Size()
	if size == 0 {
		return ti, fmt.Errorf("safetensors: tensor %q: unsupported dtype %q", name, e.DType)
	}
	if len(e.Shape) > maxRank {
		return ti, fmt.Errorf("safetensors: tensor %q: rank %d exceeds %d", name, len(e.Shape), maxRank)
	}
	elems := uint64(1)
	ti.Shape = make([]int, len(e.Shape))
	for i, d := range e.Shape {
		if d < 0 || d > math.MaxInt32 {
			return ti, fmt.Errorf("safetensors: tensor %q: dimension %d is %d", name, i, d)
		}
		hi, lo := bits.Mul64(elems, uint64(d))
		if hi != 0 || lo > math.MaxInt64/8 {
			return ti, fmt.Errorf("safetensors: tensor %q: shape %v is absurdly large", name, e.Shape)
		}
		elems = lo
		ti.Shape[i] = int(d)
	}
	if ti.Begin < 0 || ti.End < ti.Begin {
		return ti, fmt.Errorf("safetensors: tensor %q: bad data offsets [%d,%d)", name, ti.Begin, ti.End)
	}
	if ti.End > dataSize {
		return ti, fmt.Errorf("safetensors: tensor %q: data [%d,%d) runs past the %d-byte data section (truncated?)", name, ti.Begin, ti.End, dataSize)
	}
	if want := elems * uint64(size); uint64(ti.End-ti.Begin) != want {
		return ti, fmt.Errorf("safetensors: tensor %q: %s%v needs %d bytes, offsets give %d", name, e.DType, e.Shape, want, ti.End-ti.Begin)
	}
	return ti, nil
}
