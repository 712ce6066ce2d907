package safetensors

import (
	"errors"
	"fmt"
	"os"
	"sync"
)

// File is an open, memory-mapped safetensors file.
type File struct {
	path   string
	header *Header
	byName map[string]int

	mu   sync.RWMutex
	data []byte // the whole mapping; nil once closed
}

// Open maps path and validates its header. The mapping stays open until
// Close; tensor bytes returned by Bytes are views into it.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	size := st.Size()
	if size < 8 {
		return nil, fmt.Errorf("safetensors: %s: file is %d bytes, too short for the 8-byte header length", path, size)
	}
	data, err := mapFile(f, size)
	if err != nil {
		return nil, fmt.Errorf("safetensors: mmap %s: %w", path, err)
	}
	h, err := ParseHeader(data, size)
	if err != nil {
		_ = unmapFile(data)
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	sf := &File{path: path, header: h, data: data, byName: make(map[string]int, len(h.Tensors))}
	for i, ti := range h.Tensors {
		sf.byName[ti.Name] = i
	}
	return sf, nil
}

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Header returns the parsed header.
func (f *File) Header() *Header { return f.header }

// Info returns the header entry of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.header.Tensors[i], true
}

// ErrClosed is returned when reading a closed file.
var ErrClosed = errors.New("safetensors: file is closed")

// Read calls fn with the raw little-endian bytes of the named tensor. The
// slice is a view into the mapping, valid only during fn: copy what you keep.
func (f *File) Read(name string, fn func(info TensorInfo, raw []byte) error) error {
	info, ok := f.Info(name)
	if !ok {
		return fmt.Errorf("safetensors: no tensor %q in %s", name, f.path)
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.data == nil {
		return ErrClosed
	}
	off := f.header.DataOffset
	return fn(info, f.data[off+info.Begin:off+info.End])
}

// Close unmaps the file. It is safe to call more than once.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.data == nil {
		return nil
	}
	err := unmapFile(f.data)
	f.data = nil
	return err
}
