package traindata

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/image/vector"

	"github.com/org/vlm2vec/instruct"
)

// Names of the synthetic subsets, after the MMEB-train subsets whose
// instructions they use.
const (
	// SynthI2T is image → caption (MSCOCO_i2t's instruction).
	SynthI2T = "ShapesI2T"
	// SynthT2I is caption → image (MSCOCO_t2i's instruction).
	SynthT2I = "ShapesT2I"
)

// SynthOptions sizes the synthetic dataset. Zero fields take the defaults.
type SynthOptions struct {
	// Seed fixes everything drawn; the same seed writes the same bytes.
	Seed uint64
	// Train and Test are the numbers of training and held-out images
	// (defaults 256 and 64). Each image gives one row in each direction.
	Train, Test int
	// Candidates is the number of candidates per held-out eval row, the
	// ground truth included (default 10, so chance Hit@1 is 10%).
	Candidates int
}

// The attribute vocabularies. Shape colours and backgrounds are disjoint,
// so a shape is always visible and its caption names two different
// colours.
var (
	synthShapes  = []string{"circle", "square", "triangle", "star", "cross"}
	synthColours = []struct {
		name    string
		r, g, b uint8
	}{{"red", 220, 40, 40}, {"green", 40, 170, 60}, {"blue", 40, 70, 220}, {"yellow", 235, 215, 40}, {"purple", 130, 50, 160}, {"orange", 245, 140, 20}}
	synthBackgrounds = []struct {
		name    string
		r, g, b uint8
	}{{"white", 245, 245, 245}, {"black", 20, 20, 20}, {"gray", 128, 128, 128}}
)

// combo is one (shape, colour, background) triple: what a caption says.
type combo struct{ shape, colour, bg int }

func (c combo) caption() string {
	colour := synthColours[c.colour].name
	article := "a"
	if strings.ContainsRune("aeiou", rune(colour[0])) {
		article = "an"
	}
	return fmt.Sprintf("%s %s %s on a %s background", article, colour, synthShapes[c.shape], synthBackgrounds[c.bg].name)
}

func allCombos() []combo {
	var out []combo
	for s := range synthShapes {
		for c := range synthColours {
			for b := range synthBackgrounds {
				out = append(out, combo{s, c, b})
			}
		}
	}
	return out
}

// differsInOne reports whether two combos differ in exactly one attribute
// (a hard negative: "a red circle" vs "a blue circle").
func differsInOne(a, b combo) bool {
	d := 0
	if a.shape != b.shape {
		d++
	}
	if a.colour != b.colour {
		d++
	}
	if a.bg != b.bg {
		d++
	}
	return d == 1
}

// synthImage is one generated image.
type synthImage struct {
	rel   string // path relative to the dataset root, slash-separated
	combo combo
}

