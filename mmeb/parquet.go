package mmeb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// colKind says how a parquet column is decoded.
type colKind int

const (
	colScalar colKind = iota // one string (or number, printed as a string) per row
	colList                  // a list<string> per row
	colBytes                 // one byte string per row (e.g. image.bytes of an HF Image)
)

// colSpec names a column to read. Path is the column's path without the
// list-wrapper levels, e.g. {"tgt_text"} or {"image", "bytes"}.
type colSpec struct {
	path     []string
	kind     colKind
	optional bool // a missing column reads as all-null instead of an error
}

// pqCell is one decoded row value of one column.
type pqCell struct {
	null  bool     // the value (or the whole list) was null
	str   string   // colScalar: the value as text; colBytes: raw bytes
	num   float64  // colScalar: the numeric value when the column is numeric
	isNum bool     // colScalar: the column is numeric
	list  []string // colList: the elements (a null element reads as "")
	nulls int      // colList: how many elements were null
}

// pqTable holds the decoded columns of one or more parquet files, in row order.
type pqTable struct {
	rows int
	cols map[string][]pqCell // key: strings.Join(path, ".")
	// present records which requested columns exist in the files.
	present map[string]bool
}

// col returns a column; a missing optional column reads as all-null.
func (t *pqTable) col(path ...string) pqCol { return pqCol(t.cols[strings.Join(path, ".")]) }

// pqCol is one decoded column. at is safe past the end (null), which is
// how an absent optional column reads without materialising null cells.
type pqCol []pqCell

func (c pqCol) at(r int) pqCell {
	if r < 0 || r >= len(c) {
		return pqCell{null: true}
	}
	return c[r]
}

// maxRowsPerFile bounds what a (possibly corrupt) footer can make us
// allocate; MMEB's largest tables have well under a million rows.
const maxRowsPerFile = 1 << 24

// parquetFiles returns the shards that make up one dataset split: a single
// .parquet file, or every .parquet file under a directory (recursively), in
// lexical order, which is the order Hugging Face numbers its shards in.
func parquetFiles(path string) ([]string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return []string{path}, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".parquet") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .parquet files under %s", path)
	}
	sort.Strings(files)
	return files, nil
}

// readParquet decodes the requested columns of every file in order.
func readParquet(files []string, specs []colSpec) (*pqTable, error) {
	t := &pqTable{cols: map[string][]pqCell{}, present: map[string]bool{}}
	for _, name := range files {
		if err := readParquetFile(name, specs, t); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return t, nil
}

func readParquetFile(name string, specs []colSpec, t *pqTable) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	return readParquetReader(f, st.Size(), specs, t)
}

// readParquetReader decodes one file. It reads column chunks page by page
// (not whole rows), so columns that are not asked for, such as embedded
// image bytes, are never decoded.
func readParquetReader(r io.ReaderAt, size int64, specs []colSpec, t *pqTable) (err error) {
	// The parquet library can panic on corrupt input; a loader must return
	// an error instead.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt parquet file: %v", p)
		}
	}()
	pf, err := openParquet(r, size)
	if err != nil {
		return err
	}
	nrows64 := pf.NumRows()
	if nrows64 < 0 || nrows64 > maxRowsPerFile {
		return fmt.Errorf("implausible row count %d", nrows64)
	}
	nrows := int(nrows64)
	schema := pf.Schema()
	for _, spec := range specs {
		key := strings.Join(spec.path, ".")
		leaf, ok := findLeaf(schema, spec)
		if !ok {
			if !spec.optional {
				return fmt.Errorf("missing column %q", key)
			}
			// Pad earlier files' cells only if this column exists in some file.
			t.cols[key] = padNull(t.cols[key], t.rows+nrows, t.present[key])
			continue
		}
		t.present[key] = true
		cells, err := readLeaf(pf, schema, leaf, spec, nrows)
		if err != nil {
			return fmt.Errorf("column %q: %w", key, err)
		}
		t.cols[key] = append(padNull(t.cols[key], t.rows, true), cells...)
	}
	t.rows += nrows
	return nil
}

