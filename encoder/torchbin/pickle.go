package torchbin

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/org/vlm2vec/encoder/safetensors"
)

// The values the interpreter builds.
type (
	tuple  []any
	list   []any
	global struct{ module, name string }
	// dict keeps insertion order, as the OrderedDict of a state dict does.
	dict struct {
		keys, vals []any
	}
	storage struct {
		dtype safetensors.DType
		data  []byte
		numel int
	}
)

type mark struct{}

// storageTypes maps torch's typed storages to dtypes.
var storageTypes = map[string]safetensors.DType{
	"FloatStorage": safetensors.F32, "DoubleStorage": safetensors.F64, "HalfStorage": safetensors.F16,
	"BFloat16Storage": safetensors.BF16, "LongStorage": safetensors.I64, "IntStorage": safetensors.I32,
	"ShortStorage": safetensors.I16, "CharStorage": safetensors.I8, "ByteStorage": safetensors.U8, "BoolStorage": safetensors.Bool,
}

var errTrunc = errors.New("truncated pickle")

// maxOps bounds the work of one pickle (a state dict of thousands of
// tensors takes well under a million opcodes).
const maxOps = 1 << 24

// unpickle runs the state-dict subset of the pickle protocol (0-5) over
// data; load returns a storage's bytes by its key.
func unpickle(data []byte, load func(key string) ([]byte, error)) (any, error) {
	var stack []any
	memo := map[int]any{}
	pos := 0
	next := func(n int) ([]byte, error) {
		if n < 0 || pos+n > len(data) {
			return nil, errTrunc
		}
		b := data[pos : pos+n]
		pos += n
		return b, nil
	}
	pop := func() (any, error) {
		if len(stack) == 0 {
			return nil, errors.New("pickle stack underflow")
		}
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if _, ok := v.(mark); ok {
			return nil, errors.New("pickle: a mark where a value was expected")
		}
		return v, nil
	}
	popMark := func() ([]any, error) {
		for i := len(stack) - 1; i >= 0; i-- {
			if _, ok := stack[i].(mark); ok {
				items := append([]any(nil), stack[i+1:]...)
				stack = stack[:i]
				return items, nil
			}
		}
		return nil, errors.New("pickle: no mark")
	}
	str := func(n int) (string, error) {
		b, err := next(n)
		return string(b), err
	}
	for ops := 0; ; ops++ {
		if ops > maxOps {
			return nil, errors.New("pickle too long")
		}
		b, err := next(1)
		if err != nil {
			return nil, err
		}
		switch op := b[0]; op {
		case 0x80: // PROTO
			if _, err := next(1); err != nil {
				return nil, err
			}
		case 0x95: // FRAME
			if _, err := next(8); err != nil {
				return nil, err
			}
		case '.': // STOP
			return pop()
		case '(':
			stack = append(stack, mark{})
		case 'N':
			stack = append(stack, nil)
		case 0x88, 0x89: // NEWTRUE, NEWFALSE
			stack = append(stack, op == 0x88)
		case 'K':
			v, err := next(1)
			if err != nil {
				return nil, err
			}
			stack = append(stack, int64(v[0]))
		case 'M':
			v, err := next(2)
			if err != nil {
				return nil, err
			}
			stack = append(stack, int64(binary.LittleEndian.Uint16(v)))
		case 'J':
			v, err := next(4)
			if err != nil {
				return nil, err
			}
			stack = append(stack, int64(int32(binary.LittleEndian.Uint32(v))))
		case 0x8a: // LONG1
			n, err := next(1)
			if err != nil {
				return nil, err
			}
			v, err := next(int(n[0]))
			if err != nil {
				return nil, err
			}
			x, err := long(v)
			if err != nil {
				return nil, err
			}
			stack = append(stack, x)
		case 'G': // BINFLOAT
			v, err := next(8)
			if err != nil {
				return nil, err
			}
			stack = append(stack, math.Float64frombits(binary.BigEndian.Uint64(v)))
		case 'X', 0x8c, 0x8d: // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
			var n uint64
			switch op {
			case 'X':
				v, err := next(4)
				if err != nil {
					return nil, err
				}
				n = uint64(binary.LittleEndian.Uint32(v))
			case 0x8c:
				v, err := next(1)
				if err != nil {
					return nil, err
				}
				n = uint64(v[0])
			default:
				v, err := next(8)
				if err != nil {
					return nil, err
				}
				n = binary.LittleEndian.Uint64(v)
			}
			if n > uint64(len(data)) {
				return nil, errTrunc
			}
			s, err := str(int(n))
			if err != nil {
				return nil, err
			}
			stack = append(stack, s)
		case 'c': // GLOBAL "module\nname\n"
			mod, err := line(data, &pos)
			if err != nil {
				return nil, err
			}
			name, err := line(data, &pos)
			if err != nil {
				return nil, err
			}
			stack = append(stack, global{mod, name})
		case 0x93: // STACK_GLOBAL
			n, err := pop()
			if err != nil {
				return nil, err
			}
			m, err := pop()
			if err != nil {
				return nil, err
			}
			ms, ok1 := m.(string)
			ns, ok2 := n.(string)
			if !ok1 || !ok2 {
				return nil, errors.New("pickle: STACK_GLOBAL of non-strings")
			}
			stack = append(stack, global{ms, ns})
		case 'q', 'r', 0x94: // BINPUT, LONG_BINPUT, MEMOIZE
			if len(stack) == 0 {
				return nil, errors.New("pickle: memo of an empty stack")
			}
			var k int
			switch op {
			case 'q':
				v, err := next(1)
				if err != nil {
					return nil, err
				}
				k = int(v[0])
			case 'r':
				v, err := next(4)
				if err != nil {
					return nil, err
				}
				k = int(binary.LittleEndian.Uint32(v))
			default:
				k = len(memo)
			}
			memo[k] = stack[len(stack)-1]
		case 'h', 'j': // BINGET, LONG_BINGET
			var k int
			if op == 'h' {
				v, err := next(1)
				if err != nil {
					return nil, err
				}
				k = int(v[0])
			} else {
				v, err := next(4)
				if err != nil {
					return nil, err
				}
				k = int(binary.LittleEndian.Uint32(v))
			}
			v, ok := memo[k]
			if !ok {
				return nil, fmt.Errorf("pickle: memo %d unset", k)
			}
			stack = append(stack, v)
		case ')':
			stack = append(stack, tuple{})
		case ']':
			stack = append(stack, list{})
		case '}':
			stack = append(stack, &dict{})
		case 't':
			items, err := popMark()
			if err != nil {
				return nil, err
			}
			stack = append(stack, tuple(items))
		case 0x85, 0x86, 0x87: // TUPLE1..3
			n := int(op - 0x84)
			if len(stack) < n {
				return nil, errors.New("pickle stack underflow")
			}
			items := append(tuple(nil), stack[len(stack)-n:]...)
			for _, v := range items {
				if _, ok := v.(mark); ok {
					return nil, errors.New("pickle: a mark in a tuple")
				}
			}
			stack = append(stack[:len(stack)-n], items)
		case 'a', 'e': // APPEND, APPENDS
			var items []any
			if op == 'a' {
				v, err := pop()
				if err != nil {
					return nil, err
				}
				items = []any{v}
			} else if items, err = popMark(); err != nil {
				return nil, err
			}
			if len(stack) == 0 {
				return nil, errors.New("pickle stack underflow")
			}
			l, ok := stack[len(stack)-1].(list)
			if !ok {
				return nil, errors.New("pickle: append to a non-list")
			}
			stack[len(stack)-1] = append(l, items...)
		case 's', 'u': // SETITEM, SETITEMS
			var items []any
			if op == 's' {
				v, err := pop()
				if err != nil {
					return nil, err
				}
				k, err := pop()
				if err != nil {
					return nil, err
				}
				items = []any{k, v}
			} else if items, err = popMark(); err != nil {
				return nil, err
			}
			if len(items)%2 != 0 || len(stack) == 0 {
				return nil, errors.New("pickle: bad SETITEMS")
			}
			d, ok := stack[len(stack)-1].(*dict)
			if !ok {
				return nil, errors.New("pickle: setitem on a non-dict")
			}
			for i := 0; i < len(items); i += 2 {
				d.keys = append(d.keys, items[i])
				d.vals = append(d.vals, items[i+1])
			}
		case 'b': // BUILD: state for an object; a state dict's OrderedDict gets none that matters
			if _, err := pop(); err != nil {
				return nil, err
			}
		case 'Q': // BINPERSID
			pid, err := pop()
			if err != nil {
				return nil, err
			}
			s, err := persistent(pid, load)
			if err != nil {
				return nil, err
			}
			stack = append(stack, s)
		case 'R': // REDUCE
			args, err := pop()
			if err != nil {
				return nil, err
			}
			fn, err := pop()
			if err != nil {
				return nil, err
			}
			v, err := call(fn, args)
			if err != nil {
				return nil, err
			}
			stack = append(stack, v)
		default:
			return nil, fmt.Errorf("pickle opcode 0x%02x at %d is not one a state dict uses", op, pos-1)
		}
	}
}

