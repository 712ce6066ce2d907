package encoder

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Fingerprint identifies what the encoder's vectors depend on: the
// family, every setting that changes them, and the contents of the
// checkpoint's and adapter's files (config, tokenizer and processor files
// and adapters hashed whole; weight files by size, header and samples of
// their data). Replace an adapter or a checkpoint in place and the
// fingerprint changes, so caches keyed on it (the MMEB embedding cache)
// cannot serve stale vectors. It is computed once, at Open, from files:
// weights changed in memory by training are not in it (name such runs by
// step when caching their vectors).
func (e *Encoder) Fingerprint() string { return e.fingerprint }

// fingerprintOf hashes dirs' files (sampled above sampleAbove bytes) and
// the settings.
func fingerprintOf(family string, set settings, dirs ...string) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "family=%s dtype=%s pixels=%d,%d preresize=%d crops=%d positions=%d maxtokens=%d length=%d frames=%d dims=%d\n",
		family, set.dtype, set.minPixels, set.maxPixels, set.preResize, set.numCrops, set.positions, set.maxTokens, set.length, set.videoFrames, set.dims)
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", err
		}
		var names []string
		for _, e := range entries {
			n := e.Name()
			if !e.IsDir() && (strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".safetensors") || strings.HasSuffix(n, ".bin") || n == "gme_inference.py") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(h, "file %s\n", n)
			if err := hashFile(h, filepath.Join(dir, n)); err != nil {
				return "", err
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}

// sampleAbove: files larger than this are sampled, not read whole.
const sampleAbove = 256 << 20

// hashFile adds a file's size and contents to h: whole when small, else
// its first 16 MiB (the safetensors header and the first tensors), its
// last 1 MiB, and 64 KiB every 64 MiB in between.
func hashFile(h io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	size := st.Size()
	fmt.Fprintf(h, "size %d\n", size)
	if size <= sampleAbove {
		_, err := io.Copy(h, f)
		return err
	}
	read := func(off, n int64) error {
		_, err := io.Copy(h, io.NewSectionReader(f, off, n))
		return err
	}
	if err := read(0, 16<<20); err != nil {
		return err
	}
	for off := int64(64 << 20); off < size-(1<<20); off += 64 << 20 {
		if err := read(off, 64<<10); err != nil {
			return err
		}
	}
	return read(size-(1<<20), 1<<20)
}
