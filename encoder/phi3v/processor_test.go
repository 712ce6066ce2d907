package phi3v

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/safetensors"
)

type processorGoldens struct {
	GlobalStride int `json:"global_stride"`
	RealGeometry []struct {
		NumCrops      int `json:"num_crops"`
		Width, Height int
		ImageTokens   int `json:"image_tokens"`
	} `json:"real_geometry"`
	Cases []struct {
		ID              string   `json:"id"`
		NumCrops        int      `json:"num_crops"`
		Image           string   `json:"image"`
		HDSize          [2]int   `json:"hd_size"`
		Crops           int      `json:"crops"`
		ImageTokens     int      `json:"image_tokens"`
		TokensFromSize  int      `json:"image_tokens_from_size"`
		GlobalSHA256    string   `json:"global_sha256"`
		LocalSHA256     []string `json:"local_sha256"`
		GlobalSum       float64  `json:"global_sum"`
		GlobalAbsSum    float64  `json:"global_abs_sum"`
		GlobalSampleKey string   `json:"global_sample_key"`
	} `json:"cases"`
}

func loadProcessorGoldens(t *testing.T) processorGoldens {
	t.Helper()
	data, err := os.ReadFile("testdata/processor_goldens.json")
	if err != nil {
		t.Fatal(err)
	}
	var g processorGoldens
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

func digest(x []float32) string {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestRealImageTokenCounts: the formula on Phi-3.5-V's real geometry, 4 and
// 16 crops (757 = 5·144 + 1 + 3·12 for a 2x2 tiling).
func TestRealImageTokenCounts(t *testing.T) {
	g := loadProcessorGoldens(t)
	if len(g.RealGeometry) != 6 {
		t.Fatalf("%d real-geometry cases", len(g.RealGeometry))
	}
	for _, c := range g.RealGeometry {
		_, _, pw, ph := HDSize(c.Width, c.Height, c.NumCrops)
		if got := ImageTokens(ph, pw); got != c.ImageTokens {
			t.Errorf("%dx%d with %d crops: %d tokens, reference %d", c.Width, c.Height, c.NumCrops, got, c.ImageTokens)
		}
	}
}

// TestPreprocessMatchesReference: HD sizes, crop counts and token counts
// exactly; every local crop bit-exact (SHA-256 of its float32 values); the
// global image bit-exact too or, where PyTorch's bicubic kernel rounds its
// sums its own way (it contracts some multiply-adds; the weights and taps
// are the same), within 1e-6 (a few ulp at the values' magnitude, ≤ 2.2) on
// every 13th value and 1e-5 relative on the sums.
func TestPreprocessMatchesReference(t *testing.T) {
	g := loadProcessorGoldens(t)
	samples, err := safetensors.OpenFiles("testdata/processor_goldens.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer samples.Close()
	sampled := 0
	if len(g.Cases) < 16 {
		t.Fatalf("only %d cases", len(g.Cases))
	}
	for _, c := range g.Cases {
		img, err := images.DecodeFile(filepath.Join("testdata", "images", c.Image), images.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		cfg := ImageProcessorConfig{NumCrops: c.NumCrops, NumImgTokens: 144, ImageMean: clipMean, ImageStd: clipStd}
		p, err := NewImageProcessor(cfg)
		if err != nil {
			t.Fatal(err)
		}
		out, err := p.Preprocess(images.NewRGBFromImage(img))
		if err != nil {
			t.Fatalf("%s: %v", c.ID, err)
		}
		if out.Height != c.HDSize[0] || out.Width != c.HDSize[1] || len(out.Crops) != c.Crops {
			t.Errorf("%s: HD %dx%d with %d crops, reference %v with %d", c.ID, out.Height, out.Width, len(out.Crops), c.HDSize, c.Crops)
			continue
		}
		if out.Tokens() != c.ImageTokens || out.Tokens() != c.TokensFromSize {
			t.Errorf("%s: %d tokens, reference %d (from size %d)", c.ID, out.Tokens(), c.ImageTokens, c.TokensFromSize)
		}
		for k, crop := range out.Crops {
			if digest(crop) != c.LocalSHA256[k] {
				t.Errorf("%s: crop %d differs from the reference", c.ID, k)
			}
		}
		if digest(out.Global) != c.GlobalSHA256 {
			var sum, abs float64
			for _, v := range out.Global {
				sum += float64(v)
				abs += math.Abs(float64(v))
			}
			if math.Abs(sum-c.GlobalSum) > 1e-5*c.GlobalAbsSum || math.Abs(abs-c.GlobalAbsSum) > 1e-5*c.GlobalAbsSum {
				t.Errorf("%s: global image sums %g/%g, reference %g/%g", c.ID, sum, abs, c.GlobalSum, c.GlobalAbsSum)
			}
		}
		if c.GlobalSampleKey != "" {
			want, _, err := samples.Float32s(c.GlobalSampleKey)
			if err != nil {
				t.Fatal(err)
			}
			worst := 0.0
			for i, w := range want {
				worst = math.Max(worst, math.Abs(float64(out.Global[i*g.GlobalStride]-w)))
			}
			if worst > 1e-6 {
				t.Errorf("%s: global image differs by up to %g", c.ID, worst)
			}
			sampled++
		}
	}
	if sampled < 9 {
		t.Fatalf("only %d global images sampled", sampled)
	}
}

func TestHDSize(t *testing.T) {
	for _, c := range []struct{ w, h, crops, rw, rh, pw, ph int }{
		{336, 336, 4, 672, 672, 672, 672},
		{300, 40, 4, 1344, 179, 1344, 336},
		{40, 300, 4, 179, 1344, 336, 1344},
		{640, 480, 16, 1344, 1008, 1344, 1008},
		{10, 7, 1, 336, 235, 336, 336},
	} {
		rw, rh, pw, ph := HDSize(c.w, c.h, c.crops)
		if rw != c.rw || rh != c.rh || pw != c.pw || ph != c.ph {
			t.Errorf("%dx%d/%d: %d %d %d %d, want %v", c.w, c.h, c.crops, rw, rh, pw, ph, c)
		}
	}
}
