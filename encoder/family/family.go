// Package family is the contract between the encoder core (package
// encoder) and a model family (encoder/qwen2vl, ...): how a family is
// recognised from a checkpoint directory, and what a loaded backbone does
// for the core — render prompts with its placeholder tokens, tokenize and
// preprocess an input into a row, pad rows into a batch, run the batch to
// pooled hidden states, and build the same computation inside a training
// graph with a LoRA/DoRA adapter.
//
// The core owns everything family-agnostic: inputs, options, decoding
// image files, sampling video frames, batching and ordering, the MMEB
// adapter. A family owns its config (mirroring config.json), its weights
// (by checkpoint names), its processor and its graph.
package family

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/org/vlm2vec/encoder/peft"
	"github.com/org/vlm2vec/encoder/tokenizer"
)

// Family recognises and loads one model family's checkpoints.
type Family interface {
	// Name is the family's name for WithFamily and errors ("qwen2_vl").
	Name() string
	// Detect reports whether the checkpoint p describes is this family's.
	Detect(p Probe) bool
	// Describe says what Detect looks for, for the error listing the
	// known families.
	Describe() string
	// Open loads the checkpoint in dir.
	Open(ctx context.Context, dir string, o Options) (Model, error)
}

// Probe is what families see of a checkpoint directory to claim it.
type Probe struct {
	Dir string
	// ModelType is config.json's model_type; TextModelType and
	// VisionModelType those of its text_config / vision_config, if any.
	ModelType, TextModelType, VisionModelType string
	Architectures                             []string
}

// Has reports whether the checkpoint directory holds a file.
func (p Probe) Has(name string) bool {
	_, err := os.Stat(filepath.Join(p.Dir, name))
	return err == nil
}

