package traindata

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/org/vlm2vec/mmeb"
)

// Column names of the MMEB-train format.
const (
	ColQuery         = "qry"
	ColQueryImage    = "qry_image_path"
	ColPositive      = "pos_text"
	ColPositiveImage = "pos_image_path"
	ColNegative      = "neg_text"
	ColNegativeImage = "neg_image_path"
)

// LoadOptions tunes the loaders. The zero value loads every row of every
// subset, uses image paths as stored, and checks that images exist.
type LoadOptions struct {
	// ImageRoot is joined to relative image paths (the reference's
	// --image_dir); "" uses them as stored, relative to the working
	// directory. Absolute paths are kept as they are.
	ImageRoot string
	// Limit keeps only the first Limit rows of each subset, bad rows
	// included, like the reference's num_sample_per_subset (which takes
	// select(range(N)), not a random sample); 0 keeps all.
	Limit int
	// Split picks the shards of a Hugging Face subset directory by the
	// prefix of their names (<split>-00000-of-00001.parquet): MMEB-train
	// ships "original" (the paper's), "diverse_instruction" and "train".
	// "" takes the only split present, or "original" when there are
	// several; anything else ambiguous is an error rather than a silent
	// mix of splits (which would duplicate every pair).
	Split string
	// Subsets restricts LoadDir to these subsets, loaded in this order;
	// nil loads every subset found, in name order.
	Subsets []string
	// SkipImageCheck trusts image paths without looking at the disk.
	// Otherwise a row whose image file is missing is left out.
	SkipImageCheck bool
	// SkipNegatives ignores the neg_text and neg_image_path columns (the
	// reference never uses them), so a missing negative image cannot cost a
	// training pair.
	SkipNegatives bool
}

// MaxLineBytes bounds one JSONL line; a longer line is reported as a bad
// row and skipped instead of growing memory without limit.
const MaxLineBytes = 64 << 20

// maxLine is MaxLineBytes, lowered by tests.
var maxLine = MaxLineBytes

// Subset is one loaded source of training pairs.
type Subset struct {
	Name     string
	Examples []Example
}

// Concat returns every subset's examples in order: V1's single
// concatenated dataset, ready for NewUniform.
func Concat(subsets []Subset) []Example {
	n := 0
	for _, s := range subsets {
		n += len(s.Examples)
	}
	out := make([]Example, 0, n)
	for _, s := range subsets {
		out = append(out, s.Examples...)
	}
	return out
}

// rawRow is one row's six columns as stored ("" for absent or null).
type rawRow struct {
	qry, qryImage, pos, posImage, neg, negImage string
}

// loader turns raw rows into examples, with a cache of image checks (the
// same image is often the query of several rows).
type loader struct {
	opts   LoadOptions
	subset string
	file   string
	exists map[string]bool
	stats  *Stats
	out    []Example
}

func newLoader(subset, file string, opts LoadOptions) *loader {
	return &loader{opts: opts, subset: subset, file: file, exists: map[string]bool{},
		stats: &Stats{Subsets: []SubsetStats{{Subset: subset}}}}
}

// skip records a left-out row.
func (l *loader) skip(row, line int, format string, a ...any) {
	l.stats.Subsets[0].Rows++
	l.stats.Problems = append(l.stats.Problems, Problem{Subset: l.subset, File: l.file, Row: row, Line: line, Reason: fmt.Sprintf(format, a...)})
}

// add validates one row and keeps it or records why not.
func (l *loader) add(row, line int, r rawRow) {
	if l.opts.SkipNegatives {
		r.neg, r.negImage = "", ""
	}
	// The reference skips rows without a query or positive; a text of
	// only whitespace is as empty to the model as "".
	if strings.TrimSpace(r.qry) == "" && r.qryImage == "" {
		l.skip(row, line, "empty query")
		return
	}
	if strings.TrimSpace(r.pos) == "" && r.posImage == "" {
		l.skip(row, line, "empty positive")
		return
	}
	ex := Example{Subset: l.subset, Row: row, Query: r.qry, Positive: r.pos, Negative: r.neg}
	for _, f := range []struct {
		col string
		rel string
		dst *string
	}{{ColQueryImage, r.qryImage, &ex.QueryImage}, {ColPositiveImage, r.posImage, &ex.PositiveImage}, {ColNegativeImage, r.negImage, &ex.NegativeImage}} {
		p, ok := l.image(f.rel)
		if !ok {
			l.skip(row, line, "missing image %q (%s)", f.rel, f.col)
			return
		}
		*f.dst = p
	}
	l.stats.Subsets[0].Rows++
	l.stats.Subsets[0].Kept++
	l.out = append(l.out, ex)
}

