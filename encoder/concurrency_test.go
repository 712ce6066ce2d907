package encoder

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentEmbed: goroutines embedding on one encoder get the vectors
// a single caller gets (run under -race in CI).
func TestConcurrentEmbed(t *testing.T) {
	ctx := context.Background()
	enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"), WithBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	inputs := []Input{
		{Instruction: "Represent the given image.", ImagePath: filepath.Join(goldenDir(), "images", "photo_120x90.png")},
		{Text: "a cat on a mat"},
		{Instruction: "Find an image that matches the caption.", Text: "a red bus"},
	}
	want, err := enc.Embed(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := enc.Embed(ctx, inputs)
			if err != nil {
				errs <- err
				return
			}
			for i := range want {
				for k := range want[i] {
					if got[i][k] != want[i][k] {
						t.Errorf("goroutine result differs at input %d", i)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestEmbedRacingClose: Close while embeddings run neither crashes nor
// races; the calls finish with vectors or an error.
func TestEmbedRacingClose(t *testing.T) {
	ctx := context.Background()
	enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = enc.Embed(ctx, []Input{{Text: "a cat on a mat"}, {Instruction: "Represent the given image.", ImagePath: filepath.Join(goldenDir(), "images", "wide_300x40.png")}})
		}()
	}
	if err := enc.Close(); err != nil {
		t.Error(err)
	}
	wg.Wait()
}
