package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/org/vlm2vec/encoder"
	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/vectors"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var mf modelFlags
	mf.register(fs)
	addr := fs.String("addr", "localhost:8080", "listen address")
	name := fs.String("name", "vlm2vec", "model name reported in responses")
	limits := defaultLimits()
	fs.IntVar(&limits.MaxInputs, "max-inputs", limits.MaxInputs, "inputs per request")
	fs.Int64Var(&limits.MaxBody, "max-body", limits.MaxBody, "request body bytes")
	fs.DurationVar(&limits.Wait, "batch-wait", limits.Wait, "how long a request waits for others to share its batch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	enc, err := mf.open(ctx)
	if err != nil {
		return err
	}
	defer enc.Close()
	s := newServer(enc, *name, limits, 4*max(mf.batch, 1))
	defer s.close()
	hs := &http.Server{Addr: *addr, Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sd, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = hs.Shutdown(sd)
	}()
	fmt.Fprintf(stderr, "serving %s on http://%s/v1/embeddings\n", mf.model, *addr)
	if err := hs.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Limits bound what one request may ask.
type Limits struct {
	MaxInputs int
	MaxBody   int64
	// Wait is how long the first request of a batch waits for others.
	Wait time.Duration
}

func defaultLimits() Limits {
	return Limits{MaxInputs: 256, MaxBody: 32 << 20, Wait: 5 * time.Millisecond}
}

// server answers /v1/embeddings; concurrent requests are batched together
// by one goroutine that owns the encoder calls.
type server struct {
	enc    *encoder.Encoder
	name   string
	limits Limits
	group  int // inputs per EmbedEach call
	jobs   chan *job
	stop   chan struct{}
}

type job struct {
	ctx     context.Context
	inputs  []encoder.Input
	results []encoder.Result
	err     error
	done    chan struct{}
}

func newServer(enc *encoder.Encoder, name string, l Limits, group int) *server {
	s := &server{enc: enc, name: name, limits: l, group: group, jobs: make(chan *job, 64), stop: make(chan struct{})}
	go s.batcher()
	return s
}

func (s *server) close() { close(s.stop) }

// batcher gathers jobs until a group is full or the first has waited
// limits.Wait, runs them in one EmbedEach call and hands the results back.
func (s *server) batcher() {
	for {
		var batch []*job
		select {
		case j := <-s.jobs:
			batch = append(batch, j)
		case <-s.stop:
			return
		}
		n := len(batch[0].inputs)
		timer := time.NewTimer(s.limits.Wait)
	gather:
		for n < s.group {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
				n += len(j.inputs)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		var all []encoder.Input
		var live []*job
		for _, j := range batch {
			if j.ctx.Err() != nil { // the client left
				j.err = j.ctx.Err()
				close(j.done)
				continue
			}
			all = append(all, j.inputs...)
			live = append(live, j)
		}
		res, err := s.enc.EmbedEach(context.Background(), all)
		off := 0
		for _, j := range live {
			if err != nil {
				j.err = err
			} else {
				j.results = res[off : off+len(j.inputs)]
			}
			off += len(j.inputs)
			close(j.done)
		}
	}
}

// request is the OpenAI embeddings request, with multimodal inputs.
type request struct {
	Input          json.RawMessage `json:"input"`
	Model          string          `json:"model"`
	EncodingFormat string          `json:"encoding_format"`
	Dimensions     int             `json:"dimensions"`
	User           string          `json:"user"`
}

// item is one multimodal input: text and/or an image (base64, or a data:
// URL), with an optional instruction or a complete prompt.
type item struct {
	Text        string `json:"text"`
	Image       string `json:"image"`
	Instruction string `json:"instruction"`
	Prompt      string `json:"prompt"`
}

type embedding struct {
	Object    string    `json:"object"`
	Index     int       `json:"index"`
	Embedding []float32 `json:"embedding"`
}

type response struct {
	Object string      `json:"object"`
	Data   []embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/embeddings" {
		httpError(w, http.StatusNotFound, "not found: the endpoint is POST /v1/embeddings")
		return
	}
	if r.Method != http.MethodPost {
		httpError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.limits.MaxBody))
	if err != nil {
		httpError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", s.limits.MaxBody))
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		httpError(w, http.StatusBadRequest, "request is not JSON: "+err.Error())
		return
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" {
		httpError(w, http.StatusBadRequest, `encoding_format must be "float"`)
		return
	}
	inputs, err := s.parseInputs(req.Input)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	j := &job{ctx: r.Context(), inputs: inputs, done: make(chan struct{})}
	select {
	case s.jobs <- j:
	default:
		httpError(w, http.StatusServiceUnavailable, "server busy: too many requests queued")
		return
	}
	<-j.done
	if j.err != nil {
		httpError(w, http.StatusInternalServerError, j.err.Error())
		return
	}
	out := response{Object: "list", Model: s.name}
	if req.Model != "" {
		out.Model = req.Model
	}
	for i, res := range j.results {
		if res.Err != nil {
			httpError(w, http.StatusBadRequest, fmt.Sprintf("input %d: %v", i, res.Err))
			return
		}
		v := res.Embedding
		if req.Dimensions > 0 {
			if v, err = vectors.Truncate(v, req.Dimensions); err != nil {
				httpError(w, http.StatusBadRequest, err.Error())
				return
			}
		}
		out.Data = append(out.Data, embedding{Object: "embedding", Index: i, Embedding: v})
		out.Usage.PromptTokens += s.tokens(inputs[i])
	}
	out.Usage.TotalTokens = out.Usage.PromptTokens
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// tokens counts an input's text tokens (visual tokens not included), for
// the usage field.
func (s *server) tokens(in encoder.Input) int {
	p, err := s.enc.Prompt(in)
	if err != nil {
		return 0
	}
	ids, err := s.enc.Tokenizer().Encode(p, true)
	if err != nil {
		return 0
	}
	return len(ids)
}

func (s *server) parseInputs(raw json.RawMessage) ([]encoder.Input, error) {
	if len(raw) == 0 {
		return nil, errors.New(`"input" is required`)
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []encoder.Input{{Text: one}}, nil
	}
	var many []json.RawMessage
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New(`"input" must be a string, a list of strings or a list of {"text", "image", "instruction", "prompt"} objects`)
	}
	if len(many) == 0 || len(many) > s.limits.MaxInputs {
		return nil, fmt.Errorf(`"input" has %d entries; 1 to %d are allowed`, len(many), s.limits.MaxInputs)
	}
	out := make([]encoder.Input, len(many))
	for i, m := range many {
		if json.Unmarshal(m, &one) == nil {
			out[i] = encoder.Input{Text: one}
			continue
		}
		var it item
		dec := json.NewDecoder(bytes.NewReader(m))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&it); err != nil {
			return nil, fmt.Errorf("input %d: %v", i, err)
		}
		in := encoder.Input{Instruction: it.Instruction, Text: it.Text, Prompt: it.Prompt}
		if it.Image != "" {
			img, err := decodeImage(it.Image)
			if err != nil {
				return nil, fmt.Errorf("input %d: %v", i, err)
			}
			in.Image = img
		}
		out[i] = in
	}
	return out, nil
}

// decodeImage reads a base64 image or a data: URL of one (never a path or
// a URL to fetch: a server must not read files or the network for a
// client), within the images package's size limits.
func decodeImage(s string) (image.Image, error) {
	if strings.HasPrefix(s, "data:") {
		comma := strings.IndexByte(s, ',')
		if comma < 0 || !strings.Contains(s[:comma], ";base64") {
			return nil, errors.New("image data: URL must be base64")
		}
		s = s[comma+1:]
	}
	data, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("image is not base64: %v", err)
	}
	return images.DecodeKeepAlpha(bytes.NewReader(data), images.Limits{})
}

func httpError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": http.StatusText(code)}})
	if code >= 500 {
		slog.Warn("vlm2vec serve", "status", code, "error", msg)
	}
}
