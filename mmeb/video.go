package mmeb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/org/vlm2vec/instruct"
)

// DefaultFrames is the number of frames V2 feeds per video.
const DefaultFrames = 8

var frameExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true}

var digitRuns = regexp.MustCompile(`\d+`)

// naturalLess orders file names the way the reference's natural_sort_key
// does: runs of digits compare as numbers, the rest case-insensitively.
func naturalLess(a, b string) bool {
	ka, kb := naturalKey(a), naturalKey(b)
	for i := 0; i < len(ka) && i < len(kb); i++ {
		x, y := ka[i], kb[i]
		if x.isNum && y.isNum {
			if x.num != y.num {
				return x.num < y.num
			}
			continue
		}
		if x.isNum != y.isNum {
			// Python would raise comparing int with str; put numbers first
			// to stay total.
			return x.isNum
		}
		if x.text != y.text {
			return x.text < y.text
		}
	}
	if len(ka) != len(kb) {
		return len(ka) < len(kb)
	}
	return a < b
}

type keyPart struct {
	isNum bool
	num   float64
	text  string
}

func naturalKey(s string) []keyPart {
	var parts []keyPart
	last := 0
	for _, m := range digitRuns.FindAllStringIndex(s, -1) {
		parts = append(parts, keyPart{text: strings.ToLower(s[last:m[0]])})
		n, _ := strconv.ParseFloat(s[m[0]:m[1]], 64)
		parts = append(parts, keyPart{isNum: true, num: n})
		last = m[1]
	}
	return append(parts, keyPart{text: strings.ToLower(s[last:])})
}

// LoadFrames lists the frame images (.jpg, .jpeg, .png, any case) of a
// frame folder in natural order (frame_2 before frame_10). A missing
// folder yields no frames and no error, as in the reference.
func LoadFrames(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if frameExts[strings.ToLower(filepath.Ext(e.Name()))] {
			names = append(names, e.Name())
		}
	}
	sort.SliceStable(names, func(i, j int) bool { return naturalLess(names[i], names[j]) })
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = filepath.Join(dir, n)
	}
	return out, nil
}

// SampleFrames picks n frames evenly: indices floor(linspace(0, len−1, n)),
// as numpy.linspace(..., dtype=int) gives them. With fewer than n frames
// all frames are returned unchanged: the reference only samples when it
// has at least n (its repeat-the-last-frame branch is never reached).
func SampleFrames[T any](frames []T, n int) []T {
	if n <= 0 {
		return nil
	}
	if len(frames) < n {
		return append([]T(nil), frames...)
	}
	out := make([]T, n)
	if n == 1 {
		out[0] = frames[0]
		return out
	}
	last := float64(len(frames) - 1)
	step := last / float64(n-1)
	for i := 0; i < n; i++ {
		// numpy computes start + i*step and sets the last value to stop.
		x := float64(i) * step
		if i == n-1 {
			x = last
		}
		out[i] = frames[int(x)]
	}
	return out
}

// VideoFrames loads and samples one video's frames (the reference's
// process_video_frames).
func VideoFrames(dir string, n int) ([]string, error) {
	frames, err := LoadFrames(dir)
	if err != nil {
		return nil, err
	}
	return SampleFrames(frames, n), nil
}

// LoadVideo reads any of the 18 V2 video datasets from its parquet
// file(s) at src, with frames under frameRoot (MMEB-V2's
// video-tasks/frames): LoadVideoCLS, LoadVideoQA, LoadVideoRET or
// LoadMoment by the task's meta-task.
func LoadVideo(ctx context.Context, src, frameRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	switch task.Meta {
	case MetaVCLS:
		return LoadVideoCLS(ctx, src, frameRoot, task, opts)
	case MetaVQA2:
		return LoadVideoQA(ctx, src, frameRoot, task, opts)
	case MetaVRET:
		return LoadVideoRET(ctx, src, frameRoot, task, opts)
	case MetaVMRET:
		return LoadMoment(ctx, src, frameRoot, task, opts)
	}
	return nil, fmt.Errorf("%w: %s is not a video task", ErrNoLoader, task.Name)
}

