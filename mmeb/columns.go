package mmeb

// This file exports the parquet reading helpers to other packages of the
// module (mmeb/traindata reads MMEB-train shards with them), so there is a
// single hardened parquet reader: page-wise decoding, bounded allocations,
// panics in the parquet library turned into errors.

// StringColumn is one scalar parquet column read as text, one cell per row.
type StringColumn struct {
	// Values holds each cell as text ("" for a null cell); numbers and
	// booleans are printed as Python would print them.
	Values []string
	// Null marks null cells. It is nil when the column was absent from
	// every file (an optional column), which reads as all null.
	Null []bool
}

// At returns row r's value and whether it is non-null; rows past the end
// (an absent column) read as null.
func (c StringColumn) At(r int) (string, bool) {
	if r < 0 || r >= len(c.Values) {
		return "", false
	}
	return c.Values[r], !c.Null[r]
}

// ReadStringColumns decodes the named scalar (non-list) columns of the
// parquet files, concatenated in order, and returns the total row count and
// the columns by name. A column in required that a file lacks is an error;
// one in optional reads as null there. Columns not named are never decoded
// (so embedded image bytes cost nothing). Corrupt files give an error,
// never a panic.
func ReadStringColumns(files []string, required, optional []string) (rows int, cols map[string]StringColumn, err error) {
	specs := stringSpecs(required, optional)
	t, err := readParquet(files, specs)
	if err != nil {
		return 0, nil, err
	}
	return t.rows, stringColumns(t, specs), nil
}

func stringSpecs(required, optional []string) []colSpec {
	var specs []colSpec
	for _, n := range required {
		specs = append(specs, colSpec{path: []string{n}})
	}
	for _, n := range optional {
		specs = append(specs, colSpec{path: []string{n}, optional: true})
	}
	return specs
}

func stringColumns(t *pqTable, specs []colSpec) map[string]StringColumn {
	cols := make(map[string]StringColumn, len(specs))
	for _, s := range specs {
		key := s.path[0]
		cells := t.cols[key]
		if len(cells) == 0 && !t.present[key] {
			cols[key] = StringColumn{}
			continue
		}
		// Size by the table's row count: readParquet pads columns, but a
		// short column must never make a caller index out of range.
		c := StringColumn{Values: make([]string, t.rows), Null: make([]bool, t.rows)}
		for i := range c.Null {
			if i < len(cells) {
				c.Values[i], c.Null[i] = cells[i].str, cells[i].null
			} else {
				c.Null[i] = true
			}
		}
		cols[key] = c
	}
	return cols
}
