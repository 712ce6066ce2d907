package encoder

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/org/vlm2vec/encoder/qwen2vl"
)

// TestTokenLimit: a text over WithMaxTokens is cut to its first tokens
// (TruncateText) or fails (FailLong); an input with an image over the
// limit fails either way, since visual tokens cannot be cut.
func TestTokenLimit(t *testing.T) {
	ctx := context.Background()
	long := Input{Text: strings.Repeat("a red bus drives past the old station. ", 20)}
	img := Input{Instruction: "Represent the given image.", ImagePath: filepath.Join(goldenDir(), "images", "photo_120x90.png")}

	enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"), WithMaxTokens(16))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if enc.Model().MaxTokens() != 16 {
		t.Fatalf("limit %d", enc.Model().MaxTokens())
	}
	prompt, err := enc.Prompt(long)
	if err != nil {
		t.Fatal(err)
	}
	all, err := enc.Tokenizer().Encode(prompt, true)
	if err != nil || len(all) <= 16 {
		t.Fatalf("%d tokens, %v", len(all), err)
	}
	b, err := enc.Batch([]Input{long}, 1)
	if err != nil {
		t.Fatal(err)
	}
	row := b.(*qwen2vl.Batch)
	n := 0
	for k, v := range row.Valid[0] {
		if v {
			if int(row.IDs[0][k]) != all[k] {
				t.Fatalf("token %d differs from the untruncated prompt's", k)
			}
			n++
		}
	}
	if n != 16 {
		t.Errorf("truncated to %d tokens, want 16", n)
	}
	if _, err := enc.Embed(ctx, []Input{long}); err != nil {
		t.Errorf("truncated input: %v", err)
	}
	if _, err := enc.Embed(ctx, []Input{{Text: "a cat"}, img}); !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "input 1") {
		t.Errorf("image input over the limit: %v", err)
	}

	strict, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"), WithMaxTokens(16), WithLengthPolicy(FailLong))
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	if _, err := strict.Embed(ctx, []Input{{Text: "a cat"}, long}); !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "input 1") {
		t.Errorf("FailLong: %v", err)
	}
}

