package mmeb

import (
	"context"
	"math"
	"testing"
)

// synthLayout is where the synthetic benchmark keeps a task.
func synthLayout(t Task) string {
	switch t.Modality {
	case ModVisDoc:
		return "visdoc"
	case ModVideo:
		return "video"
	}
	return "MMEB-eval"
}

// TestSyntheticAll78 loads every one of the 78 tasks from the synthetic
// benchmark (scripts/mmeb/make_synthetic.py: each family in its
// reference layout, with malformed rows) and checks rows, left-out rows
// and the closed-form scores the generator computed for the trivial
// embedder.
func TestSyntheticAll78(t *testing.T) {
	exp := readExpected(t)
	if len(exp) != 78 {
		t.Fatalf("expected.json covers %d tasks, want 78", len(exp))
	}
	emb := &ColorWordEmbedder{}
	for _, task := range Tasks() {
		t.Run(task.Name, func(t *testing.T) {
			want, ok := exp[task.Name]
			if !ok {
				t.Fatalf("no expected scores for %s", task.Name)
			}
			ds := loadSynth(t, synthLayout(task), task.Name)
			res, err := Evaluate(context.Background(), emb, ds, Options{BatchSize: 5})
			if err != nil {
				t.Fatal(err)
			}
			if res.NumPred != int(want["num_pred"]) || res.NumData != int(want["num_data"]) {
				t.Errorf("num_pred %d num_data %d, want %v %v; problems %v", res.NumPred, res.NumData, want["num_pred"], want["num_data"], res.Problems)
			}
			for _, k := range []string{"hit@1", "ndcg_linear@5"} {
				w, ok := want[k]
				if !ok {
					continue
				}
				if g := res.Scores[k]; math.Abs(g-w) > 1e-9 {
					t.Errorf("%s = %v, want %v", k, g, w)
				}
			}
		})
	}
}

// TestVideoLoadersReadReferenceFields spot-checks what the new video
// loaders build from the synthetic rows: prompts byte for byte, candidate
// names, labels and frame counts.
func TestVideoLoadersReadReferenceFields(t *testing.T) {
	load := func(name string) *Dataset { return loadSynth(t, "video", name) }
	first := func(ds *Dataset) Query {
		if len(ds.Queries) == 0 {
			t.Fatalf("%s: no queries (problems %v)", ds.Task.Name, ds.Problems)
		}
		return ds.Queries[0]
	}
	const qa = "<|video_pad|> Given a video and a question, select the most accurate answer from the provided candidates. Return only the exact text of your chosen answer. Question:  "

	ds := load("K700")
	if len(ds.Corpus) != 700 {
		t.Errorf("K700 pool has %d labels after the rows', want the 700 classes", len(ds.Corpus))
	}
	if q := first(ds); q.Item.Text != "<|video_pad|> Recognize the category of the video content." || len(q.Item.Video) != 8 {
		t.Errorf("K700 query %q with %d frames", q.Item.Text, len(q.Item.Video))
	}

	q := first(load("MSR-VTT"))
	if len(q.Candidates) != 1 || q.Candidates[0].Item.Text != "<|video_pad|> Understand the content of the provided video." ||
		len(q.Candidates[0].Item.Video) != 8 || q.Labels[0] != q.Candidates[0].Name {
		t.Errorf("MSR-VTT candidate %+v labels %v", q.Candidates, q.Labels)
	}
	if want := "Find a video that contains the following visual content: "; len(q.Item.Text) <= len(want) || q.Item.Text[:len(want)] != want || q.Item.Video != nil {
		t.Errorf("MSR-VTT query %q", q.Item.Text)
	}

	q = first(load("MVBench"))
	if len(q.Item.Text) < len(qa) || q.Item.Text[:len(qa)] != qa || len(q.Candidates) < 2 || q.Candidates[0].Name[:4] != "(A) " {
		t.Errorf("MVBench query %q candidates %v", q.Item.Text, q.Candidates)
	}
	q = first(load("Video-MME"))
	if c := q.Candidates[0]; c.Name[:3] != "A. " || c.Item.Text != optionText(c.Name) {
		t.Errorf("Video-MME candidate %+v", c)
	}
	q = first(load("ActivityNetQA"))
	if len(q.Candidates) != 2 || q.Candidates[0].Name != "yes" || q.Item.Text[len(q.Item.Text)-len("? (A) yes; (B) no."):] != "? (A) yes; (B) no." {
		t.Errorf("ActivityNetQA query %q candidates %v", q.Item.Text, q.Candidates)
	}

	q = first(load("QVHighlight"))
	if len(q.Candidates) != 4 || len(q.Labels) != 1 || len(q.Item.Video) == 0 {
		t.Errorf("QVHighlight: %d clips, labels %v, %d query frames", len(q.Candidates), q.Labels, len(q.Item.Video))
	}
	kinds := map[string]int{}
	for _, q := range load("MomentSeeker").Queries {
		switch {
		case len(q.Item.Video) > 0:
			kinds["video"]++
		case q.Item.Image != "":
			kinds["image"]++
		default:
			kinds["text"]++
		}
		for _, c := range q.Candidates {
			if c.Item.Text != "<|video_pad|> Understand the content of the provided video clip." || len(c.Item.Video) == 0 {
				t.Errorf("MomentSeeker clip %+v", c)
			}
		}
	}
	if kinds["video"] == 0 || kinds["image"] == 0 || kinds["text"] == 0 {
		t.Errorf("MomentSeeker query kinds %v, want all three", kinds)
	}
}
