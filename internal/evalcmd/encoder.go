package evalcmd

import (
	"context"
	"path/filepath"

	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/mmeb"
)

// openEncoder loads a checkpoint (and adapter) and returns it as an
// mmeb.Embedder whose cache id names the checkpoint and adapter paths and
// carries the encoder's content fingerprint (Encoder.MMEB).
func openEncoder(ctx context.Context, dir, adapter, backend string, batch int) (*encoder.Encoder, mmeb.Embedder, error) {
	opts := []encoder.Option{encoder.WithBatchSize(batch)}
	if backend != "" {
		opts = append(opts, encoder.WithBackendConfig(backend))
	}
	id := "qwen2vl:" + abs(dir)
	if adapter != "" {
		opts = append(opts, encoder.WithAdapter(adapter))
		id += "+" + abs(adapter)
	}
	enc, err := encoder.Open(ctx, dir, opts...)
	if err != nil {
		return nil, nil, err
	}
	return enc, enc.MMEB(id), nil
}

func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