func line(data []byte, pos *int) (string, error) {
	for i := *pos; i < len(data); i++ {
		if data[i] == '\n' {
			s := string(data[*pos:i])
			*pos = i + 1
			return s, nil
		}
	}
	return "", errTrunc
}

func long(v []byte) (int64, error) {
	// Little-endian two's complement.
	if len(v) > 8 {
		return 0, fmt.Errorf("pickle: integer of %d bytes", len(v))
	}
	var u uint64
	for i := len(v) - 1; i >= 0; i-- {
		u = u<<8 | uint64(v[i])
	}
	if len(v) > 0 && len(v) < 8 && v[len(v)-1]&0x80 != 0 {
		u |= ^uint64(0) << (8 * len(v))
	}
	return int64(u), nil
}

// persistent resolves torch's storage reference
// ('storage', <Type>Storage, key, location, numel).
func persistent(pid any, load func(string) ([]byte, error)) (storage, error) {
	t, ok := pid.(tuple)
	if !ok || len(t) < 5 || t[0] != "storage" {
		return storage{}, fmt.Errorf("pickle: persistent id %v is not a storage", pid)
	}
	g, ok := t[1].(global)
	dt, known := storageTypes[g.name]
	if !ok || g.module != "torch" || !known {
		return storage{}, fmt.Errorf("pickle: storage type %v unsupported", t[1])
	}
	key, ok1 := t[2].(string)
	numel, ok2 := t[4].(int64)
	if !ok1 || !ok2 || numel < 0 {
		return storage{}, fmt.Errorf("pickle: storage reference %v malformed", t)
	}
	data, err := load(key)
	if err != nil {
		return storage{}, err
	}
	if int64(len(data)) < numel*int64(dt.Size()) {
		return storage{}, fmt.Errorf("pickle: storage %s holds %d bytes, not %d %s elements", key, len(data), numel, dt)
	}
	return storage{dtype: dt, data: data, numel: int(numel)}, nil
}