// Synthesize writes a small MMEB-train-format dataset of drawn shapes to
// dir, for the train_lora example and tests. Everything is drawn from
// opts.Seed, so the same options write the same bytes. The layout:
//
//	images/train/NNNNN.png, images/test/NNNNN.png   64–160 px PNGs: one coloured
//	        shape (circle, square, triangle, star, cross) at a random place, size
//	        and rotation on a plain background
//	train/ShapesI2T.jsonl                           image → caption, JSONL
//	train/ShapesT2I/original-00000-of-00001.parquet caption → image, HF parquet shard
//	test/ShapesI2T.jsonl, test/ShapesT2I.jsonl      the held-out images, same format
//	eval/ShapesI2T/test-00000-of-00001.parquet      the held-out images in the
//	eval/ShapesT2I/test-00000-of-00001.parquet      MMEB-eval V1 layout (mmeb.LoadV1)
//
// Image paths in the rows are relative to dir (load with ImageRoot: dir).
// The texts follow MMEB-train's MSCOCO subsets byte for byte. An I2T row:
//
//	qry            "<|image_1|>\nFind an image caption describing the given everyday image.\n"
//	qry_image_path "images/train/00000.png"
//	pos_text       "a red circle on a white background"
//
// and a T2I row:
//
//	qry            "Find me an everyday image that matches the given caption: a red circle on a white background\n"
//	pos_text       "<|image_1|>\nRepresent the given image.\n"
//	pos_image_path "images/train/00000.png"
//
// Training rows carry a hard negative that differs from the positive in
// one attribute (neg_text, or neg_image_path for T2I). Eval rows list
// the ground truth first and Candidates-1 distractors with other captions.
func Synthesize(dir string, opts SynthOptions) error {
	if opts.Train == 0 {
		opts.Train = 256
	}
	if opts.Test == 0 {
		opts.Test = 64
	}
	if opts.Candidates == 0 {
		opts.Candidates = 10
	}
	combos := allCombos()
	switch {
	case opts.Train < 0 || opts.Test < 0:
		return fmt.Errorf("traindata: Synthesize: %d train and %d test images", opts.Train, opts.Test)
	case opts.Candidates < 2 || opts.Candidates > len(combos):
		return fmt.Errorf("traindata: Synthesize: %d candidates per row (2..%d)", opts.Candidates, len(combos))
	case opts.Test < opts.Candidates:
		// T2I rows need Candidates-1 other held-out images as distractors.
		return fmt.Errorf("traindata: Synthesize: %d held-out images are too few for %d candidates per row", opts.Test, opts.Candidates)
	}
	rng := seedPCG(opts.Seed, 0, 3)

	// Cycle through shuffled combos so every caption is used about equally
	// often and the held-out images cover as many captions as possible.
	assign := func(n int) []combo {
		out := make([]combo, n)
		var perm []int
		for i := range out {
			if i%len(combos) == 0 {
				perm = permutation(len(combos), rng)
			}
			out[i] = combos[perm[i%len(combos)]]
		}
		return out
	}
	enc := png.Encoder{BufferPool: &pngPool{}} // reuse the compressor across images
	draw := func(split string, n int) ([]synthImage, error) {
		imgs := make([]synthImage, n)
		for i, c := range assign(n) {
			rel := path.Join("images", split, fmt.Sprintf("%05d.png", i))
			var buf bytes.Buffer
			if err := enc.Encode(&buf, drawShape(c, rng)); err != nil {
				return nil, err
			}
			if err := writeFile(filepath.Join(dir, filepath.FromSlash(rel)), buf.Bytes()); err != nil {
				return nil, err
			}
			imgs[i] = synthImage{rel: rel, combo: c}
		}
		return imgs, nil
	}
	train, err := draw("train", opts.Train)
	if err != nil {
		return fmt.Errorf("traindata: Synthesize: %w", err)
	}
	test, err := draw("test", opts.Test)
	if err != nil {
		return fmt.Errorf("traindata: Synthesize: %w", err)
	}

	i2tQuery := instruct.V1(instruct.Prompts["MSCOCO_i2t"].Query, "", true)
	t2iQuery := func(c combo) string { return instruct.V1(instruct.Prompts["MSCOCO_t2i"].Query, c.caption(), false) }
	imageTarget := instruct.V1(instruct.Prompts["MSCOCO_t2i"].Target, "", true)

	rows := func(imgs []synthImage, negatives bool) (i2t, t2i []Row) {
		for _, im := range imgs {
			a := Row{Qry: i2tQuery, QryImagePath: im.rel, PosText: im.combo.caption()}
			b := Row{Qry: t2iQuery(im.combo), PosText: imageTarget, PosImagePath: im.rel}
			if negatives {
				a.NegText = oneOff(im.combo, rng).caption()
				var near []synthImage
				for _, o := range imgs {
					if differsInOne(im.combo, o.combo) {
						near = append(near, o)
					}
				}
				if len(near) > 0 {
					b.NegText, b.NegImagePath = imageTarget, near[uintN(rng, uint64(len(near)))].rel
				}
			}
			i2t, t2i = append(i2t, a), append(t2i, b)
		}
		return i2t, t2i
	}
	trI2T, trT2I := rows(train, true)
	teI2T, teT2I := rows(test, false)

	// The held-out set again as MMEB-eval V1 rows: per query, the ground
	// truth and Candidates-1 distractors whose captions differ from it, so
	// no distractor is also correct.
	var evI2T, evT2I []EvalRow
	for _, im := range test {
		cap0 := im.combo.caption()
		// I2T distractors: other captions from the whole vocabulary.
		var others []combo
		for _, c := range combos {
			if c != im.combo {
				others = append(others, c)
			}
		}
		texts, paths := []string{cap0}, []string{""}
		for _, k := range permutation(len(others), rng)[:opts.Candidates-1] {
			texts, paths = append(texts, others[k].caption()), append(paths, "")
		}
		evI2T = append(evI2T, EvalRow{QryText: i2tQuery, QryImgPath: im.rel, TgtText: texts, TgtImgPath: paths})

		// T2I distractors: held-out images showing something else.
		var pool []synthImage
		for _, o := range test {
			if o.combo != im.combo {
				pool = append(pool, o)
			}
		}
		if len(pool) < opts.Candidates-1 {
			return fmt.Errorf("traindata: Synthesize: %d held-out images are too few for %d candidates per row", opts.Test, opts.Candidates)
		}
		texts, paths = []string{imageTarget}, []string{im.rel}
		for _, k := range permutation(len(pool), rng)[:opts.Candidates-1] {
			texts, paths = append(texts, imageTarget), append(paths, pool[k].rel)
		}
		evT2I = append(evT2I, EvalRow{QryText: t2iQuery(im.combo), TgtText: texts, TgtImgPath: paths})
	}

	mk := func(parts ...string) (string, error) {
		p := filepath.Join(append([]string{dir}, parts...)...)
		return p, os.MkdirAll(filepath.Dir(p), 0o755)
	}
	for _, w := range []struct {
		parts []string
		write func(string) error
	}{
		{[]string{"train", SynthI2T + ".jsonl"}, func(p string) error { return WriteJSONL(p, trI2T) }},
		{[]string{"train", SynthT2I, "original-00000-of-00001.parquet"}, func(p string) error { return WriteParquet(p, trT2I) }},
		{[]string{"test", SynthI2T + ".jsonl"}, func(p string) error { return WriteJSONL(p, teI2T) }},
		{[]string{"test", SynthT2I + ".jsonl"}, func(p string) error { return WriteJSONL(p, teT2I) }},
		{[]string{"eval", SynthI2T, "test-00000-of-00001.parquet"}, func(p string) error { return WriteEvalV1(p, evI2T) }},
		{[]string{"eval", SynthT2I, "test-00000-of-00001.parquet"}, func(p string) error { return WriteEvalV1(p, evT2I) }},
	} {
		p, err := mk(w.parts...)
		if err != nil {
			return fmt.Errorf("traindata: Synthesize: %w", err)
		}
		if err := w.write(p); err != nil {
			return err
		}
	}
	return nil
}

