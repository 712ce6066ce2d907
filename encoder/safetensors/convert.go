package safetensors

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
)

// Float32s returns the named tensor converted to float32 (from F32, BF16,
// F16 or F64) and its shape. The result is a fresh slice.
func (c *Checkpoint) Float32s(name string) ([]float32, []int, error) {
	var out []float32
	var shape []int
	err := c.Read(name, func(info TensorInfo, raw []byte) error {
		shape = info.Shape
		out = make([]float32, info.NumElements())
		return decodeFloat32(info, raw, out)
	})
	return out, shape, err
}

func decodeFloat32(info TensorInfo, raw []byte, out []float32) error {
	switch info.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case BF16:
		for i := range out {
			out[i] = bfloat16.BFloat16(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
	case F16:
		for i := range out {
			out[i] = float16.Float16(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:])))
		}
	default:
		return fmt.Errorf("safetensors: tensor %q has dtype %s, not a floating-point type", info.Name, info.DType)
	}
	return nil
}

// Tensor returns the named floating-point tensor as a GoMLX tensor of dtype
// want (Float32, BFloat16 or Float16), converting on the way (round to
// nearest even when narrowing, as PyTorch does). Same-dtype loads are a
// single copy out of the mapping. A NaN or infinite value (also one that
// F64 -> F32 narrowing makes infinite) is an error naming the file, the
// tensor and the element: weights like that only ever give NaN embeddings.
func (c *Checkpoint) Tensor(name string, want dtypes.DType) (*tensors.Tensor, error) {
	var t *tensors.Tensor
	err := c.Read(name, func(info TensorInfo, raw []byte) error {
		var err error
		t, err = toTensor(info, raw, want)
		return err
	})
	if err != nil && errors.Is(err, ErrNonFinite) {
		err = fmt.Errorf("%s: %w", c.where[name].path, err)
	}
	return t, err
}

// ErrNonFinite reports a weight tensor holding NaN or Inf.
var ErrNonFinite = errors.New("non-finite value")

// nonFinite returns the index of the first NaN or infinite element of a
// floating-point tensor's raw bytes, or -1: an all-ones exponent, checked
// on the integer bits (no conversion), a 64-bit word at a time until a
// word holds one.
func nonFinite(d DType, raw []byte) int {
	var mask, lanes, top uint64 // exponent mask per lane, lanes' low and top bits
	switch d {
	case F32:
		mask, lanes, top = 0x7f8000007f800000, 0x0000000100000001, 0x8000000080000000
	case BF16:
		mask, lanes, top = 0x7f807f807f807f80, 0x0001000100010001, 0x8000800080008000
	case F16:
		mask, lanes, top = 0x7c007c007c007c00, 0x0001000100010001, 0x8000800080008000
	}
	start := 0
	if mask != 0 {
		// A lane of (w & mask) ^ mask is zero exactly where the exponent is
		// all ones; the classic has-zero-lane test finds such a word. The
		// lanes' top bits are clear after the mask, so it has no false hits
		// across lanes.
		for ; start+8 <= len(raw); start += 8 {
			x := (binary.LittleEndian.Uint64(raw[start:]) & mask) ^ mask
			if (x-lanes)&^x&top != 0 {
				break
			}
		}
	}
	raw = raw[start:]
	base := start / d.Size()
	if k := nonFiniteScalar(d, raw); k >= 0 {
		return base + k
	}
	return -1
}

func nonFiniteScalar(d DType, raw []byte) int {
	switch d {
	case F32:
		for i := 0; i+4 <= len(raw); i += 4 {
			if binary.LittleEndian.Uint32(raw[i:])&0x7f800000 == 0x7f800000 {
				return i / 4
			}
		}
	case BF16:
		for i := 0; i+2 <= len(raw); i += 2 {
			if binary.LittleEndian.Uint16(raw[i:])&0x7f80 == 0x7f80 {
				return i / 2
			}
		}
	case F16:
		for i := 0; i+2 <= len(raw); i += 2 {
			if binary.LittleEndian.Uint16(raw[i:])&0x7c00 == 0x7c00 {
				return i / 2
			}
		}
	case F64:
		for i := 0; i+8 <= len(raw); i += 8 {
			if binary.LittleEndian.Uint64(raw[i:])&0x7ff0000000000000 == 0x7ff0000000000000 {
				return i / 8
			}
		}
	}
	return -1
}

func toTensor(info TensorInfo, raw []byte, want dtypes.DType) (*tensors.Tensor, error) {
	if k := nonFinite(info.DType, raw); k >= 0 {
		return nil, fmt.Errorf("safetensors: tensor %q element %d: %w (NaN or Inf)", info.Name, k, ErrNonFinite)
	}
	shape := shapes.Make(want, info.Shape...)
	if native, ok := nativeDType(info.DType); ok && native == want {
		t := tensors.FromShape(shape)
		err := t.MutableBytes(func(data []byte) { copy(data, raw) })
		return t, err
	}
	f32 := make([]float32, info.NumElements())
	if err := decodeFloat32(info, raw, f32); err != nil {
		return nil, err
	}
	if info.DType == F64 {
		for k, v := range f32 {
			if math.IsInf(float64(v), 0) {
				return nil, fmt.Errorf("safetensors: tensor %q element %d overflows float32: %w", info.Name, k, ErrNonFinite)
			}
		}
	}
	t, err := Float32sToTensor(f32, info.Shape, want)
	if err != nil {
		return nil, fmt.Errorf("safetensors: tensor %q: %w", info.Name, err)
	}
	return t, nil
}

// Float32sToTensor builds a GoMLX tensor of dtype want (Float32, BFloat16
// or Float16) from float32 values, rounding to nearest even when narrowing.
func Float32sToTensor(f32 []float32, shape []int, want dtypes.DType) (*tensors.Tensor, error) {
	switch want {
	case dtypes.Float32:
		return tensors.FromFlatDataAndDimensions(f32, shape...), nil
	case dtypes.BFloat16:
		return tensors.FromFlatDataAndDimensions(bfloat16.FromFloat32s(f32...), shape...), nil
	case dtypes.Float16:
		h := make([]float16.Float16, len(f32))
		for i, v := range f32 {
			h[i].SetFloat32(v)
		}
		return tensors.FromFlatDataAndDimensions(h, shape...), nil
	}
	return nil, fmt.Errorf("cannot convert float32 values to %s", want)
}

// nativeDType maps a safetensors dtype to the GoMLX dtype with the same bytes.
func nativeDType(d DType) (dtypes.DType, bool) {
	switch d {
	case F64:
		return dtypes.Float64, true
	case F32:
		return dtypes.Float32, true
	case F16:
		return dtypes.Float16, true
	case BF16:
		return dtypes.BFloat16, true
	case I64:
		return dtypes.Int64, true
	case I32:
		return dtypes.Int32, true
	case I16:
		return dtypes.Int16, true
	case I8:
		return dtypes.Int8, true
	case U8:
		return dtypes.Uint8, true
	case Bool:
		return dtypes.Bool, true
	}
	return dtypes.InvalidDType, false
}

// FromGoMLX maps a GoMLX dtype to its safetensors spelling.
func FromGoMLX(d dtypes.DType) (DType, error) {
	for _, st := range []DType{F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool} {
		if n, _ := nativeDType(st); n == d {
			return st, nil
		}
	}
	return "", fmt.Errorf("safetensors: no safetensors dtype for %s", d)
}
