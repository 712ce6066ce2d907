//go:build !unix

package safetensors

import (
	"io"
	"os"
)

// mapFile reads the whole file where no mmap is wired up (Windows, wasm):
// the same views, at the cost of one copy of the checkpoint in memory.
func mapFile(f *os.File, size int64) ([]byte, error) {
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, err
	}
	return data, nil
}

func unmapFile([]byte) error { return nil }
