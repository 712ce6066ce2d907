package encoder

import (
	"context"

	"github.com/org/vlm2vec/mmeb"
)

// MMEB adapts the encoder to the MMEB evaluator: items carry their text in
// the data's format (with <|image_1|>) and an image path. The evaluator's
// embedding cache is keyed on ModelID: the encoder's Fingerprint (which
// changes with the checkpoint's and adapter's contents and the settings),
// after name when one is given for people to read.
func (e *Encoder) MMEB(name string) mmeb.Embedder {
	id := e.Fingerprint()
	if name != "" {
		id = name + "@" + id
	}
	return &mmebEmbedder{e: e, id: id}
}

type mmebEmbedder struct {
	e  *Encoder
	id string
}

func (m *mmebEmbedder) ModelID() string { return m.id }

func (m *mmebEmbedder) Embed(ctx context.Context, items []mmeb.Item) ([][]float32, error) {
	inputs := make([]Input, len(items))
	for i, it := range items {
		inputs[i] = Input{Prompt: it.Text, ImagePath: it.Image, VideoPaths: it.Video}
	}
	return m.e.Embed(ctx, inputs)
}
