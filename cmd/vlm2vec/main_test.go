package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"image"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/org/vlm2vec/encoder"
)

var (
	tiny     = filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "tiny-b")
	imageDir = filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "images")
)

func direct(t *testing.T, inputs []encoder.Input) [][]float32 {
	t.Helper()
	enc, err := encoder.Open(context.Background(), tiny)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	out := make([][]float32, len(inputs))
	for i, in := range inputs { // one at a time: the reference of any batching
		v, err := enc.Embed(context.Background(), []encoder.Input{in})
		if err != nil {
			t.Fatal(err)
		}
		out[i] = v[0]
	}
	return out
}

func near(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-5 {
			return false
		}
	}
	return true
}

// TestEmbedJSONLResumes: embed writes one line per input (a bad one gets an
// error line), resumes after a kill that tore the last line (no input
// twice, none lost) and writes the .npy matrix in input order.
func TestEmbedJSONLResumes(t *testing.T) {
	dir := t.TempDir()
	img, _ := filepath.Abs(filepath.Join(imageDir, "photo_120x90.png"))
	lines := []string{
		`{"id": "cat", "text": "a cat on a mat"}`,
		`{"id": "img", "instruction": "Represent the given image.", "image": "` + img + `"}`,
		`{"id": "bad", "image": "missing.png"}`,
		`{"id": "bus", "instruction": "Find an image that matches the caption.", "text": "a red bus"}`,
		`{"id": "dog", "text": "two dogs play in the snow"}`,
	}
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, npy := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "out.npy")
	args := []string{"embed", "--model", tiny, "--input", in, "--output", out, "--npy", npy, "--quiet", "--batch", "2"}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	first, err := resume(out)
	if err != nil || len(first) != 5 || first["bad"].Error == "" || first["cat"].Embedding == nil {
		t.Fatalf("output %v, %v", first, err)
	}
	want := direct(t, []encoder.Input{{Text: "a cat on a mat"}, {Instruction: "Represent the given image.", ImagePath: img}})
	if !near(first["cat"].Embedding, want[0]) || !near(first["img"].Embedding, want[1]) {
		t.Error("embeddings differ from Embed's")
	}
	// A killed run: two whole lines and a torn third.
	data, _ := os.ReadFile(out)
	cut := bytes.SplitAfterN(data, []byte("\n"), 3)
	if err := os.WriteFile(out, append(append(cut[0], cut[1]...), cut[2][:10]...), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "2 already in") {
		t.Errorf("resume message: %s", stderr.String())
	}
	data, _ = os.ReadFile(out)
	if n := bytes.Count(data, []byte("\n")); n != 5 {
		t.Errorf("%d lines after resuming, want 5", n)
	}
	again, err := resume(out)
	if err != nil || len(again) != 5 || !near(again["dog"].Embedding, first["dog"].Embedding) {
		t.Fatalf("resumed output %d rows, %v", len(again), err)
	}
	// .npy: header, 5 rows of the embedding width, the bad input zero.
	raw, err := os.ReadFile(npy)
	if err != nil {
		t.Fatal(err)
	}
	hl := int(binary.LittleEndian.Uint16(raw[8:10]))
	header := string(raw[10 : 10+hl])
	dim := len(first["cat"].Embedding)
	if !strings.HasPrefix(string(raw[:6]), "\x93NUMPY") || !strings.Contains(header, fmt.Sprintf("(5, %d)", dim)) || (10+hl)%64 != 0 {
		t.Fatalf("npy header %q", header)
	}
	row := func(r int) []float32 {
		v := make([]float32, dim)
		for k := range v {
			v[k] = math.Float32frombits(binary.LittleEndian.Uint32(raw[10+hl+4*(r*dim+k):]))
		}
		return v
	}
	if !near(row(0), first["cat"].Embedding) || row(2)[0] != 0 || !near(row(4), first["dog"].Embedding) {
		t.Error("npy rows are not the embeddings in input order")
	}
}

