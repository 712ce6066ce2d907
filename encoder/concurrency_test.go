package encoder

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
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

// TestCancelInterruptsARunningPass: a call cancelled in the middle of one
// long forward pass returns at once (the pass finishes in the background,
// its result dropped), and the next call waits for that pass and then
// embeds correctly. Logs the pass time and the measured latency.
func TestCancelInterruptsARunningPass(t *testing.T) {
	// 3,001 tokens: about a second per pass on the tiny model, nearly all
	// of it in the forward pass (tokenizing takes under a millisecond).
	enc, err := Open(context.Background(), filepath.Join(goldenDir(), "tiny-b"), WithBatchSize(1), WithMaxTokens(4096))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	long := []Input{{Prompt: strings.Repeat("word ", 1000)}}
	start := time.Now()
	if _, err := enc.Embed(context.Background(), long); err != nil { // compiles, then one pass
		t.Fatal(err)
	}
	start = time.Now()
	if _, err := enc.Embed(context.Background(), long); err != nil {
		t.Fatal(err)
	}
	pass := time.Since(start)
	short := []Input{{Prompt: "a red car"}}
	want, err := enc.Embed(context.Background(), short)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := enc.Embed(ctx, long)
		done <- err
	}()
	time.Sleep(pass / 4)
	cancelled := time.Now()
	cancel()
	err = <-done
	latency := time.Since(cancelled)
	t.Logf("one pass %v; returned %v after cancel", pass, latency)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if latency > pass/4+20*time.Millisecond {
		t.Errorf("returned %v after cancel inside a %v pass: not interrupted", latency, pass)
	}
	got, err := enc.Embed(context.Background(), short)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got[0], want[0]) {
		t.Error("the call after a cancelled pass got a different embedding")
	}
}
