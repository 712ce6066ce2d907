//go:build unix

package safetensors

import (
	"os"
	"syscall"
)

// mapFile maps a file read-only: tensors are views into the page cache, so
// a checkpoint costs no copy until a tensor is converted.
func mapFile(f *os.File, size int64) ([]byte, error) {
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
}

func unmapFile(data []byte) error { return syscall.Munmap(data) }