// TestMemoryBudget: 10,000 emoji with combining marks in one text (which
// once exhausted memory) fail fast with ErrOverBudget; and a batch over
// the budget is split into smaller ones with the same results.
func TestMemoryBudget(t *testing.T) {
	ctx := context.Background()
	enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	start := time.Now()
	_, err = enc.Embed(ctx, []Input{{Text: "ok"}, {Text: strings.Repeat("👍\u0301\u0308", 10000)}})
	if !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), "input 1") {
		t.Fatalf("huge input: %v", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("refusing the huge input took %v", d)
	}
	t.Logf("huge input: %v (%v)", err, time.Since(start).Round(time.Millisecond))

	inputs := []Input{
		{Text: strings.Repeat("a long caption about a red bus. ", 8)},
		{Text: "a cat"}, {Text: "two dogs"}, {Text: "a bridge at night"},
		{Instruction: "Represent the given image.", ImagePath: filepath.Join(goldenDir(), "images", "wide_300x40.png")},
	}
	want, err := enc.Embed(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	one := enc.Model().ActivationBytes(1, 128)
	tight, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"), WithMemoryBudget(2*one))
	if err != nil {
		t.Fatal(err)
	}
	defer tight.Close()
	got, err := tight.Embed(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		for k := range want[i] {
			if math.Abs(float64(got[i][k]-want[i][k])) > 1e-5 {
				t.Fatalf("input %d differs after splitting: %v vs %v", i, got[i][k], want[i][k])
			}
		}
	}
	if tight.CompiledShapes() < 2 {
		t.Errorf("the tight budget ran %d batch shapes: the batch was not split", tight.CompiledShapes())
	}
}

// TestEmbedEach: one bad input (unreadable image, over the token limit)
// gets its own error; the others are embedded as Embed embeds them alone.
func TestEmbedEach(t *testing.T) {
	ctx := context.Background()
	enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"), WithMaxTokens(64), WithLengthPolicy(FailLong))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	inputs := []Input{
		{Text: "a cat"},
		{Instruction: "Represent the given image.", ImagePath: filepath.Join(goldenDir(), "images", "no-such-file.png")},
		{Text: strings.Repeat("a very long caption ", 40)},
		{Instruction: "Represent the given image.", ImagePath: filepath.Join(goldenDir(), "images", "wide_300x40.png")},
	}
	res, err := enc.EmbedEach(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	if res[1].Err == nil || !errors.Is(res[2].Err, ErrTooLong) || res[0].Err != nil || res[3].Err != nil {
		t.Fatalf("errors %v / %v / %v / %v", res[0].Err, res[1].Err, res[2].Err, res[3].Err)
	}
	for _, i := range []int{0, 3} {
		alone, err := enc.Embed(ctx, inputs[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		for k := range alone[0] {
			if math.Abs(float64(alone[0][k]-res[i].Embedding[k])) > 1e-5 {
				t.Fatalf("input %d differs from its embedding alone", i)
			}
		}
	}
	if _, err := enc.Embed(ctx, inputs); err == nil {
		t.Error("Embed with bad inputs succeeded")
	}
}

// TestLengthSorting: a call mixing short and long inputs pads each to its
// own kind (they are batched by length), and returns them in input order
// with the vectors each gets alone.
func TestLengthSorting(t *testing.T) {
	ctx := context.Background()
	enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"), WithBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	long := Input{Text: strings.Repeat("a long caption about a red bus at the station. ", 12)}
	inputs := []Input{long, {Text: "a cat"}, long, {Text: "a dog"}}
	got, err := enc.Embed(ctx, inputs)
	if err != nil {
		t.Fatal(err)
	}
	// The two short inputs ran together in a short batch, the two long
	// ones in a long one: two shapes (in input order, both batches would
	// have been long).
	if n := enc.CompiledShapes(); n != 2 {
		t.Errorf("%d batch shapes, want 2 (short and long)", n)
	}
	for i, in := range inputs {
		alone, err := enc.Embed(ctx, []Input{in})
		if err != nil {
			t.Fatal(err)
		}
		for k := range alone[0] {
			if math.Abs(float64(alone[0][k]-got[i][k])) > 1e-5 {
				t.Fatalf("input %d out of place or different", i)
			}
		}
	}
}

// TestEmbedSeq: a stream longer than a window yields every input in order
// with Embed's vectors; a bad input yields its error and the stream goes
// on; breaking out stops it.
func TestEmbedSeq(t *testing.T) {
	ctx := context.Background()
	enc, err := Open(ctx, filepath.Join(goldenDir(), "tiny-b"), WithBatchSize(2))
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	var inputs []Input
	for i := 0; i < 19; i++ {
		inputs = append(inputs, Input{Text: fmt.Sprintf("caption number %d %s", i, strings.Repeat("word ", i%5))})
	}
	inputs[11] = Input{ImagePath: "no-such.png"}
	seq := func(yield func(Input) bool) {
		for _, in := range inputs {
			if !yield(in) {
				return
			}
		}
	}
	next := 0
	for i, r := range enc.EmbedSeq(ctx, seq) {
		if i != next {
			t.Fatalf("index %d, want %d", i, next)
		}
		next++
		if i == 11 {
			if r.Err == nil {
				t.Error("the bad input yielded no error")
			}
			continue
		}
		if r.Err != nil {
			t.Fatalf("input %d: %v", i, r.Err)
		}
		alone, err := enc.Embed(ctx, inputs[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		for k := range alone[0] {
			if math.Abs(float64(alone[0][k]-r.Embedding[k])) > 1e-5 {
				t.Fatalf("input %d differs from Embed's vector", i)
			}
		}
	}
	if next != len(inputs) {
		t.Fatalf("%d results for %d inputs", next, len(inputs))
	}
	count := 0
	for range enc.EmbedSeq(ctx, seq) {
		count++
		if count == 3 {
			break
		}
	}
	if count != 3 {
		t.Errorf("break: %d", count)
	}
}
