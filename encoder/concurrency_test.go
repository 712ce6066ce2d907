package encoder

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"
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

// TestCancelStopsAtTheNextBatch: cancelling a long Embed returns
// context.Canceled within about one forward pass: the call checks its
// context before every batch (a running pass cannot be interrupted; the
// memory budget bounds how long one takes). Logs the measured latency.
func TestCancelStopsAtTheNextBatch(t *testing.T) {
	enc, err := Open(context.Background(), filepath.Join(goldenDir(), "tiny-b"), WithBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	one := []Input{{Instruction: "Represent the given image.", ImagePath: filepath.Join(goldenDir(), "images", "photo_120x90.png")}}
	start := time.Now()
	if _, err := enc.Embed(context.Background(), append(one, one...)); err != nil {
		t.Fatal(err)
	}
	pass := time.Since(start)
	var many []Input
	for i := 0; i < 400; i++ {
		many = append(many, one[0])
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := enc.Embed(ctx, many)
		done <- err
	}()
	time.Sleep(3 * pass)
	cancelled := time.Now()
	cancel()
	err = <-done
	latency := time.Since(cancelled)
	t.Logf("one batch %v; returned %v after cancel", pass, latency)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if latency > 10*pass+time.Second {
		t.Errorf("returned %v after cancel, one batch takes %v", latency, pass)
	}
}
