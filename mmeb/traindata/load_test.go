package traindata

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// checkStats asserts the loader invariant: every row read is kept or
// reported, and kept rows are the examples returned.
func checkStats(t testing.TB, ex []Example, st *Stats) {
	t.Helper()
	if st.Rows() != st.Kept()+st.Skipped() {
		t.Fatalf("%d rows != %d kept + %d skipped", st.Rows(), st.Kept(), st.Skipped())
	}
	if st.Kept() != len(ex) {
		t.Fatalf("%d kept but %d examples", st.Kept(), len(ex))
	}
	seen := map[string]bool{}
	for _, e := range ex {
		k := e.Subset + "\x00" + strconv.Itoa(e.Row)
		if seen[k] {
			t.Fatalf("row %d of %s twice", e.Row, e.Subset)
		}
		seen[k] = true
	}
	for _, p := range st.Problems {
		if p.Reason == "" {
			t.Fatalf("problem without a reason: %+v", p)
		}
		if seen[p.Subset+"\x00"+strconv.Itoa(p.Row)] {
			t.Fatalf("row %d both kept and skipped", p.Row)
		}
	}
}

func touch(t *testing.T, dir string, rel ...string) {
	t.Helper()
	for _, r := range rel {
		p := filepath.Join(dir, r)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadJSONL(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "img/a.png", "img/b.png")
	lines := []string{
		"\xef\xbb\xbf" + `{"qry": "<|image_1|>\nFind a caption.\n", "qry_image_path": "img/a.png", "pos_text": "a cat", "pos_image_path": ""}`, // row 0: BOM, kept
		``, // blank: not a row
		`{"qry": "", "qry_image_path": "", "pos_text": "x", "pos_image_path": ""}`,    // row 1: empty query
		`{"qry": "q", "qry_image_path": "", "pos_text": " \n", "pos_image_path": ""}`, // row 2: empty positive
		`{"qry": "q", "pos_text": "p"`, // row 3: bad JSON
		`{"qry": 3, "pos_text": "p"}`,  // row 4: not a string
		`{"qry": "q", "qry_image_path": null, "pos_text": "<|image_1|>\n", "pos_image_path": "img/b.png"}` + "\r", // row 5: null, CRLF: kept
		`{"qry": "q", "qry_image_path": "img/missing.png", "pos_text": "p"}`,                                      // row 6: missing image
		`{"qry": "q", "pos_text": "p", "neg_text": "n", "neg_image_path": "img/b.png", "extra": [1]}`,             // row 7: kept with negative
		`[1, 2]`,                             // row 8: not an object
		`null`,                               // row 9: not an object
		`   {"qry": "q", "pos_text": "p"}  `, // row 10: kept (surrounding spaces are fine JSON)
	}
	data := strings.Join(lines, "\n") // no final newline
	ex, st, err := ReadJSONL(strings.NewReader(data), "S", "s.jsonl", LoadOptions{ImageRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, ex, st)
	var rows []int
	for _, e := range ex {
		rows = append(rows, e.Row)
	}
	if !reflect.DeepEqual(rows, []int{0, 5, 7, 10}) {
		t.Fatalf("kept rows %v", rows)
	}
	if ex[0].Query != "<|image_1|>\nFind a caption.\n" || ex[0].QueryImage != filepath.Join(root, "img/a.png") || ex[0].Positive != "a cat" || ex[0].PositiveImage != "" {
		t.Fatalf("row 0: %+v", ex[0])
	}
	if ex[1].QueryImage != "" || ex[1].PositiveImage != filepath.Join(root, "img/b.png") || ex[1].HasNegative() {
		t.Fatalf("row 5: %+v", ex[1])
	}
	if !ex[2].HasNegative() || ex[2].Negative != "n" || ex[2].NegativeImage != filepath.Join(root, "img/b.png") {
		t.Fatalf("row 7: %+v", ex[2])
	}
	want := map[int]struct {
		line   int
		reason string
	}{1: {3, "empty query"}, 2: {4, "empty positive"}, 3: {5, "bad JSON"}, 4: {6, `field "qry" is not a string`},
		6: {8, `missing image "img/missing.png" (qry_image_path)`}, 8: {10, "bad JSON"}, 9: {11, "bad JSON: not an object"}}
	if len(st.Problems) != len(want) {
		t.Fatalf("problems: %v", st.Problems)
	}
	for _, p := range st.Problems {
		w, ok := want[p.Row]
		if !ok || p.Line != w.line || !strings.HasPrefix(p.Reason, w.reason) || p.Subset != "S" || p.File != "s.jsonl" {
			t.Errorf("problem %+v, want %+v", p, w)
		}
	}
	if st.Rows() != 11 {
		t.Fatalf("rows %d", st.Rows())
	}
	if s := st.String(); !strings.Contains(s, "11 rows, 4 kept, 7 skipped") || !strings.Contains(s, "3 bad JSON") || !strings.Contains(s, "1 missing image") {
		t.Fatalf("summary %q", s)
	}

	// SkipImageCheck keeps the row with the missing image; SkipNegatives
	// drops row 7's negative.
	ex, st, _ = ReadJSONL(strings.NewReader(data), "S", "s.jsonl", LoadOptions{ImageRoot: root, SkipImageCheck: true, SkipNegatives: true})
	checkStats(t, ex, st)
	if len(ex) != 5 || ex[2].Row != 6 || ex[3].HasNegative() {
		t.Fatalf("%+v", ex)
	}
}

func TestLimitCountsBadRows(t *testing.T) {
	data := "{\"qry\":\"a\",\"pos_text\":\"b\"}\nnot json\n\n{\"qry\":\"c\",\"pos_text\":\"d\"}\n{\"qry\":\"e\",\"pos_text\":\"f\"}\n"
	for limit, want := range map[int][2]int{1: {1, 1}, 2: {2, 1}, 3: {3, 2}, 10: {4, 3}} {
		ex, st, err := ReadJSONL(strings.NewReader(data), "S", "f", LoadOptions{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		checkStats(t, ex, st)
		if st.Rows() != want[0] || len(ex) != want[1] {
			t.Errorf("limit %d: %d rows %d kept, want %v", limit, st.Rows(), len(ex), want)
		}
	}
}

func TestLongLine(t *testing.T) {
	defer func(n int) { maxLine = n }(maxLine)
	maxLine = 100
	long := `{"qry":"` + strings.Repeat("x", 200) + `","pos_text":"p"}`
	ok := `{"qry":"q","pos_text":"p"}`
	ex, st, err := ReadJSONL(strings.NewReader(ok+"\n"+long+"\n"+ok+"\r\n"+long), "S", "f", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, ex, st)
	if len(ex) != 2 || ex[1].Row != 2 || len(st.Problems) != 2 || st.Problems[0].Line != 2 || st.Problems[1].Line != 4 {
		t.Fatalf("%+v %+v", ex, st.Problems)
	}
	if !strings.Contains(st.Problems[0].Reason, "longer than 100") {
		t.Fatal(st.Problems[0].Reason)
	}
}

// sampleRows has good and bad rows for the JSONL/parquet equivalence test.
func sampleRows() []Row {
	return []Row{
		{Qry: "<|image_1|>\nq0\n", QryImagePath: "img/a.png", PosText: "p0"},
		{Qry: "", PosText: "p1"},
		{Qry: "q2", PosText: "<|image_1|>\nRepresent the given image.\n", PosImagePath: "img/b.png", NegText: "n", NegImagePath: "img/a.png"},
		{Qry: "q3", PosText: ""},
		{Qry: "q4", QryImagePath: "img/none.png", PosText: "p4"},
		{Qry: "q5", PosText: "p5", NegText: "n5"},
	}
}

func TestParquetMatchesJSONL(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "img/a.png", "img/b.png")
	pq := filepath.Join(root, "S", "original-00000-of-00001.parquet")
	if err := os.MkdirAll(filepath.Dir(pq), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteParquet(pq, sampleRows()); err != nil {
		t.Fatal(err)
	}
	jl := filepath.Join(root, "S.jsonl")
	if err := WriteJSONL(jl, sampleRows()); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int{0, 3} {
		opts := LoadOptions{ImageRoot: root, Limit: limit}
		a, sa, err := LoadParquet(filepath.Dir(pq), "S", opts)
		if err != nil {
			t.Fatal(err)
		}
		b, sb, err := LoadJSONL(jl, "S", opts)
		if err != nil {
			t.Fatal(err)
		}
		checkStats(t, a, sa)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("parquet %+v\njsonl %+v", a, b)
		}
		if !reflect.DeepEqual(sa.Subsets, sb.Subsets) || len(sa.Problems) != len(sb.Problems) {
			t.Fatalf("stats differ: %v vs %v", sa, sb)
		}
		for i := range sa.Problems {
			if sa.Problems[i].Row != sb.Problems[i].Row || sa.Problems[i].Reason != sb.Problems[i].Reason || sa.Problems[i].Line != 0 {
				t.Fatalf("problem %d: %+v vs %+v", i, sa.Problems[i], sb.Problems[i])
			}
		}
		if limit == 0 && (len(a) != 3 || len(sa.Problems) != 3) {
			t.Fatalf("kept %d, problems %v", len(a), sa.Problems)
		}
	}
}

// nullableRow writes optional columns the way pyarrow does (nil is null).
type nullableRow struct {
	Qry          *string `parquet:"qry,optional"`
	QryImagePath *string `parquet:"qry_image_path,optional"`
	PosText      *string `parquet:"pos_text,optional"`
}

func TestParquetNullsAndColumns(t *testing.T) {
	dir := t.TempDir()
	s := func(v string) *string { return &v }
	f := filepath.Join(dir, "n.parquet")
	if err := writeParquet(f, []nullableRow{
		{Qry: s("q"), PosText: s("p")},     // null image: kept
		{Qry: nil, PosText: s("p")},        // null query, no image: empty
		{Qry: s("q"), QryImagePath: s("")}, // null positive: empty
	}); err != nil {
		t.Fatal(err)
	}
	ex, st, err := LoadParquet(f, "N", LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, ex, st)
	if len(ex) != 1 || st.Problems[0].Reason != "empty query" || st.Problems[1].Reason != "empty positive" {
		t.Fatalf("%+v %v", ex, st.Problems)
	}
	// A file without a required column is an error, not rows.
	type noPos struct {
		Qry string `parquet:"qry"`
	}
	g := filepath.Join(dir, "g.parquet")
	if err := writeParquet(g, []noPos{{"q"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadParquet(g, "G", LoadOptions{}); err == nil || !strings.Contains(err.Error(), "pos_text") {
		t.Fatalf("err %v", err)
	}
	// A corrupt file is an error.
	bad := filepath.Join(dir, "bad.parquet")
	if err := os.WriteFile(bad, []byte("PAR1 not really PAR1"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadParquet(bad, "B", LoadOptions{}); err == nil {
		t.Fatal("corrupt file loaded")
	}
}

func TestPickSplit(t *testing.T) {
	files := []string{"d/diverse_instruction-00000-of-00001.parquet", "d/original-00000-of-00002.parquet", "d/original-00001-of-00002.parquet", "d/train-00000-of-00001.parquet"}
	got, err := pickSplit(files, "")
	if err != nil || len(got) != 2 || splitOf(got[1]) != "original" {
		t.Fatalf("%v %v", got, err)
	}
	if got, _ := pickSplit(files, "train"); len(got) != 1 {
		t.Fatal(got)
	}
	if _, err := pickSplit(files, "test"); err == nil || !strings.Contains(err.Error(), "diverse_instruction, original, train") {
		t.Fatal(err)
	}
	if _, err := pickSplit(files[3:], ""); err != nil {
		t.Fatal(err)
	}
	if _, err := pickSplit([]string{files[0], files[3]}, ""); err == nil {
		t.Fatal("ambiguous splits accepted")
	}
}

func TestLoadDir(t *testing.T) {
	root := t.TempDir()
	rows := []Row{{Qry: "q", PosText: "p"}, {Qry: "q2", PosText: "p2"}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(WriteJSONL(filepath.Join(root, "B.jsonl"), rows))
	must(os.MkdirAll(filepath.Join(root, "A", "data"), 0o755))
	must(WriteParquet(filepath.Join(root, "A", "data", "original-00000-of-00001.parquet"), rows[:1]))
	must(WriteParquet(filepath.Join(root, "A", "data", "train-00000-of-00001.parquet"), rows))
	must(WriteParquet(filepath.Join(root, "C.parquet"), rows))
	touch(t, root, "images/A/x.png", "README.md", ".hidden.jsonl", "_skip/original.parquet")
	subs, st, err := LoadDir(root, LoadOptions{})
	must(err)
	var names []string
	for _, s := range subs {
		names = append(names, s.Name+":"+strconv.Itoa(len(s.Examples)))
	}
	if strings.Join(names, " ") != "A:1 B:2 C:2" || st.Rows() != 5 || len(Concat(subs)) != 5 {
		t.Fatalf("%v %v", names, st)
	}
	subs, _, err = LoadDir(root, LoadOptions{Subsets: []string{"C", "A"}, Split: "train", Limit: 1})
	must(err)
	if len(subs) != 2 || subs[0].Name != "C" || len(subs[1].Examples) != 1 {
		t.Fatalf("%+v", subs)
	}
	if _, _, err := LoadDir(root, LoadOptions{Subsets: []string{"Z"}}); err == nil {
		t.Fatal("missing subset accepted")
	}
	must(WriteJSONL(filepath.Join(root, "A.jsonl"), rows))
	if _, _, err := LoadDir(root, LoadOptions{}); err == nil || !strings.Contains(err.Error(), `"A" is both`) {
		t.Fatalf("duplicate subset: %v", err)
	}
}

// testdata/hf was written by pyarrow (make_hf.py): nullable columns,
// dictionary pages, snappy, several row groups, a shard without the
// negative columns, and a second split.
func TestLoadPyarrowShards(t *testing.T) {
	root := filepath.Join("testdata", "hf")
	subs, st, err := LoadDir(root, LoadOptions{ImageRoot: root})
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, subs[0].Examples, st)
	if len(subs) != 1 || subs[0].Name != "Shapes" || st.Rows() != 6 {
		t.Fatalf("%+v %v", subs, st)
	}
	var rows []int
	for _, e := range subs[0].Examples {
		rows = append(rows, e.Row)
	}
	if !reflect.DeepEqual(rows, []int{0, 3, 4}) {
		t.Fatalf("kept %v; %v", rows, st.Problems)
	}
	want := []string{"empty positive", "empty query", `missing image "images/missing.png" (qry_image_path)`}
	for i, p := range st.Problems {
		if p.Reason != want[i] || p.File != filepath.Join(root, "Shapes") {
			t.Errorf("problem %d: %v", i, p)
		}
	}
	e := subs[0].Examples
	if e[0].QueryImage != filepath.Join(root, "images/a.png") || e[0].Positive != "a red circle" ||
		e[1].Negative != "a blue circle" || e[1].NegativeImage != "" ||
		e[2].Positive != "<|image_1|>\nRepresent the given image.\n" || e[2].QueryImage != "" || e[2].HasNegative() {
		t.Fatalf("%+v", e)
	}
	subs, _, err = LoadDir(root, LoadOptions{Split: "diverse_instruction", SkipImageCheck: true})
	if err != nil || len(subs[0].Examples) != 1 || subs[0].Examples[0].Query != "other split" {
		t.Fatalf("%+v %v", subs, err)
	}
}