// findLeaf finds the leaf column of spec. For lists it accepts any wrapper
// naming (list/element as pyarrow writes by default, list/item as older
// writers and Hugging Face files do, or a bare repeated field).
func findLeaf(schema *parquet.Schema, spec colSpec) (parquet.LeafColumn, bool) {
	for _, p := range schema.Columns() {
		if len(p) < len(spec.path) {
			continue
		}
		if spec.kind == colList && len(spec.path) == 2 && len(p) > 2 {
			// A field of a list of structs, e.g. {"positive_frames",
			// "output_path"} for positive_frames.list.element.output_path.
			if p[0] == spec.path[0] && p[len(p)-1] == spec.path[1] && len(p) <= 4 {
				if leaf, ok := schema.Lookup(p...); ok {
					return leaf, true
				}
			}
			continue
		}
		match := true
		for i := range spec.path {
			if p[i] != spec.path[i] {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		switch spec.kind {
		case colScalar, colBytes:
			if len(p) != len(spec.path) {
				continue
			}
		case colList:
			if len(p) > len(spec.path)+2 {
				continue
			}
		}
		leaf, ok := schema.Lookup(p...)
		if !ok {
			continue
		}
		return leaf, true
	}
	return parquet.LeafColumn{}, false
}

// repeatedDefLevel returns the definition level at which the repeated node
// on the leaf's path is present: values with a lower level mark a null or
// empty list rather than an element.
func repeatedDefLevel(schema *parquet.Schema, path []string) int {
	var node parquet.Node = schema
	level := 0
	for _, name := range path {
		var next parquet.Node
		for _, f := range node.Fields() {
			if f.Name() == name {
				next = f
				break
			}
		}
		if next == nil {
			return level
		}
		if next.Optional() || next.Repeated() {
			level++
		}
		if next.Repeated() {
			return level
		}
		node = next
	}
	return level
}

func readLeaf(pf *parquet.File, schema *parquet.Schema, leaf parquet.LeafColumn, spec colSpec, nrows int) ([]pqCell, error) {
	if spec.kind == colList && leaf.MaxRepetitionLevel != 1 {
		return nil, fmt.Errorf("expected a list column, got repetition level %d", leaf.MaxRepetitionLevel)
	}
	if spec.kind != colList && leaf.MaxRepetitionLevel != 0 {
		return nil, fmt.Errorf("expected a scalar column, got a repeated one")
	}
	elemLevel := 0
	if spec.kind == colList {
		elemLevel = repeatedDefLevel(schema, leaf.Path)
	}
	if err := checkChunks(pf, leaf.ColumnIndex); err != nil {
		return nil, err
	}
	kind := leaf.Node.Type().Kind()
	cells := make([]pqCell, 0, min(nrows, 1<<16))
	buf := make([]parquet.Value, 512)
	for _, rg := range pf.RowGroups() {
		chunks := rg.ColumnChunks()
		if leaf.ColumnIndex < 0 || leaf.ColumnIndex >= len(chunks) {
			return nil, fmt.Errorf("column index %d out of range", leaf.ColumnIndex)
		}
		pages := chunks[leaf.ColumnIndex].Pages()
		err := func() error {
			defer pages.Close()
			for {
				page, err := pages.ReadPage()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				vr := page.Values()
				for {
					n, err := vr.ReadValues(buf)
					for _, v := range buf[:n] {
						if v.RepetitionLevel() == 0 {
							if len(cells) >= nrows {
								parquet.Release(page)
								return fmt.Errorf("more values than the %d rows the footer declares", nrows)
							}
							cells = append(cells, pqCell{})
						} else if len(cells) == 0 {
							parquet.Release(page)
							return fmt.Errorf("continuation value before the first row")
						}
						c := &cells[len(cells)-1]
						switch spec.kind {
						case colList:
							if v.DefinitionLevel() < elemLevel {
								c.null = v.DefinitionLevel() == 0 && elemLevel > 1
								continue
							}
							if v.IsNull() {
								c.nulls++
								c.list = append(c.list, "")
								continue
							}
							c.list = append(c.list, valueString(v, kind))
						default:
							if v.IsNull() {
								c.null = true
								continue
							}
							c.str = valueString(v, kind)
							if kind == parquet.Int32 || kind == parquet.Int64 || kind == parquet.Float || kind == parquet.Double {
								c.isNum = true
								c.num = valueFloat(v, kind)
							}
						}
					}
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						parquet.Release(page)
						return err
					}
				}
				parquet.Release(page)
			}
		}()
		if err != nil {
			return nil, err
		}
	}
	if len(cells) != nrows {
		return nil, fmt.Errorf("read %d rows, the footer declares %d", len(cells), nrows)
	}
	return cells, nil
}

// valueString renders a value as the text Python would print for it, so
// numeric ids (int query-ids in some BEIR sets) match string references.
func valueString(v parquet.Value, kind parquet.Kind) string {
	switch kind {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return string(v.ByteArray())
	case parquet.Int32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case parquet.Int64:
		return strconv.FormatInt(v.Int64(), 10)
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'g', -1, 32)
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'g', -1, 64)
	case parquet.Boolean:
		if v.Boolean() {
			return "True"
		}
		return "False"
	default:
		return v.String()
	}
}

