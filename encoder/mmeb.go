package encoder

import (
	"context"

	"github.com/org/vlm2vec/mmeb"
)

// MMEB adapts the encoder to the MMEB evaluator: items carry their text in
// the data's format (with <|image_1|>) and an image path. id names the
// model for the evaluator's embedding cache; it should change whenever the
// vectors would (checkpoint, adapter, dtype, resolution).
func (e *Encoder) MMEB(id string) mmeb.Embedder { return &mmebEmbedder{e: e, id: id} }

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
