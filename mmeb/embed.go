package mmeb

import (
	"context"
	"crypto/sha256"
	"strings"
)

// Item is one input to embed: a query or a candidate.
type Item struct {
	// Text is in the data's format: images are marked with
	// instruct.DataImageToken (<|image_1|>) and videos with
	// instruct.DataVideoToken; an encoder renders it for its backbone with
	// instruct.Swap. Keep it byte-exact: the pooled token is the last one.
	Text string
	// Image is the path of the item's image, "" if none. Loaders resolve it
	// against the image root, so it can be opened as is.
	Image string
	// Video holds the paths of the video frames to feed, in order (already
	// sampled, e.g. 8 evenly spaced frames), nil if none.
	Video []string

	// ref is the image/video identity used for de-duplication and cache
	// keys: the path as the data stores it (relative to the image root), so
	// a cache stays valid when the data moves. Empty for hand-made items.
	ref string
}

// Key returns the item's identity: equal keys embed to equal vectors.
func (it Item) Key() string {
	var b strings.Builder
	b.WriteString(it.Text)
	b.WriteByte(0)
	if it.ref != "" {
		b.WriteString(it.ref)
	} else {
		b.WriteString(it.Image)
		for _, f := range it.Video {
			b.WriteByte(0)
			b.WriteString(f)
		}
	}
	return b.String()
}

// HasImage reports whether the item carries an image or a video.
func (it Item) HasImage() bool { return it.Image != "" || len(it.Video) > 0 }

// Embedder turns items into vectors; it is the only thing the evaluator
// needs from a model. Embed must return one vector per item, all of the
// same length, in order. The evaluator calls it with batches of at most
// Options.BatchSize items and never concurrently.
type Embedder interface {
	Embed(ctx context.Context, items []Item) ([][]float32, error)
}

// ModelIdentifier is implemented by embedders that can name themselves
// for the embedding cache (model id, checkpoint, resolution, dtype…: what
// changes the vectors). Options.ModelID overrides it.
type ModelIdentifier interface {
	ModelID() string
}

// EmbedderFunc adapts a function to Embedder.
type EmbedderFunc func(ctx context.Context, items []Item) ([][]float32, error)

// Embed calls f.
func (f EmbedderFunc) Embed(ctx context.Context, items []Item) ([][]float32, error) {
	return f(ctx, items)
}

func cacheKey(model string, it Item) [32]byte {
	h := sha256.New()
	h.Write([]byte(model))
	h.Write([]byte{0})
	h.Write([]byte(it.Key()))
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}