func valueFloat(v parquet.Value, kind parquet.Kind) float64 {
	switch kind {
	case parquet.Int32:
		return float64(v.Int32())
	case parquet.Int64:
		return float64(v.Int64())
	case parquet.Float:
		return float64(v.Float())
	case parquet.Double:
		return v.Double()
	}
	return 0
}

// openParquet opens a file after checking the footer length, which the
// library would otherwise use to size an allocation (up to 4 GiB) before
// noticing it does not fit in the file. Page indexes and bloom filters are
// never needed here, so they are not read.
func openParquet(r io.ReaderAt, size int64) (*parquet.File, error) {
	if size < 12 {
		return nil, errors.New("not a parquet file: too short")
	}
	var tail [8]byte
	if _, err := r.ReadAt(tail[:], size-8); err != nil {
		return nil, err
	}
	if footer := int64(binary.LittleEndian.Uint32(tail[:4])); footer > size-12 {
		return nil, fmt.Errorf("corrupt parquet footer length %d in a %d-byte file", footer, size)
	}
	return parquet.OpenFile(r, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
}

// padNull extends cells with nulls to n entries when materialise is set
// (a column present in some shard but not in others).
func padNull(cells []pqCell, n int, materialise bool) []pqCell {
	if !materialise {
		return cells
	}
	for len(cells) < n {
		cells = append(cells, pqCell{null: true})
	}
	return cells
}

// maxChunkBytes bounds the declared uncompressed size of one column chunk.
const maxChunkBytes = 1 << 32

// checkChunks rejects column chunks the parquet library cannot decode
// safely. Its LZ4 decoder treats every error as "output buffer too small"
// and doubles the buffer forever on corrupt data (found by FuzzParquetV1),
// so LZ4-compressed columns are refused; Hugging Face and pyarrow write
// snappy by default.
func checkChunks(pf *parquet.File, column int) error {
	for i, rg := range pf.Metadata().RowGroups {
		if column < 0 || column >= len(rg.Columns) {
			return fmt.Errorf("row group %d has no column %d", i, column)
		}
		md := rg.Columns[column].MetaData
		switch md.Codec {
		case format.Lz4, format.Lz4Raw:
			return fmt.Errorf("row group %d: %v compression is not supported (re-write the file with snappy or zstd)", i, md.Codec)
		}
		if md.TotalUncompressedSize < 0 || md.TotalUncompressedSize > maxChunkBytes {
			return fmt.Errorf("row group %d: implausible column size %d", i, md.TotalUncompressedSize)
		}
	}
	return nil
}
