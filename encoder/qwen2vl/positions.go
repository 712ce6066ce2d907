package qwen2vl

import (
	"fmt"

	"github.com/org/vlm2vec/encoder/family"
)

// GridTHW is an image's (or video's) patch grid: temporal groups, patch rows
// and patch columns, before the 2x2 merge. It is the processor's
// image_grid_thw row.
type GridTHW struct{ T, H, W int }

// Patches is the number of patches the vision tower sees.
func (g GridTHW) Patches() int { return g.T * g.H * g.W }

// Tokens is the number of <|image_pad|> tokens after merging.
func (g GridTHW) Tokens(merge int) int { return g.T * g.H * g.W / (merge * merge) }

// PositionScheme selects how decoder positions are assigned (see
// family.PositionScheme).
type PositionScheme = family.PositionScheme

const (
	// Positions1D gives every non-pad token the next position, visual tokens
	// included, with all three M-RoPE axes equal. This is what VLM2Vec's
	// released checkpoints were trained and evaluated with: their prompts
	// carry <|image_pad|> without <|vision_start|>, so transformers'
	// get_rope_index finds no image and falls back to 1-D positions.
	Positions1D = family.Positions1D
	// PositionsMRoPE is standard Qwen2-VL: an image introduced by
	// <|vision_start|> gets 3-D (temporal, row, column) positions and the
	// text after it resumes from the largest position + 1.
	PositionsMRoPE = family.PositionsMRoPE
)

// TextPositions is Positions for a row without videos.
func TextPositions(ids []int, grids []GridTHW, cfg *Config, scheme PositionScheme) ([3][]int32, error) {
	return Positions(ids, grids, nil, cfg, scheme)
}

// Positions computes the decoder's position ids [3][len(ids)] for one
// unpadded row, as transformers' get_rope_index does. images and videos are
// the row's image and video grids, each in order of appearance.
//
// With PositionsMRoPE the reference counts the images and videos whose
// token directly follows <|vision_start|>, and that many times takes the
// earliest next run of image or video tokens (wrapped or not) with the
// next grid of that kind: it gets 3-D (temporal, row, column) positions
// and the text after it resumes from the largest position + 1. Runs beyond
// that count are positioned as text. So in "<|image_pad|>... then
// <|vision_start|><|image_pad|>..." the bare first image gets 3-D
// positions from its own grid and the wrapped one 1-D positions. (The
// reference's grid counters run over the whole batch, so when a row holds
// more images than it counts, later rows of that batch read a neighbour's
// grid; per row, as here, each run reads its own.)
func Positions(ids []int, images, videos []GridTHW, cfg *Config, scheme PositionScheme) ([3][]int32, error) {
	return MRoPEPositions(ids, images, videos, VisionTokens{
		VisionStart: cfg.VisionStartTokenID, Image: cfg.ImageTokenID, Video: cfg.VideoTokenID, Merge: cfg.VisionConfig.SpatialMergeSize,
	}, scheme)
}

// VisionTokens are the token ids and merge size M-RoPE positions depend on.
type VisionTokens struct {
	VisionStart, Image, Video int
	Merge                     int // spatial_merge_size
}

// MRoPEPositions is Positions for any model of the Qwen-VL line, given its
// vision tokens (Qwen3-VL passes each video frame group as its own grid of
// one temporal step).
func MRoPEPositions(ids []int, images, videos []GridTHW, tok VisionTokens, scheme PositionScheme) ([3][]int32, error) {
	var pos [3][]int32
	for a := range pos {
		pos[a] = make([]int32, len(ids))
	}
	text := func(from, to int, start int32) {
		for i := from; i < to; i++ {
			for a := range pos {
				pos[a][i] = start + int32(i-from)
			}
		}
	}
	if scheme == Positions1D {
		text(0, len(ids), 0)
		return pos, nil
	}
	remImg, remVid := 0, 0
	for i := 1; i < len(ids); i++ {
		if ids[i-1] == tok.VisionStart {
			switch ids[i] {
			case tok.Image:
				remImg++
			case tok.Video:
				remVid++
			}
		}
	}
	indexFrom := func(tok, st int) int {
		for i := st; i < len(ids); i++ {
			if ids[i] == tok {
				return i
			}
		}
		return -1
	}
	merge := tok.Merge
	st, next := 0, int32(0) // next: first position after the last visual block
	nImg, nVid := 0, 0
	for remImg+remVid > 0 {
		edImg, edVid := len(ids)+1, len(ids)+1
		if remImg > 0 {
			if edImg = indexFrom(tok.Image, st); edImg < 0 {
				return pos, fmt.Errorf("qwen2vl: row counts %d more image(s) after <|vision_start|> than image tokens remain", remImg)
			}
		}
		if remVid > 0 {
			if edVid = indexFrom(tok.Video, st); edVid < 0 {
				return pos, fmt.Errorf("qwen2vl: row counts %d more video(s) after <|vision_start|> than video tokens remain", remVid)
			}
		}
		var g GridTHW
		ed := edImg
		if edImg < edVid {
			if nImg >= len(images) {
				return pos, fmt.Errorf("qwen2vl: row has more images in the text than pixel inputs (%d)", len(images))
			}
			g = images[nImg]
			nImg++
			remImg--
		} else {
			if nVid >= len(videos) {
				return pos, fmt.Errorf("qwen2vl: row has more videos in the text than video inputs (%d)", len(videos))
			}
			g = videos[nVid]
			nVid++
			remVid--
			ed = edVid
		}
		text(st, ed, next)
		base := next + int32(ed-st)
		gh, gw := g.H/merge, g.W/merge
		n := g.T * gh * gw
		if ed+n > len(ids) {
			return pos, fmt.Errorf("qwen2vl: visual input needs %d tokens but the row ends after %d", n, len(ids)-ed)
		}
		maxPos := base
		k := ed
		for t := 0; t < g.T; t++ {
			for h := 0; h < gh; h++ {
				for w := 0; w < gw; w++ {
					pos[0][k], pos[1][k], pos[2][k] = base+int32(t), base+int32(h), base+int32(w)
					maxPos = max(maxPos, pos[0][k], pos[1][k], pos[2][k])
					k++
				}
			}
		}
		st, next = k, maxPos+1
	}
	text(st, len(ids), next)
	return pos, nil
}

// VisionPositions returns, for every patch of the given images in the order
// the processor flattens them, its (row, column) rotary position and the
// index of the attention segment it belongs to. Patches of one merge window
// are consecutive (window-major order), which is why positions are not
// simply row-major. Each temporal group of each image is its own segment:
// the vision tower never attends across them.
func VisionPositions(grids []GridTHW, merge int) (rowCol [][2]int32, segment []int32) {
	seg := int32(0)
	for _, g := range grids {
		for t := 0; t < g.T; t++ {
			for hb := 0; hb < g.H/merge; hb++ {
				for wb := 0; wb < g.W/merge; wb++ {
					for i := 0; i < merge; i++ {
						for j := 0; j < merge; j++ {
							rowCol = append(rowCol, [2]int32{int32(hb*merge + i), int32(wb*merge + j)})
							segment = append(segment, seg)
						}
					}
				}
			}
			seg++
		}
	}
	return rowCol, segment
}