// ReadProbe reads dir/config.json far enough to identify the family.
func ReadProbe(dir string) (Probe, error) {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return Probe{}, fmt.Errorf("encoder: %s is not a checkpoint directory: %w", dir, err)
	}
	var raw struct {
		ModelType     string   `json:"model_type"`
		Architectures []string `json:"architectures"`
		TextConfig    *struct {
			ModelType string `json:"model_type"`
		} `json:"text_config"`
		VisionConfig *struct {
			ModelType string `json:"model_type"`
		} `json:"vision_config"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return Probe{}, fmt.Errorf("encoder: %s/config.json: %w", dir, err)
	}
	p := Probe{Dir: dir, ModelType: raw.ModelType, Architectures: raw.Architectures}
	if raw.TextConfig != nil {
		p.TextModelType = raw.TextConfig.ModelType
	}
	if raw.VisionConfig != nil {
		p.VisionModelType = raw.VisionConfig.ModelType
	}
	return p, nil
}

// Options are the load settings the core passes to a family.
type Options struct {
	Backend compute.Backend
	// DType of weights and activations: Float32 or BFloat16.
	DType dtypes.DType
	// Adapter, if set, is merged into the base weights at load.
	Adapter                  *peft.Adapter
	AllowUnknownConfigFields bool
	MaxCompiledShapes        int
	// Tokenizer replaces the checkpoint's tokenizer.json (nil: load it).
	Tokenizer tokenizer.Tokenizer
	// MinPixels/MaxPixels (both > 0) override the processor's budget;
	// PreResize > 0 resizes images to a square first.
	MinPixels, MaxPixels, PreResize int
	// NumCrops > 0 overrides an HD-transform processor's crop budget
	// (Phi-3-V's num_crops).
	NumCrops int
	// MaxTokens > 0 is the token limit of one input (default: the model's
	// max_position_embeddings); Length says what happens past it.
	MaxTokens int
	Length    LengthPolicy
	Positions PositionScheme
}

// PositionScheme selects how decoder positions are assigned in families
// with multi-axis rotary positions (M-RoPE).
type PositionScheme int

const (
	// Positions1D gives every non-pad token the next position, visual tokens
	// included, with all rotary axes equal: what VLM2Vec's released Qwen2-VL
	// checkpoints use (their prompts carry no <|vision_start|>).
	Positions1D PositionScheme = iota
	// PositionsMRoPE is the family's standard multi-axis scheme
	// (transformers' get_rope_index).
	PositionsMRoPE
)

// Format selects how an instruction and a text become a prompt.
type Format int

const (
	// FormatDefault is the family's own default (FormatV1 for VLM2Vec
	// backbones, FormatGME for GME).
	FormatDefault Format = iota
	// FormatV1 is the byte format of VLM2Vec's stored rows and of its image
	// tasks in every version: "<image token>\n<instruction> <text>\n". V1
	// has no video format: inputs with a video are written as FormatV2,
	// which is what the reference uses for every video task.
	FormatV1
	// FormatV2 is VLM2Vec V2's process_input_text:
	// "<image token> <instruction> <text>", no trailing newline.
	FormatV2
	// FormatGME is GME's own template: the instruction as the system
	// prompt ("You are a helpful assistant." when there is none), the
	// wrapped visual and the text as the user turn, ending in
	// "<|im_start|>assistant\n<|endoftext|>".
	FormatGME
	// FormatGMEEval is how VLM2Vec's MMEB evaluation prompts GME: the
	// default system prompt always, "<instruction> <text>" as the user text.
	FormatGMEEval
	// FormatQwen3VLEmbedding is Qwen3-VL-Embedding's chat template: the
	// instruction (stripped, "." appended unless it ends in punctuation;
	// "Represent the user's input." when empty) as the system turn, the
	// user turn's videos, then images, then text, and the generation
	// prompt, whose final "\n" is pooled.
	FormatQwen3VLEmbedding
)

func (f Format) String() string {
	switch f {
	case FormatDefault:
		return "default"
	case FormatV1:
		return "v1"
	case FormatV2:
		return "v2"
	case FormatGME:
		return "gme"
	case FormatGMEEval:
		return "gme-eval"
	case FormatQwen3VLEmbedding:
		return "qwen3vl-embedding"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Request is an input's text side for prompt rendering: how many images
// and videos it carries, not the pixels.
type Request struct {
	Instruction, Text string
	// Prompt, when set, is a complete prompt in the data's format (MMEB
	// rows: <|image_1|> and <|video_pad|> placeholders), rendered for the
	// family instead of Instruction and Text.
	Prompt         string
	Images, Videos int
	Format         Format
}

// Visual is one decoded image or video of an input.
type Visual struct {
	Image image.Image
	// Frames is a video's frames, in order, already sampled.
	Frames []image.Image
}

// IsVideo reports whether v is a video.
func (v Visual) IsVideo() bool { return v.Frames != nil }

// Row is one input tokenized and preprocessed, opaque to the core.
type Row interface {
	// Len is the row's token count (visual tokens included).
	Len() int
}

// VisualRow is a Row whose images or video frames run in the vision
// tower's attention blocks (the Qwen families): VisualLen is its longest
// block in patches, 0 for a row without visuals. A batch's blocks all pad
// to its longest, so the encoder batches rows of like VisualLen together.
type VisualRow interface {
	Row
	VisualLen() int
}

// Batch is the model inputs of one forward pass.
type Batch interface {
	// Inputs are the tensors EmbedGraph's input nodes take, in order.
	Inputs() []any
	// Shape names the compiled program the batch runs.
	Shape() string
}

// Output holds the pooled final-norm hidden states and their L2-normalised
// embeddings, both [B][hidden].
type Output struct {
	Hidden     [][]float32
	Embeddings [][]float32
}

// Model is a loaded backbone of some family.
type Model interface {
	// Family is the family's name, with the preset if any ("gme").
	Family() string
	// Dim is the embedding width.
	Dim() int
	Tokenizer() tokenizer.Tokenizer
	// Render writes the prompt for r, one placeholder token per visual.
	Render(r Request) (string, error)
	// Prepare tokenizes a rendered prompt and preprocesses its visuals, in
	// order of appearance per kind.
	Prepare(prompt string, visuals []Visual) (Row, error)
	// Assemble pads rows (right padding) into a batch of size rows; the
	// rows after len(rows) are fillers.
	Assemble(rows []Row, size int) (Batch, error)
	// Forward runs a batch. It returns an error, never panics.
	Forward(b Batch) (*Output, error)
	// MaxTokens is the token limit Prepare applies to one input.
	MaxTokens() int
	// ActivationBytes estimates the activation memory of a forward pass
	// over rows x seq tokens (see DecoderActivationBytes).
	ActivationBytes(rows, seq int) int64

	Trainable
	Close() error
}

// Trainable is the training side of a Model (gradcache.Model and more).
type Trainable interface {
	Backend() compute.Backend
	Store() *model.Store
	// EmbedGraph builds the embedding of one batch's input nodes inside a
	// caller's graph; dropoutSeeds [B] (uint32) switch adapter dropout on.
	EmbedGraph(scope *model.Scope, inputs []*graph.Node, dropoutSeeds *graph.Node) *graph.Node
	TrainableVariables() []*model.Variable
	AttachLoRA(cfg peft.Config, from *peft.Adapter, seed uint64) error
	Adapter() (*peft.Adapter, error)
	SetFullFineTuning()
	// ShardAxes says how Inputs split over devices for data parallelism.
	ShardAxes(inputs []any) []int
	// Refresh drops compiled inference programs after weights change.
	Refresh() error
}

// ErrEmptyInput reports an input with no instruction, text, prompt or visual.
var ErrEmptyInput = errors.New("encoder: empty input")
