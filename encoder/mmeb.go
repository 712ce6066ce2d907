package encoder

import (
	"context"
	"fmt"

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
		if len(it.Video) > 0 {
			return nil, fmt.Errorf("encoder: item %d is a video; video inputs are not supported yet", i)
		}
		inputs[i] = Input{Prompt: it.Text, ImagePath: it.Image}
	}
	return m.e.Embed(ctx, inputs)
}