// call applies one of the globals a state dict is built from.
func call(fn, args any) (any, error) {
	g, ok := fn.(global)
	a, ok2 := args.(tuple)
	if !ok || !ok2 {
		return nil, fmt.Errorf("pickle: call of %v", fn)
	}
	switch {
	case g.module == "collections" && g.name == "OrderedDict" && len(a) == 0:
		return &dict{}, nil
	case g.module == "torch._utils" && (g.name == "_rebuild_tensor_v2" || g.name == "_rebuild_tensor") && len(a) >= 4:
		return rebuild(a)
	}
	return nil, fmt.Errorf("pickle: global %s.%s is not part of a state dict; refusing to call it", g.module, g.name)
}

// rebuild is _rebuild_tensor_v2(storage, offset, size, stride, ...): the
// elements it views, copied into a contiguous tensor.
func rebuild(a tuple) (any, error) {
	s, ok := a[0].(storage)
	off, ok2 := a[1].(int64)
	size, ok3 := ints(a[2])
	stride, ok4 := ints(a[3])
	if !ok || !ok2 || !ok3 || !ok4 || len(size) != len(stride) || off < 0 || len(size) > 16 {
		return nil, errors.New("pickle: malformed tensor")
	}
	n := int64(1)
	last := off // largest element index the view reads
	for i, d := range size {
		if d < 0 || stride[i] < 0 {
			return nil, errors.New("pickle: negative size or stride")
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > math.MaxInt32 || d > math.MaxInt32 || stride[i] > math.MaxInt32 {
			return nil, errors.New("pickle: tensor too large")
		}
		n *= d
		last += (d - 1) * stride[i]
	}
	if n > 0 && last >= int64(s.numel) {
		return nil, fmt.Errorf("pickle: tensor view reads element %d of a %d-element storage", last, s.numel)
	}
	es := int64(s.dtype.Size())
	out := make([]byte, 0, n*es)
	shape := make([]int, len(size))
	for i, d := range size {
		shape[i] = int(d)
	}
	if n > 0 {
		idx := make([]int64, len(size))
		for k := int64(0); k < n; k++ {
			e := off
			for i := range idx {
				e += idx[i] * stride[i]
			}
			out = append(out, s.data[e*es:(e+1)*es]...)
			for i := len(idx) - 1; i >= 0; i-- {
				idx[i]++
				if idx[i] < size[i] {
					break
				}
				idx[i] = 0
			}
		}
	}
	return Tensor{DType: s.dtype, Shape: shape, Data: out}, nil
}

func ints(v any) ([]int64, bool) {
	t, ok := v.(tuple)
	if !ok {
		return nil, false
	}
	out := make([]int64, len(t))
	for i, x := range t {
		if out[i], ok = x.(int64); !ok {
			return nil, false
		}
	}
	return out, true
}