// image resolves a stored path and, unless told not to, checks the file.
func (l *loader) image(rel string) (string, bool) {
	if rel == "" {
		return "", true
	}
	p := rel
	if l.opts.ImageRoot != "" && !filepath.IsAbs(rel) {
		p = filepath.Join(l.opts.ImageRoot, rel)
	}
	if l.opts.SkipImageCheck {
		return p, true
	}
	ok, seen := l.exists[p]
	if !seen {
		st, err := os.Stat(p)
		ok = err == nil && st.Mode().IsRegular()
		l.exists[p] = ok
	}
	return p, ok
}

// ReadJSONL reads MMEB-train rows, one JSON object per line, from r as
// subset subset; file only labels problems. Blank lines are not rows. A
// line that is not a JSON object, has a non-string field, or fails the row
// checks is left out and reported; reading errors of r are returned.
func ReadJSONL(r io.Reader, subset, file string, opts LoadOptions) ([]Example, *Stats, error) {
	l := newLoader(subset, file, opts)
	br := bufio.NewReaderSize(r, 1<<16)
	row, line := 0, 0
	for opts.Limit <= 0 || row < opts.Limit {
		text, tooLong, err := readLine(br)
		if len(text) > 0 || tooLong || err == nil {
			line++
		}
		if line == 1 {
			text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf")) // a UTF-8 BOM is not data
		}
		switch {
		case tooLong:
			l.skip(row, line, "line longer than %d bytes", maxLine)
			row++
		case len(bytes.TrimSpace(text)) > 0:
			raw, perr := parseRow(text)
			if perr != nil {
				l.skip(row, line, "%v", perr)
			} else {
				l.add(row, line, raw)
			}
			row++
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("traindata: %s: line %d: %w", file, line+1, err)
		}
	}
	return l.out, l.stats, nil
}

// readLine returns the next line without its "\n" or "\r\n". A line longer
// than MaxLineBytes is consumed and reported as tooLong. err is io.EOF
// after the last line (which may lack a newline).
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if !tooLong {
			if len(buf)+len(frag) > maxLine+2 { // +2: the "\r\n" is not content
				tooLong, buf = true, nil
			} else {
				buf = append(buf, frag...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if tooLong {
			return nil, true, err
		}
		buf = bytes.TrimSuffix(buf, []byte("\n"))
		buf = bytes.TrimSuffix(buf, []byte("\r"))
		return buf, false, err
	}
}

// parseRow decodes one JSONL line into the six columns. Absent keys and
// JSON null read as "", like a missing column; other keys are ignored.
func parseRow(line []byte) (rawRow, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return rawRow{}, fmt.Errorf("bad JSON: %v", shortJSONError(err))
	}
	if m == nil {
		return rawRow{}, errors.New("bad JSON: not an object")
	}
	var r rawRow
	for _, f := range []struct {
		name string
		dst  *string
	}{{ColQuery, &r.qry}, {ColQueryImage, &r.qryImage}, {ColPositive, &r.pos}, {ColPositiveImage, &r.posImage}, {ColNegative, &r.neg}, {ColNegativeImage, &r.negImage}} {
		v, ok := m[f.name]
		if !ok || string(v) == "null" {
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return rawRow{}, fmt.Errorf("field %q is not a string", f.name)
		}
	}
	return r, nil
}

// shortJSONError keeps a decoder error message to one short line.
func shortJSONError(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// LoadJSONL reads the JSONL file at path as subset subset (see ReadJSONL).
func LoadJSONL(path, subset string, opts LoadOptions) ([]Example, *Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("traindata: %w", err)
	}
	defer f.Close()
	return ReadJSONL(f, subset, path, opts)
}

// LoadParquet reads parquet shards as subset subset: path is one file, or
// a directory whose shards (found in it and one level below, as Hugging
// Face lays them out) are picked by opts.Split and read in name order.
// qry and pos_text are required columns; the image columns and the
// negatives are optional (absent reads as ""). A corrupt file or a missing
// required column is an error (the rows cannot be counted); bad rows are
// reported in Stats.
func LoadParquet(path, subset string, opts LoadOptions) ([]Example, *Stats, error) {
	files := []string{path}
	if st, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("traindata: %w", err)
	} else if st.IsDir() {
		all, err := shards(path)
		if err != nil {
			return nil, nil, fmt.Errorf("traindata: %w", err)
		}
		if files, err = pickSplit(all, opts.Split); err != nil {
			return nil, nil, fmt.Errorf("traindata: %s: %w", path, err)
		}
	}
	optional := []string{ColQueryImage, ColPositiveImage}
	if !opts.SkipNegatives {
		optional = append(optional, ColNegative, ColNegativeImage)
	}
	rows, cols, err := mmeb.ReadStringColumns(files, []string{ColQuery, ColPositive}, optional)
	if err != nil {
		return nil, nil, fmt.Errorf("traindata: %s: %w", subset, err)
	}
	// Problems name path (the file, or the subset directory whose shards
	// are numbered as one table), with the row number in that table.
	ex, st := buildParquet(rows, cols, subset, path, opts)
	return ex, st, nil
}

