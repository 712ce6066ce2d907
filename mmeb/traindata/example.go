package traindata

import (
	"fmt"
	"sort"
	"strings"
)

// Example is one training pair (plus an optional hard negative), in the
// data's text format.
type Example struct {
	// Subset is the source the row came from (e.g. "MSCOCO_i2t"); Row is
	// its 0-based row number there, counting every row read, good or bad,
	// so it points back at the source.
	Subset string
	Row    int
	// Query and Positive are the texts; QueryImage and PositiveImage the
	// image paths resolved against the image root ("" when none).
	Query, QueryImage       string
	Positive, PositiveImage string
	// Negative and NegativeImage are the row's hard negative, both "" when
	// the row has none (the reference loads but does not use them).
	Negative, NegativeImage string
}

// HasNegative reports whether the example carries a hard negative.
func (e Example) HasNegative() bool { return e.Negative != "" || e.NegativeImage != "" }

// Problem is one row that was left out, and why.
type Problem struct {
	Subset string
	// File is the file the row was read from.
	File string
	// Row is the 0-based row number within the subset (as Example.Row).
	Row int
	// Line is the 1-based line number for JSONL files, 0 for parquet.
	Line   int
	Reason string
}

// String formats the problem for logs: subset, row, file (and line) and
// reason.
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s row %d (%s:%d): %s", p.Subset, p.Row, p.File, p.Line, p.Reason)
	}
	return fmt.Sprintf("%s row %d (%s): %s", p.Subset, p.Row, p.File, p.Reason)
}

// SubsetStats counts one subset's rows.
type SubsetStats struct {
	Subset string
	// Rows is how many source rows were read (after the cap), Kept how
	// many became examples; the others are in Stats.Problems.
	Rows, Kept int
}

// Stats reports what a load read and what it left out. Every row read is
// either kept or listed in Problems.
type Stats struct {
	Subsets  []SubsetStats
	Problems []Problem
}

// Rows is the number of rows read over all subsets.
func (s *Stats) Rows() int {
	n := 0
	for _, st := range s.Subsets {
		n += st.Rows
	}
	return n
}

// Kept is the number of rows that became examples.
func (s *Stats) Kept() int {
	n := 0
	for _, st := range s.Subsets {
		n += st.Kept
	}
	return n
}

// Skipped is the number of rows left out.
func (s *Stats) Skipped() int { return len(s.Problems) }

// add merges o into s.
func (s *Stats) add(o *Stats) {
	s.Subsets = append(s.Subsets, o.Subsets...)
	s.Problems = append(s.Problems, o.Problems...)
}

// String summarises the load: totals, then skipped rows grouped by reason
// kind (the reason up to its first colon or quote, so "missing image
// \"a.png\"" and "missing image \"b.png\"" count together).
func (s *Stats) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d subsets, %d rows, %d kept, %d skipped", len(s.Subsets), s.Rows(), s.Kept(), s.Skipped())
	if len(s.Problems) == 0 {
		return b.String()
	}
	kinds := map[string]int{}
	for _, p := range s.Problems {
		k := p.Reason
		if i := strings.IndexAny(k, ":\""); i > 0 {
			k = strings.TrimSpace(k[:i])
		}
		kinds[k]++
	}
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	b.WriteString(" (")
	for i, k := range names {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d %s", kinds[k], k)
	}
	b.WriteString(")")
	return b.String()
}
