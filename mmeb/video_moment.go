package mmeb

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/org/vlm2vec/instruct"
)

// LoadMoment reads a V2 moment-retrieval dataset; each query is ranked
// against its own clips.
//
//   - QVHighlight, Charades-STA: columns query and video_path. The video's
//     folder <task.Dir>/<video name>/ holds query/ (the query video's
//     frames) and one folder per candidate clip; the clip whose folder name
//     starts with "positive" is the answer. Clips are listed in natural
//     order (the reference takes the file system's listing order, which
//     only matters for ties). Query and clips are sampled to opts.Frames.
//   - MomentSeeker: columns query, input_frames ("" for a text query, an
//     image file for an image query, a .mp4 path for a video query),
//     positive_frames and negative_frames (lists of {output_path}). Clip
//     and query-video frames are every frame of
//     <task.Dir>/video_frames/<path with "/" as "_", cut at ".mp4">/; an
//     image query is <task.Dir>/query_<input_frames>. Each query has its
//     own instruction by kind; every positive clip is a label.
func LoadMoment(ctx context.Context, src, frameRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	p, err := videoPrompt(task, MetaVMRET, "moment retrieval")
	if err != nil {
		return nil, err
	}
	if task.Name == "MomentSeeker" {
		return loadMomentSeeker(ctx, src, frameRoot, task, p, opts)
	}
	t, err := readTable(src, task, []colSpec{{path: []string{"query"}}, {path: []string{"video_path"}}})
	if err != nil {
		return nil, err
	}
	l := newLoader(frameRoot, opts)
	ds := &Dataset{Task: task}
	target := instruct.ProcessData(p.Target, "", true, false)
	err = l.eachRow(ctx, ds, t.rows, func(r int) (Query, error) {
		text, vp := t.col("query").at(r), t.col("video_path").at(r)
		if vp.null || vp.str == "" {
			return Query{}, skip("video_path is empty")
		}
		video := path.Join(task.Dir, videoStem(vp.str))
		frames, ref, err := l.videoAt(path.Join(video, "query"), l.frames())
		if err != nil {
			return Query{}, err
		}
		q := Query{Row: r, ID: videoStem(vp.str),
			Item: Item{Text: l.s(instruct.ProcessData(p.Query, text.str, true, false)), Video: frames, ref: ref}}
		clips, err := clipFolders(filepath.Join(l.root, filepath.FromSlash(video)))
		if err != nil {
			return Query{}, err
		}
		for _, c := range clips {
			rel := path.Join(video, c)
			cf, cref, err := l.videoAt(rel, l.frames())
			if err != nil {
				return Query{}, err
			}
			name := l.s(rel)
			q.Candidates = append(q.Candidates, Candidate{Name: name, Item: Item{Text: target, Video: cf, ref: cref}})
			if strings.HasPrefix(c, "positive") {
				q.Labels = []string{name} // the last one, as the reference's loop leaves it
			}
		}
		if len(q.Labels) == 0 {
			return Query{}, skip("no positive clip under %s", video)
		}
		return q, nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// clipFolders lists the candidate clip folders of a moment video: every
// subfolder but query/, in natural order.
func clipFolders(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, skip("no clip folders: %s is missing", dir)
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "query" {
			out = append(out, e.Name())
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return naturalLess(out[i], out[j]) })
	return out, nil
}

func loadMomentSeeker(ctx context.Context, file, frameRoot string, task Task, p instruct.Prompt, opts LoadOptions) (*Dataset, error) {
	t, err := readTable(file, task, []colSpec{
		{path: []string{"query"}},
		{path: []string{"input_frames"}},
		{path: []string{"positive_frames", "output_path"}, kind: colList},
		{path: []string{"negative_frames", "output_path"}, kind: colList, optional: true},
	})
	if err != nil {
		return nil, err
	}
	l := newLoader(frameRoot, opts)
	ds := &Dataset{Task: task}
	target := instruct.ProcessData(p.Target, "", true, false)
	clip := func(out string) (Candidate, error) {
		rel := path.Join(task.Dir, "video_frames", seekerClipName(out))
		frames, ref, err := l.videoAt(rel, -1)
		if err != nil {
			return Candidate{}, err
		}
		return Candidate{Name: l.s(rel), Item: Item{Text: target, Video: frames, ref: ref}}, nil
	}
	pos, neg := t.col("positive_frames", "output_path"), t.col("negative_frames", "output_path")
	err = l.eachRow(ctx, ds, t.rows, func(r int) (Query, error) {
		text, in := t.col("query").at(r).str, t.col("input_frames").at(r).str
		q := Query{Row: r, ID: fmt.Sprint(r)}
		switch {
		case strings.HasSuffix(in, ".mp4"):
			frames, ref, err := l.videoAt(path.Join(task.Dir, "video_frames", seekerClipName(in)), -1)
			if err != nil {
				return Query{}, err
			}
			q.Item = Item{Text: instruct.ProcessData(instruct.MomentSeekerVideoQuery, text, true, false), Video: frames, ref: ref}
		case strings.HasSuffix(in, ".jpg"):
			it, err := l.item(instruct.ProcessData(instruct.MomentSeekerImageQuery, text, false, true), path.Join(task.Dir, "query_"+in))
			if err != nil {
				return Query{}, err
			}
			q.Item = it
		default:
			q.Item = Item{Text: instruct.ProcessData(p.Query, text, false, false)}
		}
		q.Item.Text = l.s(q.Item.Text)
		if pos.at(r).null || len(pos.at(r).list) == 0 {
			return Query{}, skip("no positive clip")
		}
		for i, out := range append(append([]string(nil), pos.at(r).list...), neg.at(r).list...) {
			c, err := clip(out)
			if err != nil {
				return Query{}, err
			}
			q.Candidates = append(q.Candidates, c)
			if i < len(pos.at(r).list) {
				q.Labels = append(q.Labels, c.Name)
			}
		}
		return q, nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// seekerClipName is MomentSeeker's frame-folder name for a clip path: "/"
// becomes "_" and the name ends before the first ".mp4".
func seekerClipName(p string) string {
	p = strings.ReplaceAll(p, "/", "_")
	if i := strings.Index(p, ".mp4"); i >= 0 {
		p = p[:i]
	}
	return p
}
