package phi3v

import (
	"os"
	"testing"
)

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"tiny-phi3v", "tiny-phi3v-b"} {
		data, err := os.ReadFile("testdata/" + name + "/config.json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{"model_type": "phi3_v", "rope_scaling": null, "img_processor": null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, true)
		if err != nil {
			return
		}
		if c.Head() <= 0 || c.Vision().Grid() != 24 || c.FeatureIndex() < 0 || c.FeatureIndex() > c.Vision().NumHiddenLayers {
			t.Fatalf("accepted a config with unusable dimensions: %+v", c)
		}
		_ = c.ExpectedWeights()
		_ = c.AttentionFactor()
	})
}

func FuzzParseImageProcessorConfig(f *testing.F) {
	data, err := os.ReadFile("testdata/tiny-phi3v/preprocessor_config.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"num_crops": 16}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseImageProcessorConfig(data)
		if err != nil {
			return
		}
		if _, err := NewImageProcessor(c); err != nil {
			t.Fatalf("parsed config %+v rejected by NewImageProcessor: %v", c, err)
		}
	})
}

// FuzzHDSize: any image size and crop budget gives a padded size of whole
// crops within the budget, or a size the processor refuses (too elongated).
func FuzzHDSize(f *testing.F) {
	f.Add(640, 480, 4)
	f.Add(10, 7, 16)
	f.Add(1, 100000, 4)
	f.Fuzz(func(t *testing.T, w, h, crops int) {
		if w <= 0 || h <= 0 || w > 1<<16 || h > 1<<16 || validNumCrops(crops) != nil {
			return
		}
		rw, rh, pw, ph := HDSize(w, h, crops)
		if rw <= 0 || rh <= 0 {
			return // Preprocess refuses these
		}
		if pw%CropSide != 0 || ph%CropSide != 0 || pw < rw || ph < rh || (pw/CropSide)*(ph/CropSide) > crops {
			t.Fatalf("%dx%d, %d crops: resized %dx%d, padded %dx%d", w, h, crops, rw, rh, pw, ph)
		}
		if ImageTokens(ph, pw) <= 0 {
			t.Fatal("no tokens")
		}
	})
}
