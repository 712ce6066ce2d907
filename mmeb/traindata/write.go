package traindata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/parquet-go/parquet-go"

	"github.com/org/vlm2vec/internal/atomicfile"
)

// Row is one MMEB-train row as stored: texts in data format and image
// paths relative to the image root. The tags give the column names in
// JSONL and parquet; the negatives are left out of JSONL when empty, as
// in subsets without negatives.
type Row struct {
	Qry          string `json:"qry" parquet:"qry"`
	QryImagePath string `json:"qry_image_path" parquet:"qry_image_path"`
	PosText      string `json:"pos_text" parquet:"pos_text"`
	PosImagePath string `json:"pos_image_path" parquet:"pos_image_path"`
	NegText      string `json:"neg_text,omitempty" parquet:"neg_text"`
	NegImagePath string `json:"neg_image_path,omitempty" parquet:"neg_image_path"`
}

// WriteJSONL atomically writes rows as JSONL, one object per line. HTML
// escaping is off so "<|image_1|>" stays readable in the file (the decoded
// bytes are the same either way).
func WriteJSONL(path string, rows []Row) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("traindata: %s: %w", path, err)
		}
	}
	return atomicfile.WriteBytes(path, buf.Bytes(), 0o644)
}

// WriteParquet atomically writes rows as one parquet file with the six
// MMEB-train columns (all required strings, so "" stays "" rather than
// becoming null).
func WriteParquet(path string, rows []Row) error {
	return writeParquet(path, rows)
}

// EvalRow is one row of an MMEB-eval (V1) dataset: a query and its
// candidates, the first being the ground truth. TgtText and TgtImgPath
// have the same length.
type EvalRow struct {
	QryText    string   `parquet:"qry_text"`
	QryImgPath string   `parquet:"qry_img_path"`
	TgtText    []string `parquet:"tgt_text,list"`
	TgtImgPath []string `parquet:"tgt_img_path,list"`
}

// WriteEvalV1 atomically writes rows as an MMEB-eval V1 parquet file, the
// layout mmeb.LoadV1 and mmeb.Open read (put it at
// <dataDir>/<Dataset>/test-00000-of-00001.parquet).
func WriteEvalV1(path string, rows []EvalRow) error {
	for i, r := range rows {
		if len(r.TgtText) != len(r.TgtImgPath) {
			return fmt.Errorf("traindata: %s: row %d has %d texts and %d images", path, i, len(r.TgtText), len(r.TgtImgPath))
		}
	}
	return writeParquet(path, rows)
}

func writeParquet[T any](path string, rows []T) error {
	err := atomicfile.Write(path, 0o644, func(f *os.File) error {
		w := parquet.NewGenericWriter[T](f, parquet.Compression(&parquet.Snappy))
		if _, err := w.Write(rows); err != nil {
			return err
		}
		return w.Close()
	})
	if err != nil {
		return fmt.Errorf("traindata: %s: %w", path, err)
	}
	return nil
}
