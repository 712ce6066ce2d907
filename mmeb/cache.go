package mmeb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/org/vlm2vec/internal/atomicfile"
)

// Cache is an on-disk embedding store keyed by (model id, item), so an
// interrupted evaluation resumes without recomputing, and datasets that
// share items (MMEB's ImageNet variants share labels) embed them once.
//
// It is a directory of immutable segment files. Put buffers vectors; Flush
// writes the buffer as a new segment through a temporary file, fsync and
// rename, so a crash leaves either the whole segment or none of it. Only
// an index (key → file, offset) is kept in memory; vectors are read back
// on demand and checked against a per-record CRC.
type Cache struct {
	dir string

	mu      sync.Mutex
	index   map[[32]byte]cacheLoc
	files   []*os.File
	pending []cacheRec
	pendKey map[[32]byte]int
	bad     []string
}

type cacheLoc struct {
	file int
	off  int64 // offset of the record's vector data
	dim  int
	crc  uint32
}

type cacheRec struct {
	key [32]byte
	vec []float32
}

const (
	cacheMagic  = "VLM2VEC-EMB1\n"
	segSuffix   = ".emb"
	recHeadSize = 32 + 4 + 4
)

// OpenCache opens (creating if needed) a cache directory and indexes its
// segments. Unreadable or truncated segments are skipped and listed by
// BadSegments; their items are simply embedded again.
func OpenCache(dir string) (*Cache, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("mmeb: cache: %w", err)
	}
	c := &Cache{dir: dir, index: map[[32]byte]cacheLoc{}, pendKey: map[[32]byte]int{}}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("mmeb: cache: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), segSuffix) && !strings.HasPrefix(e.Name(), ".") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names) // segment names start with a timestamp: oldest first
	for _, name := range names {
		if err := c.indexSegment(filepath.Join(dir, name)); err != nil {
			c.bad = append(c.bad, fmt.Sprintf("%s: %v", name, err))
		}
	}
	return c, nil
}

func (c *Cache) indexSegment(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	size := st.Size()
	head := make([]byte, len(cacheMagic)+4)
	if _, err := f.ReadAt(head, 0); err != nil || string(head[:len(cacheMagic)]) != cacheMagic {
		f.Close()
		return errors.New("not a cache segment")
	}
	count := binary.LittleEndian.Uint32(head[len(cacheMagic):])
	off := int64(len(head))
	// Every record takes at least its header: a larger count is corrupt
	// (and must not size an allocation).
	if int64(count) > (size-off)/recHeadSize {
		f.Close()
		return fmt.Errorf("record count %d does not fit in %d bytes", count, size)
	}
	type entry struct {
		key [32]byte
		loc cacheLoc
	}
	entries := make([]entry, 0, count)
	rh := make([]byte, recHeadSize)
	for i := uint32(0); i < count; i++ {
		if _, err := f.ReadAt(rh, off); err != nil {
			f.Close()
			return fmt.Errorf("record %d: %w", i, err)
		}
		var e entry
		copy(e.key[:], rh[:32])
		dim := binary.LittleEndian.Uint32(rh[32:])
		e.loc = cacheLoc{off: off + recHeadSize, dim: int(dim), crc: binary.LittleEndian.Uint32(rh[36:])}
		off += recHeadSize + int64(dim)*4
		if dim > 1<<24 || off > size {
			f.Close()
			return fmt.Errorf("record %d overruns the file", i)
		}
		entries = append(entries, e)
	}
	if off != size {
		f.Close()
		return fmt.Errorf("%d trailing bytes", size-off)
	}
	fi := len(c.files)
	c.files = append(c.files, f)
	for _, e := range entries {
		e.loc.file = fi
		c.index[e.key] = e.loc // later segments win
	}
	return nil
}

// BadSegments lists segments that could not be indexed.
func (c *Cache) BadSegments() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bad...)
}

// Len returns the number of stored (flushed or pending) vectors.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.index)
	for k := range c.pendKey {
		if _, ok := c.index[k]; !ok {
			n++
		}
	}
	return n
}

// Get returns the cached vector of item under model, if any.
func (c *Cache) Get(model string, it Item) ([]float32, bool, error) {
	return c.get(cacheKey(model, it))
}

func (c *Cache) get(key [32]byte) ([]float32, bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i, ok := c.pendKey[key]; ok {
		return append([]float32(nil), c.pending[i].vec...), true, nil
	}
	loc, ok := c.index[key]
	if !ok {
		return nil, false, nil
	}
	buf := make([]byte, loc.dim*4)
	if _, err := c.files[loc.file].ReadAt(buf, loc.off); err != nil {
		return nil, false, fmt.Errorf("mmeb: cache read: %w", err)
	}
	if crc32.ChecksumIEEE(buf) != loc.crc {
		// A damaged record is a miss: the item is embedded again.
		delete(c.index, key)
		return nil, false, nil
	}
	v := make([]float32, loc.dim)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	return v, true, nil
}

// Put buffers a vector; it is durable after the next Flush.
func (c *Cache) Put(model string, it Item, v []float32) {
	c.put(cacheKey(model, it), v)
}

func (c *Cache) put(key [32]byte, v []float32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	rec := cacheRec{key: key, vec: append([]float32(nil), v...)}
	if i, ok := c.pendKey[key]; ok {
		c.pending[i] = rec
		return
	}
	c.pendKey[key] = len(c.pending)
	c.pending = append(c.pending, rec)
}

// Pending returns the number of buffered, not yet flushed vectors.
func (c *Cache) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pending)
}

// Flush writes the buffered vectors as one new segment, atomically.
func (c *Cache) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString(cacheMagic)
	binary.Write(&b, binary.LittleEndian, uint32(len(c.pending)))
	type placed struct {
		key [32]byte
		loc cacheLoc
	}
	var locs []placed
	for _, r := range c.pending {
		data := make([]byte, 4*len(r.vec))
		for i, x := range r.vec {
			binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(x))
		}
		crc := crc32.ChecksumIEEE(data)
		b.Write(r.key[:])
		binary.Write(&b, binary.LittleEndian, uint32(len(r.vec)))
		binary.Write(&b, binary.LittleEndian, crc)
		locs = append(locs, placed{r.key, cacheLoc{off: int64(b.Len()), dim: len(r.vec), crc: crc}})
		b.Write(data)
	}
	name := fmt.Sprintf("%020d-%d%s", time.Now().UnixNano(), os.Getpid(), segSuffix)
	path := filepath.Join(c.dir, name)
	if err := atomicfile.WriteBytes(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("mmeb: cache flush: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("mmeb: cache flush: %w", err)
	}
	fi := len(c.files)
	c.files = append(c.files, f)
	for _, p := range locs {
		p.loc.file = fi
		c.index[p.key] = p.loc
	}
	c.pending = nil
	c.pendKey = map[[32]byte]int{}
	return nil
}

// Close flushes and releases the segment files.
func (c *Cache) Close() error {
	err := c.Flush()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.files {
		if e := f.Close(); e != nil && err == nil && !errors.Is(e, io.ErrClosedPipe) {
			err = e
		}
	}
	c.files = nil
	return err
}
