package safetensors

import (
	"encoding/binary"
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
// single copy out of the mapping.
func (c *Checkpoint) Tensor(name string, want dtypes.DType) (*tensors.Tensor, error) {
	var t *tensors.Tensor
	err := c.Read(name, func(info TensorInfo, raw []byte) error {
		var err error
		t, err = toTensor(info, raw, want)
		return err
	})
	return t, err
}

func toTensor(info TensorInfo, raw []byte, want dtypes.DType) (*tensors.Tensor, error) {
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
