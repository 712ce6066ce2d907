package mmeb

import (
	"bytes"
	"fmt"
	"image"
	_ "image/gif" // page images may come in any of these formats
	_ "image/jpeg"
	"image/png"
	"os"
	"path/filepath"

	"github.com/org/vlm2vec/internal/atomicfile"
)

var pngMagic = []byte("\x89PNG\r\n\x1a\n")

// extractPageImages writes the corpus rows' embedded images (the HF Image
// feature's bytes) as PNG files under imageRoot, as the reference does for
// pages that are not on disk yet. rows index the corpus table.
func extractPageImages(corpusFiles []string, imageRoot string, task Task, rows []int) error {
	t, err := readParquet(corpusFiles, []colSpec{
		{path: []string{"corpus-id"}},
		{path: []string{"image", "bytes"}, kind: colBytes, optional: true},
	})
	if err != nil {
		return fmt.Errorf("corpus images: %w", err)
	}
	if !t.present["image.bytes"] {
		// Nothing to extract from; the loader reports each missing page.
		return nil
	}
	if err := os.MkdirAll(imageRoot, 0o755); err != nil {
		return err
	}
	ids, imgs := t.col("corpus-id"), t.col("image", "bytes")
	for _, r := range rows {
		if r >= t.rows || imgs.at(r).null || imgs.at(r).str == "" {
			continue
		}
		data := []byte(imgs.at(r).str)
		if !bytes.HasPrefix(data, pngMagic) {
			img, _, err := image.Decode(bytes.NewReader(data))
			if err != nil {
				// Leave it missing: the loader reports the row.
				continue
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				return err
			}
			data = buf.Bytes()
		}
		dst := filepath.Join(imageRoot, pageImageName(task, ids.at(r).str))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteBytes(dst, data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
