package mmeb

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/org/vlm2vec/instruct"
)

// checkDataset asserts the loader invariants: every row read is either a
// query or a reported problem, and every query can be scored.
func checkDataset(t *testing.T, ds *Dataset) {
	t.Helper()
	if ds.Task.Modality != ModVisDoc && len(ds.Queries)+len(ds.Problems) != ds.Rows {
		t.Fatalf("%d queries + %d problems != %d rows", len(ds.Queries), len(ds.Problems), ds.Rows)
	}
	for _, q := range ds.Queries {
		if len(q.Candidates) == 0 || len(q.Labels) == 0 {
			t.Fatalf("row %d: unscorable query %+v", q.Row, q)
		}
		if q.Rel != nil && len(q.Rel) != len(q.Labels) {
			t.Fatalf("row %d: %d grades for %d labels", q.Row, len(q.Rel), len(q.Labels))
		}
	}
	for _, p := range ds.Problems {
		if p.Reason == "" {
			t.Fatal("problem without a reason")
		}
	}
}

// FuzzParquetV1 feeds arbitrary bytes to the parquet reader and the V1 row
// builder: corrupt files must give errors, never panics or runaway
// allocations.
func FuzzParquetV1(f *testing.F) {
	for _, name := range []string{"MMEB-eval/VOC2007", "MMEB-eval/OK-VQA", "MMEB_Test_Instruct/MSCOCO_t2i"} {
		b, err := os.ReadFile(filepath.Join(synth, name, "test-00000-of-00001.parquet"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	specs := []colSpec{
		{path: []string{"qry_text"}},
		{path: []string{"qry_img_path"}},
		{path: []string{"tgt_text"}, kind: colList},
		{path: []string{"tgt_img_path"}, kind: colList, optional: true},
	}
	task := Task{Name: "VOC2007", Ranking: Local, Metric: MetricHit1}
	f.Fuzz(func(t *testing.T, data []byte) {
		tb := &pqTable{cols: map[string][]pqCell{}, present: map[string]bool{}}
		if err := readParquetReader(bytes.NewReader(data), int64(len(data)), specs, tb); err != nil {
			return
		}
		ds, err := buildV1(context.Background(), tb, t.TempDir(), task, LoadOptions{SkipFileCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		checkDataset(t, ds)
	})
}

// splitList turns a fuzz string into a list ("|" separates entries, "~"
// stands for a null entry, a leading "!" for a null list).
func splitList(s string) pqCell {
	if strings.HasPrefix(s, "!") {
		return pqCell{null: true}
	}
	if s == "" {
		return pqCell{}
	}
	var c pqCell
	for _, e := range strings.Split(s, "|") {
		if e == "~" {
			c.nulls++
			e = ""
		}
		c.list = append(c.list, e)
	}
	return c
}

func scalar(s string) pqCell {
	if s == "~" {
		return pqCell{null: true}
	}
	return pqCell{str: s}
}

// FuzzRowBuilders drives the V1 and MMEB_Test_Instruct row builders with
// arbitrary field values (ragged lists, nulls, empty strings, tokens) for
// every image-task family.
func FuzzRowBuilders(f *testing.F) {
	f.Add("<|image_1|>\nIdentify the object shown in the image", "", "a.png", "", "red|green", "|", uint8(0))
	f.Add("Find me an everyday image that matches the given caption:", "A cat", "", "<|image_1|>\nRepresent the given image.", "|", "x.png|y.png", uint8(3))
	f.Add("<|image_1|>\nSelect", `"dog"`, "q.png", "<|image_1|>\nRepresent", `"a"|"b"`, "c.png|c.png", uint8(4))
	f.Add("~", "~", "~", "~", "!", "!", uint8(1))
	families := []instruct.Family{instruct.FamilyCLS, instruct.FamilyQA, instruct.FamilyI2T, instruct.FamilyT2I, instruct.FamilyI2IVG}
	f.Fuzz(func(t *testing.T, qinst, qtext, qimg, tinst, ttext, timg string, fam uint8) {
		task := Task{Name: "X", Ranking: Local, Metric: MetricHit1, Family: families[int(fam)%len(families)]}
		tb := &pqTable{rows: 1, cols: map[string][]pqCell{
			"qry_inst": {scalar(qinst)}, "qry_text": {scalar(qtext)}, "qry_img_path": {scalar(qimg)},
			"tgt_inst": {scalar(tinst)}, "tgt_text": {splitList(ttext)}, "tgt_img_path": {splitList(timg)},
		}}
		opts := LoadOptions{SkipFileCheck: true}
		ds, err := buildV1(context.Background(), tb, "/img", task, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkDataset(t, ds)
		ds, err = buildInstruct(context.Background(), tb, "/img", task, opts)
		if err != nil {
			t.Fatal(err)
		}
		checkDataset(t, ds)
		// A scored row must evaluate.
		if len(ds.Queries) > 0 {
			if _, err := Evaluate(context.Background(), &ColorWordEmbedder{Dim: 16}, &Dataset{Task: task, Rows: 1,
				Queries: []Query{{Item: Item{Text: ds.Queries[0].Item.Text}, Candidates: textOnly(ds.Queries[0].Candidates), Labels: ds.Queries[0].Labels}}}, Options{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func textOnly(cs []Candidate) []Candidate {
	out := make([]Candidate, len(cs))
	for i, c := range cs {
		out[i] = Candidate{Name: c.Name, Item: Item{Text: c.Item.Text}}
	}
	return out
}

// FuzzVisDocQrels drives the visual-document builder with arbitrary qrels
// (ids, scores of any sign, duplicates, dangling references).
func FuzzVisDocQrels(f *testing.F) {
	f.Add("1,2,3", "1:1:2;1:1:1;2:3:0;3:9:1", "q one|q two|")
	f.Add("a,a", "a:x:1", "|")
	f.Fuzz(func(t *testing.T, corpus, qrels, queries string) {
		ct := &pqTable{cols: map[string][]pqCell{}}
		for _, c := range strings.Split(corpus, ",") {
			ct.cols["corpus-id"] = append(ct.cols["corpus-id"], scalar(c))
			ct.rows++
		}
		rt := &pqTable{cols: map[string][]pqCell{}}
		for _, r := range strings.Split(qrels, ";") {
			p := strings.SplitN(r, ":", 3)
			for len(p) < 3 {
				p = append(p, "~")
			}
			sc := scalar(p[2])
			if v, err := strconv.ParseFloat(p[2], 64); err == nil {
				sc.isNum, sc.num = true, v
			}
			rt.cols["query-id"] = append(rt.cols["query-id"], scalar(p[0]))
			rt.cols["corpus-id"] = append(rt.cols["corpus-id"], scalar(p[1]))
			rt.cols["score"] = append(rt.cols["score"], sc)
			rt.rows++
		}
		qt := &pqTable{cols: map[string][]pqCell{}}
		for i, q := range strings.Split(queries, "|") {
			qt.cols["query-id"] = append(qt.cols["query-id"], scalar(strconv.Itoa(i+1)))
			qt.cols["query"] = append(qt.cols["query"], scalar(q))
			qt.rows++
		}
		task := Task{Name: "ViDoRe_x", Modality: ModVisDoc, Ranking: Global, Metric: MetricNDCGLin5}
		ds, err := buildVisDoc(context.Background(), qt, rt, ct, nil, "/img", task, LoadOptions{SkipFileCheck: true})
		if err != nil {
			t.Fatal(err)
		}
		checkDataset(t, ds)
		if len(ds.Queries)+countTable(ds.Problems, "queries") != ds.Rows {
			t.Fatalf("queries %d + problems %d != rows %d", len(ds.Queries), countTable(ds.Problems, "queries"), ds.Rows)
		}
		for _, q := range ds.Queries {
			for _, g := range q.Rel {
				if !(g > 0) {
					t.Fatalf("non-positive grade %v kept", g)
				}
			}
		}
	})
}

func countTable(ps []Problem, table string) int {
	n := 0
	for _, p := range ps {
		if p.Table == table {
			n++
		}
	}
	return n
}

// FuzzCacheSegment opens arbitrary bytes as a cache segment: it must be
// indexed or rejected, and reads must never panic.
func FuzzCacheSegment(f *testing.F) {
	dir := f.TempDir()
	c, _ := OpenCache(dir)
	c.Put("m", Item{Text: "a"}, []float32{1, 2, 3})
	c.Put("m", Item{Text: "b"}, []float32{4})
	c.Close()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		f.Add(b)
	}
	f.Add([]byte(cacheMagic + "\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d := t.TempDir()
		os.WriteFile(filepath.Join(d, "00000000000000000001-1.emb"), data, 0o644)
		c, err := OpenCache(d)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for _, txt := range []string{"a", "b", "c"} {
			if v, ok, err := c.Get("m", Item{Text: txt}); err == nil && ok && len(v) > 1<<24 {
				t.Fatal("absurd vector")
			}
		}
	})
}

// FuzzDataFormatSwap checks the data-format contract: rewriting with the
// data token and swapping later equals rewriting for the backbone
// directly, for every family and backbone.
func FuzzDataFormatSwap(f *testing.F) {
	f.Add("<|image_1|>\nRepresent the given image with the following question:", "What is it?", "VisDial", uint8(1), uint8(2))
	f.Add("Find me an everyday image:", " \n x", "WebQA", uint8(3), uint8(1))
	families := []instruct.Family{instruct.FamilyCLS, instruct.FamilyQA, instruct.FamilyI2T, instruct.FamilyT2I, instruct.FamilyI2IVG}
	backbones := []instruct.Backbone{instruct.Phi3V, instruct.LlavaNext, instruct.Qwen2VL, instruct.Qwen25VL}
	f.Fuzz(func(t *testing.T, inst, text, dataset string, fam, bb uint8) {
		if strings.Contains(text, "<|") || strings.Contains(inst, "<|video_pad|>") || strings.Contains(inst, "<|image_pad|>") || strings.Contains(inst, "<image>") {
			t.Skip("text carrying placeholder tokens is outside the contract")
		}
		fm, b := families[int(fam)%len(families)], backbones[int(bb)%len(backbones)]
		direct, err := instruct.V2Query(fm, dataset, inst, text, b)
		if err != nil {
			t.Fatal(err)
		}
		data, err := instruct.V2Query(fm, dataset, inst, text, instruct.Phi3V)
		if err != nil {
			t.Fatal(err)
		}
		swapped, err := instruct.Swap(data.Text, b)
		if err != nil {
			t.Fatal(err)
		}
		if swapped != direct.Text || data.Image != direct.Image {
			t.Fatalf("swap %q != direct %q", swapped, direct.Text)
		}
		if !strings.HasSuffix(direct.Text, "\n") {
			t.Fatalf("query %q lacks the trailing newline", direct.Text)
		}
	})
}

// FuzzPyFloat: the JSON number text must read back as the same float.
func FuzzPyFloat(f *testing.F) {
	f.Add(0.19120000000000004)
	f.Add(1e-7)
	f.Fuzz(func(t *testing.T, v float64) {
		s := pyFloat(v)
		if v != v || v > 1e308 || v < -1e308 {
			return
		}
		back, err := strconv.ParseFloat(s, 64)
		if err != nil || back != v {
			t.Fatalf("%v -> %q -> %v, %v", v, s, back, err)
		}
	})
}

// FuzzNaturalLess: the frame-name order of the video layouts is a strict
// order on any names (irreflexive, antisymmetric), so sorting frames is
// well defined whatever a frames directory holds.
func FuzzNaturalLess(f *testing.F) {
	f.Add("frame_2.jpg", "frame_10.jpg")
	f.Add("00001.png", "1.png")
	f.Add("a", "a0")
	f.Fuzz(func(t *testing.T, a, b string) {
		if naturalLess(a, a) {
			t.Fatalf("%q < itself", a)
		}
		if naturalLess(a, b) && naturalLess(b, a) {
			t.Fatalf("%q and %q each less than the other", a, b)
		}
	})
}

// FuzzVideoParquet feeds arbitrary bytes, seeded with the synthetic
// benchmark's files, to every video loader as that task's table (frames
// from the synthetic frame tree): a corrupt or odd file is an error or
// left-out rows, never a panic or an unscorable query.
func FuzzVideoParquet(f *testing.F) {
	video := TasksOf(ModVideo)
	for i, task := range video {
		if task.Name == "MVBench" {
			continue // subset folders; its flat form is covered through the others' columns
		}
		b, err := os.ReadFile(filepath.Join(synth, "video", task.Name, "test-00000-of-00001.parquet"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i))
	}
	frames := filepath.Join(synth, "frames")
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		task := video[int(which)%len(video)]
		file := filepath.Join(t.TempDir(), "t.parquet")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ds, err := LoadVideo(context.Background(), file, frames, task, LoadOptions{})
		if err != nil {
			return
		}
		checkDataset(t, ds)
	})
}
