package qwen2vl

import "fmt"

// GridTHW is an image's (or video's) patch grid: temporal groups, patch rows
// and patch columns, before the 2x2 merge. It is the processor's
// image_grid_thw row.
type GridTHW struct{ T, H, W int }

// Patches is the number of patches the vision tower sees.
func (g GridTHW) Patches() int { return g.T * g.H * g.W }

// Tokens is the number of <|image_pad|> tokens after merging.
func (g GridTHW) Tokens(merge int) int { return g.T * g.H * g.W / (merge * merge) }

// PositionScheme selects how decoder positions are assigned.
type PositionScheme int

const (
	// Positions1D gives every non-pad token the next position, visual tokens
	// included, with all three M-RoPE axes equal. This is what VLM2Vec's
	// released checkpoints were trained and evaluated with: their prompts
	// carry <|image_pad|> without <|vision_start|>, so transformers'
	// get_rope_index finds no image and falls back to 1-D positions.
	Positions1D PositionScheme = iota
	// PositionsMRoPE is standard Qwen2-VL: an image introduced by
	// <|vision_start|> gets 3-D (temporal, row, column) positions and the
	// text after it resumes from the largest position + 1.
	PositionsMRoPE
)

// TextPositions computes the decoder's position ids [3][len(ids)] for one
// unpadded row, as transformers' get_rope_index does. grids are the row's
// images in order of appearance.
func TextPositions(ids []int, grids []GridTHW, cfg *Config, scheme PositionScheme) ([3][]int32, error) {
	var pos [3][]int32
	for a := range pos {
		pos[a] = make([]int32, len(ids))
	}
	if scheme == Positions1D {
		for i := range ids {
			for a := range pos {
				pos[a][i] = int32(i)
			}
		}
		return pos, nil
	}
	merge := cfg.VisionConfig.SpatialMergeSize
	next := int32(0) // first position of the next text run
	img := 0
	i := 0
	for i < len(ids) {
		// An image run is <|vision_start|> followed by its pad tokens; the
		// reference only counts images whose pad token follows vision_start.
		if ids[i] == cfg.ImageTokenID && i > 0 && ids[i-1] == cfg.VisionStartTokenID {
			if img >= len(grids) {
				return pos, fmt.Errorf("qwen2vl: row has more images in the text than pixel inputs (%d)", len(grids))
			}
			g := grids[img]
			img++
			gh, gw := g.H/merge, g.W/merge
			n := g.T * gh * gw
			if i+n > len(ids) {
				return pos, fmt.Errorf("qwen2vl: image %d needs %d tokens but the row ends after %d", img, n, len(ids)-i)
			}
			maxPos := next
			k := i
			for t := 0; t < g.T; t++ {
				for h := 0; h < gh; h++ {
					for w := 0; w < gw; w++ {
						pos[0][k] = next + int32(t)
						pos[1][k] = next + int32(h)
						pos[2][k] = next + int32(w)
						maxPos = max(maxPos, pos[0][k], pos[1][k], pos[2][k])
						k++
					}
				}
			}
			i = k
			next = maxPos + 1
			continue
		}
		for a := range pos {
			pos[a][i] = next
		}
		next++
		i++
	}
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