// LoadVideoCLS reads a V2 video-classification dataset: parquet with
// video_id and pos_text (the label) and, for SmthSmthV2, neg_text (the
// row's own candidate list); frames are read from
// frameRoot/<task.Dir>/<video_id>/ (frameRoot is MMEB-V2's
// video-tasks/frames). Global tasks rank every query against the labels
// of the rows followed by the task's full label list (VideoLabels), as the
// reference's corpus does, so a --limit run ranks against all classes too.
func LoadVideoCLS(ctx context.Context, path, frameRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	p, err := videoPrompt(task, MetaVCLS, "video classification")
	if err != nil {
		return nil, err
	}
	local := task.Ranking == Local
	t, err := readTable(path, task, []colSpec{
		{path: []string{"video_id"}},
		{path: []string{"pos_text"}},
		{path: []string{"neg_text"}, kind: colList, optional: !local},
	})
	if err != nil {
		return nil, err
	}
	l := newLoader(frameRoot, opts)
	ds := &Dataset{Task: task}
	qtext := instruct.ProcessData(p.Query, "", true, false)
	vid, pos, neg := t.col("video_id"), t.col("pos_text"), t.col("neg_text")
	err = l.eachRow(ctx, ds, t.rows, func(r int) (Query, error) {
		if vid.at(r).null || vid.at(r).str == "" || pos.at(r).null || pos.at(r).str == "" {
			return Query{}, skip("video_id or pos_text is empty")
		}
		frames, ref, err := l.video(task, vid.at(r).str)
		if err != nil {
			return Query{}, err
		}
		q := Query{Row: r, ID: vid.at(r).str, Item: Item{Text: qtext, Video: frames, ref: ref}}
		label := l.s(pos.at(r).str)
		if local {
			if neg.at(r).null || len(neg.at(r).list) == 0 {
				return Query{}, skip("empty candidate list")
			}
			for _, c := range neg.at(r).list {
				q.Candidates = append(q.Candidates, Candidate{Name: l.s(c), Item: Item{Text: l.s(c)}})
			}
		} else {
			q.Candidates = []Candidate{{Name: label, Item: Item{Text: label}}}
		}
		q.Labels = []string{label}
		return q, nil
	})
	if err != nil {
		return nil, err
	}
	if !local {
		for _, label := range VideoLabels(task.Name) {
			ds.Corpus = append(ds.Corpus, Candidate{Name: label, Item: Item{Text: label}})
		}
	}
	return ds, nil
}

// videoPrompt checks that task belongs to meta (a group called what) and
// returns its instructions.
func videoPrompt(task Task, meta Meta, what string) (instruct.Prompt, error) {
	if task.Meta != meta {
		return instruct.Prompt{}, fmt.Errorf("%w: %s is not a %s task", ErrNoLoader, task.Name, what)
	}
	p, ok := instruct.Prompts[task.Name]
	if !ok {
		return instruct.Prompt{}, fmt.Errorf("%w: no instruction for %s", ErrNoLoader, task.Name)
	}
	return p, nil
}

// readTable reads the parquet file(s) at path, naming the task in errors.
func readTable(path string, task Task, specs []colSpec) (*pqTable, error) {
	files, err := parquetFiles(path)
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: %w", task.Name, err)
	}
	t, err := readParquet(files, specs)
	if err != nil {
		return nil, fmt.Errorf("mmeb: %s: %w", task.Name, err)
	}
	return t, nil
}

// eachRow runs build on the first Limit rows of n, appending each query it
// returns to ds, or a Problem when it returns a row error (skip); any other
// error stops the load.
func (l *loader) eachRow(ctx context.Context, ds *Dataset, n int, build func(r int) (Query, error)) error {
	n = l.limit(n)
	ds.Rows += n
	for r := 0; r < n; r++ {
		if r%64 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		q, err := build(r)
		var re rowError
		switch {
		case errors.As(err, &re):
			ds.Problems = append(ds.Problems, Problem{Row: r, Reason: re.reason})
		case err != nil:
			return fmt.Errorf("mmeb: %s: row %d: %w", ds.Task.Name, r, err)
		default:
			ds.Queries = append(ds.Queries, q)
		}
	}
	return nil
}

// video loads the sampled frames of frameRoot/<task.Dir>/<name> (opts.Frames,
// default 8) and the item reference that names them in caches. No frames
// is a row error unless file checks are off.
func (l *loader) video(task Task, name string) ([]string, string, error) {
	return l.videoAt(path.Join(task.Dir, name), l.frames())
}

// videoAt is video for a frame folder given relative to the frame root;
// n < 0 keeps every frame (MomentSeeker's clips).
func (l *loader) videoAt(rel string, n int) ([]string, string, error) {
	dir := filepath.Join(l.root, filepath.FromSlash(rel))
	var frames []string
	var err error
	if n < 0 {
		frames, err = LoadFrames(dir)
	} else {
		frames, err = VideoFrames(dir, n)
	}
	if err != nil {
		return nil, "", err
	}
	if len(frames) == 0 && !l.opts.SkipFileCheck {
		return nil, "", skip("no frames in %s", rel)
	}
	return frames, l.s(fmt.Sprintf("video:%s#%d", rel, n)), nil
}

func (l *loader) frames() int {
	if l.opts.Frames > 0 {
		return l.opts.Frames
	}
	return DefaultFrames
}
