package qwen3vl

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/qwen2vl"
)

// golden mirrors testdata/goldens.json (scripts/goldens/qwen3vl).
type golden struct {
	Cases []struct {
		Name     string         `json:"name"`
		Embedder map[string]int `json:"embedder"`
		Rows     []struct {
			Input struct {
				Text        []string `json:"text"`
				Image       []string `json:"image"`
				Video       []string `json:"video"`
				Instruction *string  `json:"instruction"`
			} `json:"input"`
			Prompt    string    `json:"prompt"`
			IDs       []int     `json:"ids"`
			Positions [3][]int  `json:"positions"`
			Embedding []float64 `json:"embedding"`
		} `json:"rows"`
		ImageGrids  [][3]int `json:"image_grid_thw"`
		VideoGrids  [][3]int `json:"video_grid_thw"`
		ImageSHA256 string   `json:"pixel_values_sha256"`
		VideoSHA256 string   `json:"pixel_values_videos_sha256"`
	} `json:"cases"`
}

func loadGolden(t testing.TB) *golden {
	data, err := os.ReadFile("testdata/goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

func decode(t testing.TB, rel string) image.Image {
	img, err := images.DecodeFileKeepAlpha(filepath.Join("testdata", rel), images.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func testProcessor(t testing.TB, maxFrames int) *Processor {
	pcfg, err := qwen2vl.LoadImageProcessorConfig("testdata/tiny/preprocessor_config.json")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewProcessor(pcfg)
	if err != nil {
		t.Fatal(err)
	}
	if maxFrames > 0 {
		p.MaxFrames = maxFrames
	}
	return p
}

// u8 inverts the (v - 127.5) / 127.5 normalisation, exactly.
func u8(t testing.TB, px []float32) []byte {
	out := make([]byte, len(px))
	for i, x := range px {
		v := math.Round(float64(x)*127.5 + 127.5)
		if float32((float32(v)-127.5)/127.5) != x {
			t.Fatalf("pixel %d = %v is not a normalised uint8", i, x)
		}
		out[i] = byte(v)
	}
	return out
}

// TestProcessorMatchesReference: the pixel values of every golden case are
// bit for bit the reference's (qwen-vl-utils' resizes, Pillow's and
// torchvision's bicubic, the fast processors' normalisation), compared by
// SHA-256 over the whole batch, with the grids.
func TestProcessorMatchesReference(t *testing.T) {
	for _, c := range loadGolden(t).Cases {
		p := testProcessor(t, c.Embedder["max_frames"])
		var imgBytes, vidBytes []byte
		var imgGrids, vidGrids [][3]int
		for _, r := range c.Rows {
			// The reference orders each row's videos before its images.
			if len(r.Input.Video) > 0 {
				var frames []image.Image
				for _, f := range r.Input.Video {
					frames = append(frames, decode(t, f))
				}
				v, err := p.Video(frames)
				if err != nil {
					t.Fatal(err)
				}
				vidBytes = append(vidBytes, u8(t, v.PixelValues)...)
				vidGrids = append(vidGrids, v.GridTHW)
			}
			for _, f := range r.Input.Image {
				pi, err := p.Image(decode(t, f))
				if err != nil {
					t.Fatal(err)
				}
				imgBytes = append(imgBytes, u8(t, pi.PixelValues)...)
				imgGrids = append(imgGrids, pi.GridTHW)
			}
		}
		check := func(kind string, b []byte, grids, want [][3]int, sum string) {
			if len(want) != len(grids) {
				t.Errorf("%s %s: grids %v, reference %v", c.Name, kind, grids, want)
				return
			}
			for i := range want {
				if grids[i] != want[i] {
					t.Errorf("%s %s %d: grid %v, reference %v", c.Name, kind, i, grids[i], want[i])
				}
			}
			if sum == "" {
				return
			}
			h := sha256.Sum256(b)
			if got := hex.EncodeToString(h[:]); got != sum {
				t.Errorf("%s %s: pixel values differ from the reference (sha256 %s, want %s)", c.Name, kind, got[:12], sum[:12])
			}
		}
		check("images", imgBytes, imgGrids, c.ImageGrids, c.ImageSHA256)
		check("videos", vidBytes, vidGrids, c.VideoGrids, c.VideoSHA256)
	}
}
