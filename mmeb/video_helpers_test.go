package mmeb

import (
	"strings"
	"testing"
)

// The expected strings below are what the reference's Python expressions
// give for the same inputs (run with CPython 3; see each comment).

func TestVisRAGImageNameMatchesPython(t *testing.T) {
	// base[:50] + "_" + md5(name.encode("utf-8")).hexdigest()[:8] + ext,
	// with base, ext = os.path.splitext(name): 50 characters, not bytes.
	for in, want := range map[string]string{
		strings.Repeat("ünïcödé-", 8) + ".png": "ünïcödé-ünïcödé-ünïcödé-ünïcödé-ünïcödé-ünïcödé-ün_9754392c.png",
		"plain.jpg":                       "plain_59a59157.jpg",
		".hidden":                         ".hidden_6b96ab44",
		"a.b/c":                           "a.b/c_d8c60fdd",
		strings.Repeat("x", 60) + ".jpeg": strings.Repeat("x", 50) + "_c1c8123c.jpeg",
	} {
		if got := VisRAGImageName(in); got != want {
			t.Errorf("VisRAGImageName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOptionTextMatchesPython(t *testing.T) {
	// o[o.find('. '):].strip('. ')
	for in, want := range map[string]string{"A. red car.": "red car", "B.blue": "e", "C. . dots ..": "dots", "": ""} {
		if got := optionText(in); got != want {
			t.Errorf("optionText(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestQATemplateMatchesPython(t *testing.T) {
	got, opts := qaTemplate("<|video_pad|> Q:  what?", []string{"x", "y \t"})
	if want := "<|video_pad|> Q:  what?\nOptions:\n(A) x\n(B) y"; got != want {
		t.Errorf("qaTemplate = %q, want %q", got, want)
	}
	if len(opts) != 2 || opts[0] != "(A) x" || opts[1] != "(B) y \t" {
		t.Errorf("options %q", opts)
	}
	if l, ok := qaLabel([]string{"x", "y", "x"}, "x"); !ok || l != "(C) x" {
		t.Errorf("qaLabel picks %q %v, want the last match (C) x", l, ok)
	}
	if _, ok := qaLabel([]string{"x"}, "z"); ok {
		t.Error("an answer outside the candidates was accepted")
	}
}

func TestVideoStemAndClipNames(t *testing.T) {
	// os.path.splitext(os.path.basename(p))[0]
	for in, want := range map[string]string{"videos/12_ab.mp4": "12_ab", "a.b.c.avi": "a.b.c", "noext": "noext", "..mp4": "..mp4"} {
		if got := videoStem(in); got != want {
			t.Errorf("videoStem(%q) = %q, want %q", in, got, want)
		}
	}
	// path.replace("/", "_").split(".mp4")[0]
	if got := seekerClipName("ego4d/clip.mp4.part/x.mp4"); got != "ego4d_clip" {
		t.Errorf("seekerClipName = %q", got)
	}
}

func TestVideoLabelsComplete(t *testing.T) {
	for name, n := range map[string]int{"K700": 700, "Kinetics-700": 700, "SmthSmthV2": 174, "HMDB51": 51, "UCF101": 101, "Breakfast": 10} {
		labels := VideoLabels(name)
		seen := map[string]bool{}
		for _, l := range labels {
			if l == "" || seen[l] {
				t.Errorf("%s: empty or repeated label %q", name, l)
			}
			seen[l] = true
		}
		if len(labels) != n {
			t.Errorf("%s: %d labels, want %d", name, len(labels), n)
		}
	}
	if VideoLabels("MSR-VTT") != nil {
		t.Error("a retrieval task has class labels")
	}
}