// buildParquet turns decoded columns into examples. Split out so tests can
// feed a table read from memory.
func buildParquet(rows int, cols map[string]mmeb.StringColumn, subset, file string, opts LoadOptions) ([]Example, *Stats) {
	l := newLoader(subset, file, opts)
	if opts.Limit > 0 && opts.Limit < rows {
		rows = opts.Limit
	}
	get := func(name string, r int) string {
		v, _ := cols[name].At(r) // null reads as "", as an absent key in JSONL
		return v
	}
	for r := 0; r < rows; r++ {
		l.add(r, 0, rawRow{
			qry: get(ColQuery, r), qryImage: get(ColQueryImage, r),
			pos: get(ColPositive, r), posImage: get(ColPositiveImage, r),
			neg: get(ColNegative, r), negImage: get(ColNegativeImage, r),
		})
	}
	return l.out, l.stats
}

// shards lists the .parquet files in dir and its immediate subdirectories
// (HF repositories sometimes use <config>/data/), sorted. It does not walk
// deeper, so a dataset root that also holds a million unzipped images is
// cheap to scan.
func shards(dir string) ([]string, error) {
	var files []string
	for _, pat := range []string{"*.parquet", filepath.Join("*", "*.parquet")} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	return files, nil
}

// splitOf is the split a shard belongs to: its name up to the first "-"
// ("original-00000-of-00001.parquet" → "original").
func splitOf(file string) string {
	name := strings.TrimSuffix(filepath.Base(file), ".parquet")
	if i := strings.IndexByte(name, '-'); i >= 0 {
		return name[:i]
	}
	return name
}

// pickSplit selects the shards of one split (see LoadOptions.Split).
func pickSplit(files []string, split string) ([]string, error) {
	if len(files) == 0 {
		return nil, errors.New("no .parquet files")
	}
	by := map[string][]string{}
	for _, f := range files {
		by[splitOf(f)] = append(by[splitOf(f)], f)
	}
	names := make([]string, 0, len(by))
	for k := range by {
		names = append(names, k)
	}
	sort.Strings(names)
	switch {
	case split != "":
		if by[split] == nil {
			return nil, fmt.Errorf("no shards of split %q (splits: %s)", split, strings.Join(names, ", "))
		}
		return by[split], nil
	case len(by) == 1:
		return files, nil
	case by["original"] != nil:
		return by["original"], nil
	}
	return nil, fmt.Errorf("several splits (%s): choose one with LoadOptions.Split", strings.Join(names, ", "))
}

// LoadDir loads every subset under root. A subset is either
//
//	<root>/<Subset>.jsonl           one JSONL file
//	<root>/<Subset>.parquet         one parquet file
//	<root>/<Subset>/*.parquet       Hugging Face shards (also <Subset>/*/*.parquet),
//	                                of the split opts.Split picks
//
// Other files and directories without parquet shards (images, README.md,
// scripts) are ignored, as are names starting with "." or "_". Two entries
// naming the same subset are an error, as is a name in opts.Subsets that
// is not there. Subsets come back in name order, or in opts.Subsets order.
func LoadDir(root string, opts LoadOptions) ([]Subset, *Stats, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, nil, fmt.Errorf("traindata: %w", err)
	}
	type source struct {
		path    string
		parquet bool
	}
	found := map[string]source{}
	var names []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
			continue
		}
		path := filepath.Join(root, name)
		var sub string
		var src source
		switch {
		case e.IsDir():
			files, err := shards(path)
			if err != nil {
				return nil, nil, fmt.Errorf("traindata: %w", err)
			}
			if len(files) == 0 {
				continue
			}
			sub, src = name, source{path, true}
		case strings.HasSuffix(name, ".jsonl"):
			sub, src = strings.TrimSuffix(name, ".jsonl"), source{path, false}
		case strings.HasSuffix(name, ".parquet"):
			sub, src = strings.TrimSuffix(name, ".parquet"), source{path, true}
		default:
			continue
		}
		if prev, dup := found[sub]; dup {
			return nil, nil, fmt.Errorf("traindata: subset %q is both %s and %s", sub, prev.path, src.path)
		}
		found[sub] = src
		names = append(names, sub)
	}
	sort.Strings(names)
	if opts.Subsets != nil {
		names = names[:0]
		for _, s := range opts.Subsets {
			if _, ok := found[s]; !ok {
				return nil, nil, fmt.Errorf("traindata: subset %q not found under %s", s, root)
			}
			names = append(names, s)
		}
	}
	stats := &Stats{}
	var out []Subset
	for _, name := range names {
		src := found[name]
		var ex []Example
		var st *Stats
		if src.parquet {
			ex, st, err = LoadParquet(src.path, name, opts)
		} else {
			ex, st, err = LoadJSONL(src.path, name, opts)
		}
		if err != nil {
			return nil, nil, err
		}
		stats.add(st)
		out = append(out, Subset{Name: name, Examples: ex})
	}
	return out, stats, nil
}
