package mmeb

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestAllScoresMatchReference checks all_scores.json byte for byte against
// the report Python's json module writes for the same score files with the
// reference report script's rules (scripts/mmeb/all_scores_golden.py):
// every dataset listed, FILE_N/A and DIR_N/A, the -page-fixed rename,
// ensure_ascii escapes, indent 4.
func TestAllScoresMatchReference(t *testing.T) {
	for _, run := range []string{"run", "run2"} {
		dir := filepath.Join("testdata", "allscores", run)
		a, err := ReadScoreDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		a.Metadata["model_name"] = "modèle ✓ " + run
		a.Metadata["report_generated_date"] = pyISOFormat(time.Date(2026, 12, 7, 1, 2, 3, 456000, time.Local))
		got, err := a.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "allscores", run+"_all_scores.json"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: all_scores.json differs from the reference's bytes\n got: %.600s\nwant: %.600s", run, got, want)
		}
		// It reads back to the same main scores.
		back, err := ReadAllScores(bytes.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		if g, w := len(back.MainScores()), len(a.MainScores()); g != w || g == 0 {
			t.Errorf("%s: %d main scores read back, %d written", run, g, w)
		}
	}
}

func TestPyISOFormat(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2025, 12, 29, 9, 27, 50, 301732000, time.UTC), "2025-12-29T09:27:50.301732"},
		{time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), "2025-01-02T03:04:05"},
		{time.Date(2025, 1, 2, 3, 4, 5, 999, time.UTC), "2025-01-02T03:04:05"}, // below a microsecond
	} {
		if got := pyISOFormat(c.t); got != c.want {
			t.Errorf("pyISOFormat(%v) = %q, want %q", c.t, got, c.want)
		}
	}
}

// TestMainScoresPrefersFixedPages: with both "-page" and "-page-fixed"
// scores in a report, the fixed set is used on every run (it used to
// depend on map order).
func TestMainScoresPrefersFixedPages(t *testing.T) {
	a := &AllScores{Metrics: map[Modality]map[string]DatasetScores{ModVisDoc: {
		"ViDoSeek-page":          {Scores: Scores{MetricNDCGLin5: 0.39}},
		"ViDoSeek-page-fixed":    {Scores: Scores{MetricNDCGLin5: 0.62}},
		"MMLongBench-page-fixed": {Scores: Scores{MetricNDCGLin5: 0.5}},
		"MMLongBench-page":       {Scores: Scores{MetricNDCGLin5: 0.1}},
	}}}
	for i := 0; i < 50; i++ {
		m := a.MainScores()
		if m["ViDoSeek-page"] != 0.62 || m["MMLongBench-page"] != 0.5 {
			t.Fatalf("run %d: main scores %v, want the -fixed sets", i, m)
		}
	}
	out, err := a.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Count(out, []byte(`"ViDoSeek-page-fixed"`)) != 1 || bytes.Contains(out, []byte(`"ViDoSeek-page"`)) {
		t.Errorf("report should hold one ViDoSeek-page-fixed key:\n%s", out)
	}
}

func TestPyJSONString(t *testing.T) {
	for in, want := range map[string]string{
		`a"b\c`:         `"a\"b\\c"`,
		"tab\tnl\n\x01": `"tab\tnl\n\u0001"`,
		"é✓😀\x7f/<>&":   `"\u00e9\u2713\ud83d\ude00\u007f/<>&"`,
	} {
		if got := pyJSONString(in); got != want {
			t.Errorf("pyJSONString(%q) = %s, want %s", in, got, want)
		}
	}
}
