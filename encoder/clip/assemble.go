package clip

import (
	"fmt"

	"github.com/org/vlm2vec/encoder/family"
)

// Row is one prepared input for Assemble: its token ids; per token, whether
// it is an image token (it reads the visual table instead of the embedding
// table); its crops, in the Im2Col layout; and for its image tokens, in
// order, the visual-table row each reads: c·perCrop + f for feature f of the
// row's c-th crop, or Extra(k) for the k-th table row after all crops'
// features (a family's separators: image_newline, sub_GN, glb_GN).
type Row struct {
	IDs   []int32
	Image []bool
	Crops [][]float32
	Feats []int32
}

// Extra is the feature index of the k-th visual-table row after every
// crop's features.
func Extra(k int) int32 { return int32(-2 - k) }

// Assemble pads rows into a batch of size rows: token rows right-padded to
// family.LengthBucket, crops padded with zero crops to family.CountBucket;
// rows past len(rows) are copies of filler (which must have no image).
// perCrop is the number of visual-table rows each crop contributes.
func Assemble(rows []Row, size, grid, patchDim, perCrop int, filler Row) (*Batch, error) {
	if size < len(rows) {
		return nil, fmt.Errorf("%d rows do not fit a batch of %d", len(rows), size)
	}
	maxLen := 1
	for _, r := range rows {
		maxLen = max(maxLen, len(r.IDs))
	}
	s := family.LengthBucket(maxLen)
	b := &Batch{Grid: grid, PatchDim: patchDim}
	var extras [][2]int // (row, token) of each Extra marker, fixed up below
	for i := 0; i < size; i++ {
		r := filler
		if i < len(rows) {
			r = rows[i]
		}
		if len(r.IDs) == 0 || len(r.Image) != len(r.IDs) {
			return nil, fmt.Errorf("row %d: %d ids, %d image flags", i, len(r.IDs), len(r.Image))
		}
		ids, valid, src := make([]int32, s), make([]bool, s), make([]int32, s)
		copy(ids, r.IDs)
		for k := range src {
			src[k] = -1
		}
		first := int32(len(b.Crops))
		for c, crop := range r.Crops {
			if len(crop) != grid*grid*patchDim {
				return nil, fmt.Errorf("row %d crop %d has %d values, want %d", i, c, len(crop), grid*grid*patchDim)
			}
			b.CropRef = append(b.CropRef, [2]int32{int32(i), int32(c)})
			b.Crops = append(b.Crops, crop)
		}
		fk := 0
		for k := range r.IDs {
			valid[k] = true
			if !r.Image[k] {
				continue
			}
			if fk >= len(r.Feats) {
				return nil, fmt.Errorf("row %d has more image tokens than features (%d)", i, len(r.Feats))
			}
			f := r.Feats[fk]
			fk++
			switch {
			case f >= 0 && int(f) < len(r.Crops)*perCrop:
				src[k] = first*int32(perCrop) + f
			case f <= Extra(0):
				src[k] = f
				extras = append(extras, [2]int{i, k})
			default:
				return nil, fmt.Errorf("row %d token %d reads feature %d of %d crops", i, k, f, len(r.Crops))
			}
		}
		if fk != len(r.Feats) {
			return nil, fmt.Errorf("row %d has %d image tokens for %d features", i, fk, len(r.Feats))
		}
		b.IDs = append(b.IDs, ids)
		b.Valid = append(b.Valid, valid)
		b.FeatSrc = append(b.FeatSrc, src)
		b.Pooled = append(b.Pooled, int32(len(r.IDs)-1))
	}
	b.Name = fmt.Sprintf("text %dx%d", size, s)
	if len(b.Crops) == 0 {
		b.Crops, b.FeatSrc, b.CropRef = nil, nil, nil
		return b, nil
	}
	n := len(b.Crops)
	nb := family.CountBucket(n)
	for k := n; k < nb; k++ {
		b.Crops = append(b.Crops, make([]float32, grid*grid*patchDim))
		b.CropRef = append(b.CropRef, [2]int32{0, int32(1<<20 + k)}) // past every real crop's index
	}
	for _, e := range extras {
		k := Extra(0) - b.FeatSrc[e[0]][e[1]]
		b.FeatSrc[e[0]][e[1]] = int32(nb*perCrop) + k
	}
	b.Name = fmt.Sprintf("vision %dx%d crops %d", size, s, nb)
	return b, nil
}
