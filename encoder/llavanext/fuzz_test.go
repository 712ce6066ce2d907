package llavanext

import (
	"os"
	"testing"
)

func FuzzParseConfig(f *testing.F) {
	for _, name := range []string{"tiny-llava", "tiny-llava-b"} {
		data, err := os.ReadFile("testdata/" + name + "/config.json")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(hubConfig))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, true)
		if err != nil {
			return
		}
		if c.TextConfig.Head() <= 0 || c.VisionConfig.Grid() <= 0 || c.featureDepth() > c.VisionConfig.NumHiddenLayers {
			t.Fatalf("accepted a config with unusable dimensions: %+v", c)
		}
		_ = c.ExpectedWeights()
	})
}

func FuzzParseImageProcessorConfig(f *testing.F) {
	data, err := os.ReadFile("testdata/tiny-llava/preprocessor_config.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseImageProcessorConfig(data)
		if err != nil {
			return
		}
		_, _ = NewImageProcessor(c)
	})
}
