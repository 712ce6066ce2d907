package mmeb

import (
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/org/vlm2vec/instruct"
)

// retLayout is where one video-retrieval dataset keeps its caption and its
// video name: each reference parser reads different columns.
type retLayout struct {
	caption     string // caption column
	captionList bool   // the column is a list; its first caption is the query
	name        string // column naming the video (its frame folder)
	// nameFromPath derives the name from a path column: the base name
	// without its extension (DiDeMo).
	nameFromPath bool
}

var retLayouts = map[string]retLayout{
	"MSR-VTT":  {caption: "caption", name: "video_id"},
	"MSVD":     {caption: "caption", captionList: true, name: "video_id"},
	"DiDeMo":   {caption: "caption", name: "video", nameFromPath: true},
	"VATEX":    {caption: "enCap", captionList: true, name: "videoID"},
	"YouCook2": {caption: "sentence", name: "id"},
}

// LoadVideoRET reads a V2 text-to-video retrieval dataset (DiDeMo,
// MSR-VTT, MSVD, VATEX, YouCook2) in the columns of its Hugging Face
// release: each row is a caption (the query) and one video (its ground
// truth), whose frames are read from frameRoot/<task.Dir>/<video name>/.
// Every query is ranked against all the rows' videos, de-duplicated by
// name in row order, as the reference's global pool is.
func LoadVideoRET(ctx context.Context, path, frameRoot string, task Task, opts LoadOptions) (*Dataset, error) {
	p, err := videoPrompt(task, MetaVRET, "video retrieval")
	if err != nil {
		return nil, err
	}
	lay, ok := retLayouts[task.Name]
	if !ok {
		return nil, fmt.Errorf("%w: no column layout for %s", ErrNoLoader, task.Name)
	}
	capKind := colScalar
	if lay.captionList {
		capKind = colList
	}
	t, err := readTable(path, task, []colSpec{{path: []string{lay.caption}, kind: capKind}, {path: []string{lay.name}}})
	if err != nil {
		return nil, err
	}
	l := newLoader(frameRoot, opts)
	ds := &Dataset{Task: task}
	caps, names := t.col(lay.caption), t.col(lay.name)
	target := instruct.ProcessData(p.Target, "", true, false)
	err = l.eachRow(ctx, ds, t.rows, func(r int) (Query, error) {
		name := names.at(r).str
		if names.at(r).null || name == "" {
			return Query{}, skip("%s is empty", lay.name)
		}
		if lay.nameFromPath {
			name = videoStem(name)
		}
		caption := caps.at(r).str
		if lay.captionList {
			if caps.at(r).null || len(caps.at(r).list) == 0 {
				return Query{}, skip("%s has no caption", lay.caption)
			}
			caption = caps.at(r).list[0]
		}
		if caps.at(r).null || strings.TrimSpace(caption) == "" {
			return Query{}, skip("empty caption")
		}
		frames, ref, err := l.video(task, name)
		if err != nil {
			return Query{}, err
		}
		name = l.s(name)
		c := Candidate{Name: name, Item: Item{Text: target, Video: frames, ref: ref}}
		return Query{Row: r, ID: name, Item: Item{Text: l.s(instruct.ProcessData(p.Query, caption, false, false))},
			Candidates: []Candidate{c}, Labels: []string{name}}, nil
	})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

// videoStem is a video path's base name without its extension, as
// os.path.splitext(os.path.basename(p))[0] gives it.
func videoStem(p string) string {
	stem, _ := pySplitext(path.Base(p))
	return stem
}
