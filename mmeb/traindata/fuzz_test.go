package traindata

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// fuzzSeeds are JSONL lines, good and bad, to start the fuzzers from.
var fuzzSeeds = []string{
	`{"qry": "<|image_1|>\nFind an image caption describing the given everyday image.\n", "qry_image_path": "images/train/00000.png", "pos_text": "a red circle on a white background", "pos_image_path": ""}`,
	`{"qry": "Find me an everyday image that matches the given caption: a red circle\n", "qry_image_path": "", "pos_text": "<|image_1|>\nRepresent the given image.\n", "pos_image_path": "a.png", "neg_text": "<|image_1|>\nRepresent the given image.\n", "neg_image_path": "b.png"}`,
	`{"qry": null, "pos_text": "p"}`,
	`{"qry": "\u00e9\ud83d\ude00", "pos_text": "x", "qry": "dup"}`,
	`{"qry": 1, "pos_text": []}`,
	`{"qry": "q", "pos_text": "p"} trailing`,
	`[]`, `null`, `"str"`, `{`, ``, "\xef\xbb\xbf{}", "{\"qry\":\"\xff\"}",
}

// FuzzParseRow checks the JSONL row parser against encoding/json's generic
// decoding: it never panics, accepts exactly the JSON objects whose six
// columns are strings or null, and returns their values.
func FuzzParseRow(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseRow(line)
		var m map[string]any
		merr := json.Unmarshal(line, &m)
		wantOK := merr == nil && m != nil
		want := map[string]string{}
		for _, col := range []string{ColQuery, ColQueryImage, ColPositive, ColPositiveImage, ColNegative, ColNegativeImage} {
			if !wantOK {
				break
			}
			switch v := m[col].(type) {
			case nil:
			case string:
				want[col] = v
			default:
				wantOK = false
			}
		}
		if (err == nil) != wantOK {
			t.Fatalf("parseRow error %v, generic decode error %v (%q)", err, merr, line)
		}
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		got := map[string]string{ColQuery: r.qry, ColQueryImage: r.qryImage, ColPositive: r.pos, ColPositiveImage: r.posImage, ColNegative: r.neg, ColNegativeImage: r.negImage}
		for col, v := range got {
			if v != want[col] {
				t.Fatalf("%s = %q, want %q", col, v, want[col])
			}
		}
		// Writing the row back and reading it gives the same row.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(Row{r.qry, r.qryImage, r.pos, r.posImage, r.neg, r.negImage}); err != nil {
			t.Fatal(err)
		}
		r2, err := parseRow(bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
		if err != nil || r2 != r {
			t.Fatalf("round trip: %+v vs %+v (%v)", r2, r, err)
		}
	})
}

// FuzzReadJSONL feeds arbitrary files to the JSONL loader: every row read
// is kept or reported with its row and line number, rows are numbered
// 0..n-1 in order, the cap is respected, and kept rows are trainable.
func FuzzReadJSONL(f *testing.F) {
	f.Add([]byte(strings.Join(fuzzSeeds, "\n")), uint8(0))
	f.Add([]byte(strings.Join(fuzzSeeds, "\r\n")+"\n\n"), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, limit uint8) {
		ex, st, err := ReadJSONL(bytes.NewReader(data), "F", "f.jsonl", LoadOptions{Limit: int(limit), SkipImageCheck: true})
		if err != nil {
			t.Fatal(err) // a bytes.Reader never fails
		}
		checkStats(t, ex, st)
		if limit > 0 && st.Rows() > int(limit) {
			t.Fatalf("%d rows read with limit %d", st.Rows(), limit)
		}
		if st.Rows() > bytes.Count(data, []byte("\n"))+1 {
			t.Fatalf("%d rows from %d lines", st.Rows(), bytes.Count(data, []byte("\n"))+1)
		}
		line := map[int]int{}
		for _, p := range st.Problems {
			if p.Line < 1 || p.Subset != "F" || p.File != "f.jsonl" {
				t.Fatalf("problem %+v", p)
			}
			line[p.Row] = p.Line
		}
		for _, e := range ex {
			line[e.Row] = -1
			if strings.TrimSpace(e.Query) == "" && e.QueryImage == "" || strings.TrimSpace(e.Positive) == "" && e.PositiveImage == "" {
				t.Fatalf("untrainable row kept: %+v", e)
			}
		}
		prev := 0
		for r := 0; r < st.Rows(); r++ {
			l, ok := line[r]
			if !ok {
				t.Fatalf("row %d neither kept nor reported", r)
			}
			if l > 0 {
				if l <= prev {
					t.Fatalf("row %d on line %d after line %d", r, l, prev)
				}
				prev = l
			}
		}
	})
}