// TestServe: concurrent clients of /v1/embeddings (texts, lists, base64
// images) get Embed's vectors in the OpenAI response shape; bad requests
// get 4xx errors naming the problem.
func TestServe(t *testing.T) {
	enc, err := encoder.Open(context.Background(), tiny)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	lim := defaultLimits()
	lim.MaxInputs = 4
	s := newServer(enc, "tiny", lim, 8)
	defer s.close()
	ts := httptest.NewServer(s)
	defer ts.Close()

	png, err := os.ReadFile(filepath.Join(imageDir, "wide_300x40.png"))
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.StdEncoding.EncodeToString(png)
	texts := []string{"a cat", "a red bus", "two dogs", "a bridge at night", "an empty street"}
	want := direct(t, []encoder.Input{{Text: texts[0]}, {Text: texts[1]}, {Text: texts[2]}, {Text: texts[3]}, {Text: texts[4]},
		{Instruction: "Represent the given image.", Image: mustDecode(t, png)}})
	post := func(body string) (int, response, string) {
		r, err := http.Post(ts.URL+"/v1/embeddings", "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0, response{}, ""
		}
		defer r.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(r.Body)
		var out response
		_ = json.Unmarshal(buf.Bytes(), &out)
		return r.StatusCode, out, buf.String()
	}
	var wg sync.WaitGroup
	for c := 0; c < 12; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i, j := c%5, (c+1)%5
			code, out, raw := post(fmt.Sprintf(`{"model": "m", "input": [%q, %q, {"instruction": "Represent the given image.", "image": "data:image/png;base64,%s"}]}`, texts[i], texts[j], b64))
			if code != 200 || len(out.Data) != 3 || out.Object != "list" || out.Model != "m" || out.Usage.PromptTokens == 0 {
				t.Errorf("client %d: %d %s", c, code, raw)
				return
			}
			if !near(out.Data[0].Embedding, want[i]) || !near(out.Data[1].Embedding, want[j]) || !near(out.Data[2].Embedding, want[5]) || out.Data[2].Index != 2 {
				t.Errorf("client %d: vectors differ from Embed's", c)
			}
		}()
	}
	wg.Wait()
	if code, out, _ := post(`{"input": "a cat", "dimensions": 8}`); code != 200 || len(out.Data[0].Embedding) != 8 {
		t.Errorf("dimensions: %d %+v", code, out)
	}
	for body, want := range map[string]int{
		`{"input": ["a", "b", "c", "d", "e"]}`:        400, // over MaxInputs
		`{"input": 5}`:                                400,
		`not json`:                                    400,
		`{"input": [{"image": "not base64!"}]}`:       400,
		`{"input": [{"image": "/etc/passwd"}]}`:       400, // never a path
		`{"input": "x", "encoding_format": "base64"}`: 400,
		`{"input": [{"text": "a", "colour": "red"}]}`: 400,
	} {
		if code, _, raw := post(body); code != want {
			t.Errorf("%s: %d %s", body, code, raw)
		}
	}
	r, err := http.Get(ts.URL + "/v1/embeddings")
	if err != nil || r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v", r.StatusCode, err)
	}
}

func mustDecode(t *testing.T, png []byte) image.Image {
	t.Helper()
	img, err := decodeImage(base64.StdEncoding.EncodeToString(png))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestEvalAndTrainSubcommands: eval and train run the evaluator and the
// trainer (their own tests cover them in internal/evalcmd and traincmd).
func TestEvalAndTrainSubcommands(t *testing.T) {
	s := filepath.Join("..", "..", "mmeb", "testdata", "synthetic")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"eval", "--embedder", "trivial", "--data", filepath.Join(s, "MMEB-eval"), "--images", filepath.Join(s, "images"),
		"--datasets", "VOC2007", "--quiet"}, &stdout, &stderr); err != nil {
		t.Fatalf("eval: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "| VOC2007 | CLS | hit@1 | 75.00 |") {
		t.Errorf("eval output:\n%s", stdout.String())
	}
	dir := t.TempDir()
	if err := run(context.Background(), []string{"train", "--model_name", filepath.Join("..", "..", "encoder", "qwen2vl", "testdata", "tiny-a"),
		"--synthetic", filepath.Join(dir, "shapes"), "--output_dir", filepath.Join(dir, "run"), "--max_steps", "2",
		"--per_device_train_batch_size", "4", "--lora_r", "4", "--eval_steps", "0", "--save_steps", "2"}, &stdout, &stderr); err != nil {
		t.Fatalf("train: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "run", "adapter", "adapter_config.json")); err != nil {
		t.Error(err)
	}
	if err := run(context.Background(), []string{"nope"}, &stdout, &stderr); err == nil {
		t.Error("an unknown command succeeded")
	}
}
