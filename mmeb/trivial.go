package mmeb

import (
	"context"
	"fmt"
	"hash/fnv"
	"image"
	_ "image/jpeg" // frames and photos
	_ "image/png"
	"os"
	"strings"

	"github.com/org/vlm2vec/instruct"
)

// PaletteColor is one named colour of the trivial embedder's palette.
type PaletteColor struct {
	Name    string
	R, G, B uint8
}

// Palette is the colour vocabulary of ColorWordEmbedder. The synthetic
// benchmark generator (scripts/mmeb/make_synthetic.py) paints its images
// with exactly these colours.
var Palette = []PaletteColor{
	{"red", 220, 40, 40}, {"green", 40, 170, 60}, {"blue", 40, 70, 220}, {"yellow", 235, 215, 40},
	{"purple", 130, 50, 160}, {"orange", 245, 140, 20}, {"gray", 128, 128, 128}, {"brown", 120, 70, 30},
}

// ColorWordEmbedder is a trivial, model-free Embedder for testing the
// evaluation pipeline end to end, not a model: every item becomes a
// one-hot vector for a single word. An item with an image (or video) is
// the name of the palette colour nearest to the mean colour of its pixels
// (all sampled frames for a video); a text-only item is its last
// alphabetic word, lower-cased, with placeholder tokens removed. So a
// query and a candidate score 1 exactly when they name the same colour
// and 0 otherwise, which makes the expected scores of a synthetic
// benchmark computable by hand.
type ColorWordEmbedder struct {
	// Dim is the vector length (0: 1024). Words hash (FNV-1a) to a slot.
	Dim int
}

// ModelID names the embedder for the embedding cache.
func (e *ColorWordEmbedder) ModelID() string {
	return fmt.Sprintf("trivial-color-word-v1-d%d", e.dim())
}

func (e *ColorWordEmbedder) dim() int {
	if e.Dim <= 0 {
		return 1024
	}
	return e.Dim
}

// Embed returns one one-hot vector per item.
func (e *ColorWordEmbedder) Embed(ctx context.Context, items []Item) ([][]float32, error) {
	out := make([][]float32, len(items))
	for i, it := range items {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		w, err := e.Word(it)
		if err != nil {
			return nil, err
		}
		v := make([]float32, e.dim())
		if w != "" {
			v[e.Slot(w)] = 1
		}
		out[i] = v
	}
	return out, nil
}

// Slot returns the vector index a word maps to.
func (e *ColorWordEmbedder) Slot(word string) int {
	h := fnv.New32a()
	h.Write([]byte(word))
	return int(h.Sum32() % uint32(e.dim()))
}

// Word returns the word an item embeds as.
func (e *ColorWordEmbedder) Word(it Item) (string, error) {
	paths := it.Video
	if it.Image != "" {
		paths = []string{it.Image}
	}
	if len(paths) > 0 {
		var r, g, b float64
		for _, p := range paths {
			c, err := meanColor(p)
			if err != nil {
				return "", err
			}
			r, g, b = r+c[0], g+c[1], b+c[2]
		}
		n := float64(len(paths))
		return nearestColor(r/n, g/n, b/n), nil
	}
	return lastWord(it.Text), nil
}

func nearestColor(r, g, b float64) string {
	best, bestD := "", 0.0
	for _, c := range Palette {
		dr, dg, db := r-float64(c.R), g-float64(c.G), b-float64(c.B)
		d := dr*dr + dg*dg + db*db
		if best == "" || d < bestD {
			best, bestD = c.Name, d
		}
	}
	return best
}

func meanColor(path string) ([3]float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return [3]float64{}, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return [3]float64{}, fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	var s [3]float64
	n := 0.0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			s[0] += float64(r >> 8)
			s[1] += float64(g >> 8)
			s[2] += float64(bl >> 8)
			n++
		}
	}
	if n == 0 {
		return s, fmt.Errorf("%s: empty image", path)
	}
	return [3]float64{s[0] / n, s[1] / n, s[2] / n}, nil
}

func lastWord(text string) string {
	text = strings.ReplaceAll(text, instruct.DataImageToken, " ")
	text = strings.ReplaceAll(text, instruct.DataVideoToken, " ")
	end := -1
	for i := len(text) - 1; i >= 0; i-- {
		c := text[i] | 0x20
		isLetter := c >= 'a' && c <= 'z'
		if isLetter && end < 0 {
			end = i + 1
		} else if !isLetter && end >= 0 {
			return strings.ToLower(text[i+1 : end])
		}
	}
	if end >= 0 {
		return strings.ToLower(text[:end])
	}
	return ""
}
