package llavanext

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/safetensors"
)

// The goldens come from scripts/goldens/llavanext/make_goldens.py
// (transformers 4.52.3's LlavaNextImageProcessor and LlavaNextProcessor).

type processorCase struct {
	ID             string `json:"id"`
	Checkpoint     string `json:"checkpoint"`
	Image          string `json:"image"`
	PreResize      int    `json:"pre_resize"`
	ImageSize      [2]int `json:"image_size"`
	BestResolution [2]int `json:"best_resolution"`
	NumCrops       int    `json:"num_crops"`
	ImageTokens    int    `json:"image_tokens"`
	PixelValuesKey string `json:"pixel_values_key"`
}

type processorGoldens struct {
	RealGeometry []struct {
		Width, Height int
		ImageTokens   int `json:"image_tokens"`
	} `json:"real_geometry"`
	Cases []processorCase `json:"cases"`
}

func loadProcessorGoldens(t *testing.T) processorGoldens {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "processor_goldens.json"))
	if err != nil {
		t.Fatalf("goldens missing (run scripts/goldens/llavanext/make_goldens.py): %v", err)
	}
	var g processorGoldens
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestProcessorMatchesTransformers: every golden image, as it is and after
// VLM2Vec's 1344x1344 pre-resize, through both tiny checkpoints'
// processors: the same best resolution, crop count and <image> token count
// as transformers, and for tiny-llava every crop's pixel values bit for bit
// (Pillow's resampler and numpy's float32 normalisation reproduced).
func TestProcessorMatchesTransformers(t *testing.T) {
	g := loadProcessorGoldens(t)
	px, err := safetensors.OpenFiles(filepath.Join("testdata", "processor_goldens.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer px.Close()
	procs := map[string]*ImageProcessor{}
	cfgs := map[string]*Config{}
	exact := 0
	for _, c := range g.Cases {
		p, ok := procs[c.Checkpoint]
		if !ok {
			pc, err := LoadImageProcessorConfig(filepath.Join("testdata", c.Checkpoint, "preprocessor_config.json"))
			if err != nil {
				t.Fatal(err)
			}
			if p, err = NewImageProcessor(pc); err != nil {
				t.Fatal(err)
			}
			if cfgs[c.Checkpoint], err = LoadConfig(filepath.Join("testdata", c.Checkpoint, "config.json"), false); err != nil {
				t.Fatal(err)
			}
			procs[c.Checkpoint] = p
		}
		cfg := cfgs[c.Checkpoint]
		img, err := images.DecodeFile(filepath.Join("testdata", "images", c.Image), images.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		rgb := images.NewRGBFromImage(img)
		if c.PreResize > 0 {
			if rgb, err = images.Resize(rgb, c.PreResize, c.PreResize, images.ResampleBicubic); err != nil {
				t.Fatal(err)
			}
		}
		pi, err := p.Preprocess(rgb)
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		if [2]int{pi.Height, pi.Width} != c.ImageSize || [2]int{pi.BestHeight, pi.BestWidth} != c.BestResolution || len(pi.Crops) != c.NumCrops {
			t.Errorf("%s: size %dx%d best %dx%d crops %d; reference %v %v %d", c.ID, pi.Height, pi.Width, pi.BestHeight, pi.BestWidth, len(pi.Crops), c.ImageSize, c.BestResolution, c.NumCrops)
			continue
		}
		v := cfg.VisionConfig
		if n := ImageLayout(pi.Height, pi.Width, cfg.ImageGridPinpoints, v.ImageSize, v.Grid()).Tokens(); n != c.ImageTokens {
			t.Errorf("%s: %d image tokens, reference %d", c.ID, n, c.ImageTokens)
		}
		if c.PixelValuesKey == "" {
			continue
		}
		want, shape, err := px.Float32s(c.PixelValuesKey)
		if err != nil {
			t.Fatal(err)
		}
		if shape[0] != len(pi.Crops) {
			t.Fatalf("%s: golden has %d crops", c.ID, shape[0])
		}
		per := len(want) / shape[0]
		for k, crop := range pi.Crops {
			diff := 0.0
			for i, x := range crop {
				diff = math.Max(diff, math.Abs(float64(x-want[k*per+i])))
			}
			if diff != 0 {
				t.Errorf("%s crop %d: max abs diff %g from the reference (want bit-exact)", c.ID, k, diff)
			}
		}
		exact++
	}
	if exact < 10 {
		t.Fatalf("only %d images compared bit for bit", exact)
	}
	for _, r := range g.RealGeometry {
		if n := ImageLayout(r.Height, r.Width, realPinpoints, 336, 24).Tokens(); n != r.ImageTokens {
			t.Errorf("real geometry %dx%d: %d tokens, reference %d", r.Width, r.Height, n, r.ImageTokens)
		}
	}
}
