package images

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type goldenCase struct {
	File   string `json:"file"`
	RGB    string `json:"rgb"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Mode   string `json:"pil_mode"`
	Lossy  bool   `json:"lossy"`
}

// maxLossyDiff bounds JPEG differences from Pillow. Chroma upsampling and
// colour conversion follow libjpeg exactly (jpeg.go), but image/jpeg's
// integer IDCT is not libjpeg's islow one, so a few luma values move by one
// or two levels (measured: max 2, mean 0.04 per value). Two levels is under
// 0.03 of a CLIP-normalised standard deviation. Lossy WebP decodes exactly.
const maxLossyDiff = 2

// unsupported lists golden files Pillow opens and we refuse with an error.
var unsupported = map[string]string{
	"cmyk_tiff.tiff": "golang.org/x/image/tiff has no CMYK colour model",
}

func TestMatchesPillow(t *testing.T) {
	raw, err := os.ReadFile("testdata/index.json")
	if err != nil {
		t.Fatal(err)
	}
	var idx struct {
		Pillow string       `json:"pillow"`
		Cases  []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Cases) < 15 {
		t.Fatalf("only %d golden cases", len(idx.Cases))
	}
	for _, c := range idx.Cases {
		t.Run(c.File, func(t *testing.T) {
			img, err := DecodeFile(filepath.Join("testdata", c.File), Limits{})
			if reason, ok := unsupported[c.File]; ok {
				if err == nil {
					t.Fatalf("decoded, but listed as unsupported (%s): update the list", reason)
				}
				t.Logf("known gap, clear error as wanted: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", c.RGB))
			if err != nil {
				t.Fatal(err)
			}
			if img.Rect.Dx() != c.Width || img.Rect.Dy() != c.Height {
				t.Fatalf("size %v, want %dx%d", img.Rect, c.Width, c.Height)
			}
			maxDiff, nDiff := 0, 0
			for y := 0; y < c.Height; y++ {
				for x := 0; x < c.Width; x++ {
					for ch := 0; ch < 3; ch++ {
						got := int(img.Pix[y*img.Stride+4*x+ch])
						exp := int(want[(y*c.Width+x)*3+ch])
						if d := abs(got - exp); d > 0 {
							nDiff++
							maxDiff = max(maxDiff, d)
						}
					}
					if img.Pix[y*img.Stride+4*x+3] != 255 {
						t.Fatalf("alpha at %d,%d is not 255", x, y)
					}
				}
			}
			limit := 0
			if c.Lossy {
				limit = maxLossyDiff
			}
			t.Logf("%s (Pillow %s mode %s): max |diff| %d, %d of %d values differ", c.File, idx.Pillow, c.Mode, maxDiff, nDiff, 3*c.Width*c.Height)
			if maxDiff > limit {
				t.Errorf("max |diff| %d > %d (%d values differ)", maxDiff, limit, nDiff)
			}
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func encodePNG(t testing.TB, img image.Image) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLimits(t *testing.T) {
	data := encodePNG(t, image.NewGray(image.Rect(0, 0, 100, 50)))
	if _, err := Decode(bytes.NewReader(data), Limits{MaxPixels: 4999}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("pixel limit: got %v", err)
	}
	if _, err := Decode(bytes.NewReader(data), Limits{MaxPixels: 5000}); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	if _, err := Decode(bytes.NewReader(data), Limits{MaxBytes: int64(len(data) - 1)}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("byte limit: got %v", err)
	}
}

// A PNG header claiming 100000 x 100000 pixels must be refused from the
// header alone, before the decoder allocates 40 GB.
func TestDecompressionBombRefusedFromHeader(t *testing.T) {
	data := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	setIHDRSize(data, 100000, 100000)
	_, err := Decode(bytes.NewReader(data), Limits{})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", err)
	}
}

func TestCorruptAndEmpty(t *testing.T) {
	good := encodePNG(t, image.NewRGBA(image.Rect(0, 0, 8, 8)))
	for name, data := range map[string][]byte{
		"empty":     nil,
		"garbage":   []byte("definitely not an image"),
		"truncated": good[:len(good)/2],
		"zero size": encodePNGZero(),
	} {
		if _, err := Decode(bytes.NewReader(data), Limits{}); err == nil {
			t.Errorf("%s: decoded without error", name)
		}
	}
	if _, err := DecodeFile(filepath.Join(t.TempDir(), "missing.png"), Limits{}); err == nil || !strings.Contains(err.Error(), "missing.png") {
		t.Errorf("missing file: %v", err)
	}
}

// encodePNGZero hand-builds a PNG whose IHDR says 0x0: Go's encoder refuses to.
func encodePNGZero() []byte {
	d := encodePNG(testing.TB(nil), image.NewGray(image.Rect(0, 0, 1, 1)))
	setIHDRSize(d, 0, 0)
	return d
}

// setIHDRSize rewrites a PNG's IHDR width and height and fixes its CRC.
func setIHDRSize(png []byte, w, h uint32) {
	binary.BigEndian.PutUint32(png[16:], w)
	binary.BigEndian.PutUint32(png[20:], h)
	binary.BigEndian.PutUint32(png[29:], crc32.ChecksumIEEE(png[12:29]))
}

func TestToRGBStraightensPremultiplied(t *testing.T) {
	src := image.NewRGBA(image.Rect(2, 3, 4, 4)) // non-zero origin
	src.SetRGBA(2, 3, color.RGBA{50, 25, 0, 128})
	src.SetRGBA(3, 3, color.RGBA{10, 20, 30, 255})
	out := ToRGB(src)
	if out.Rect != image.Rect(0, 0, 2, 1) {
		t.Fatalf("bounds %v", out.Rect)
	}
	if got := out.RGBAAt(0, 0); got != (color.RGBA{99, 49, 0, 255}) {
		t.Errorf("premultiplied pixel -> %v", got)
	}
	if got := out.RGBAAt(1, 0); got != (color.RGBA{10, 20, 30, 255}) {
		t.Errorf("opaque pixel -> %v", got)
	}
}

// FuzzDecode: arbitrary bytes give an image or an error, never a panic,
// and never an image over the limits.
func FuzzDecode(f *testing.F) {
	matches, _ := filepath.Glob("testdata/*")
	for _, m := range matches {
		if strings.HasSuffix(m, ".rgb") || strings.HasSuffix(m, ".json") {
			continue
		}
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b)
		}
	}
	lim := Limits{MaxPixels: 1 << 16, MaxBytes: 1 << 20}
	f.Fuzz(func(t *testing.T, b []byte) {
		img, err := Decode(bytes.NewReader(b), lim)
		if err != nil {
			return
		}
		if int64(img.Rect.Dx())*int64(img.Rect.Dy()) > lim.MaxPixels || img.Rect.Empty() {
			t.Fatalf("accepted %v", img.Rect)
		}
	})
}

// TestPNGWithoutIEND: a PNG missing its end chunk opens, as in Pillow,
// with the pixels of the whole file; one cut inside its image data still
// fails.
func TestPNGWithoutIEND(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "gray_png.png"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, pngIEND) {
		t.Fatal("test file does not end in IEND")
	}
	whole, err := Decode(bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	cut, err := Decode(bytes.NewReader(data[:len(data)-len(pngIEND)]), Limits{})
	if err != nil {
		t.Fatalf("PNG without IEND: %v", err)
	}
	if !bytes.Equal(whole.Pix, cut.Pix) {
		t.Error("PNG without IEND decodes to other pixels")
	}
	if _, err := Decode(bytes.NewReader(data[:len(data)/2]), Limits{}); err == nil {
		t.Error("a PNG cut in half decoded")
	}
}

// TestGIFFrameSmallerThanScreen: a GIF whose first frame covers part of
// its logical screen opens at the screen size, the rest palette index 0,
// as Pillow 10.4 gives it (testdata/small_frame_gif.gif: screen 6x4, a
// 2x2 frame at (1, 1); pixels read off Pillow).
func TestGIFFrameSmallerThanScreen(t *testing.T) {
	img, err := DecodeFile(filepath.Join("testdata", "small_frame_gif.gif"), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if img.Rect.Dx() != 6 || img.Rect.Dy() != 4 {
		t.Fatalf("size %v", img.Rect)
	}
	red, green, yellow := [3]uint8{255, 0, 0}, [3]uint8{0, 255, 0}, [3]uint8{255, 255, 0}
	want := map[[2]int][3]uint8{{0, 0}: red, {1, 1}: red, {2, 1}: green, {1, 2}: yellow, {2, 2}: red, {5, 3}: red}
	for p, c := range want {
		i := img.PixOffset(p[0], p[1])
		if got := [3]uint8{img.Pix[i], img.Pix[i+1], img.Pix[i+2]}; got != c {
			t.Errorf("pixel %v = %v, Pillow %v", p, got, c)
		}
	}
}