// pngPool keeps one PNG encoder buffer (Synthesize encodes sequentially).
type pngPool struct{ b *png.EncoderBuffer }

func (p *pngPool) Get() *png.EncoderBuffer  { return p.b }
func (p *pngPool) Put(b *png.EncoderBuffer) { p.b = b }

// oneOff returns a combo that differs from c in exactly one attribute.
func oneOff(c combo, rng *rand.PCG) combo {
	pick := func(n, not int) int {
		v := int(uintN(rng, uint64(n-1)))
		if v >= not {
			v++
		}
		return v
	}
	switch uintN(rng, 3) {
	case 0:
		c.shape = pick(len(synthShapes), c.shape)
	case 1:
		c.colour = pick(len(synthColours), c.colour)
	default:
		c.bg = pick(len(synthBackgrounds), c.bg)
	}
	return c
}

// writeFile writes an image. Images are not written atomically: a torn one
// is simply regenerated by the next run, while the row files, which say
// what exists, are.
func writeFile(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, 0o644)
}

// jitter moves a colour channel by up to ±12 so the same colour name
// covers a small range of values, as real photos do.
func jitter(v uint8, rng *rand.PCG) uint8 {
	x := int(v) + int(uintN(rng, 25)) - 12
	return uint8(min(max(x, 0), 255))
}

// drawShape renders one image: a plain background and one anti-aliased
// filled polygon (a circle is a 48-gon) of circumradius 18–35% of the
// shorter side, rotated at random and kept wholly inside the image.
func drawShape(c combo, rng *rand.PCG) image.Image {
	w := 64 + int(uintN(rng, 97))
	h := 64 + int(uintN(rng, 97))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	// The background moves in brightness only, so white, gray and black
	// stay neutral; the shape's colour moves per channel.
	bg := synthBackgrounds[c.bg]
	d := int(uintN(rng, 25)) - 12
	shift := func(v uint8) uint8 { return uint8(min(max(int(v)+d, 0), 255)) }
	draw.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{shift(bg.r), shift(bg.g), shift(bg.b), 255}), image.Point{}, draw.Src)

	m := float64(min(w, h))
	r := m * (0.18 + 0.17*float01(rng))
	cx := r + 1 + float01(rng)*(float64(w)-2*r-2)
	cy := r + 1 + float01(rng)*(float64(h)-2*r-2)
	theta := 2 * math.Pi * float01(rng)

	var pts [][2]float64 // unit-circumradius outline before rotation
	polygon := func(n int, radius func(k int) float64) {
		for k := 0; k < n; k++ {
			a := 2 * math.Pi * float64(k) / float64(n)
			rr := radius(k)
			pts = append(pts, [2]float64{rr * math.Cos(a), rr * math.Sin(a)})
		}
	}
	switch synthShapes[c.shape] {
	case "circle":
		polygon(48, func(int) float64 { return 1 })
	case "square":
		polygon(4, func(int) float64 { return 1 })
	case "triangle":
		polygon(3, func(int) float64 { return 1 })
	case "star":
		polygon(10, func(k int) float64 { return []float64{1, 0.42}[k%2] })
	case "cross":
		// Arms of half-width a and length l, scaled so the outermost
		// corners sit on the unit circle like the other shapes' vertices.
		l := 1 / math.Sqrt(1+0.3*0.3)
		a := 0.3 * l
		pts = [][2]float64{{-a, -l}, {a, -l}, {a, -a}, {l, -a}, {l, a}, {a, a}, {a, l}, {-a, l}, {-a, a}, {-l, a}, {-l, -a}, {-a, -a}}
	default:
		panic("traindata: unknown shape " + synthShapes[c.shape])
	}
	z := vector.NewRasterizer(w, h)
	sin, cos := math.Sincos(theta)
	for k, p := range pts {
		x := float32(cx + r*(p[0]*cos-p[1]*sin))
		y := float32(cy + r*(p[0]*sin+p[1]*cos))
		if k == 0 {
			z.MoveTo(x, y)
		} else {
			z.LineTo(x, y)
		}
	}
	z.ClosePath()
	fg := synthColours[c.colour]
	z.Draw(img, img.Bounds(), image.NewUniform(color.RGBA{jitter(fg.r, rng), jitter(fg.g, rng), jitter(fg.b, rng), 255}), image.Point{})
	return img
}
