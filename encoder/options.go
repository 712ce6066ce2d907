package encoder

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/org/vlm2vec/encoder/family"
	"github.com/org/vlm2vec/encoder/images"
	"github.com/org/vlm2vec/encoder/tokenizer"
)

// PromptFormat selects how Instruction and Text become the model's prompt
// (see family.Format).
type PromptFormat = family.Format

// The prompt formats; the default is the family's own (V1 for Qwen2-VL,
// GME's template for GME).
const (
	FormatV1      = family.FormatV1
	FormatV2      = family.FormatV2
	FormatGME     = family.FormatGME
	FormatGMEEval = family.FormatGMEEval
	// FormatQwen3VLEmbedding is Qwen3-VL-Embedding's template (the qwen3_vl
	// family's default).
	FormatQwen3VLEmbedding = family.FormatQwen3VLEmbedding
)

// Option configures Open. Options validate their arguments and report
// problems through Open's error.
type Option func(*settings) error

type settings struct {
	backend       compute.Backend
	backendConfig string
	dtype         dtypes.DType
	adapterDir    string
	positions     family.PositionScheme
	format        PromptFormat
	family        string
	videoFrames   int
	framesSet     bool // WithVideoFrames given: no family default
	dims          int  // WithDimensions: Matryoshka truncation, 0 = full
	batchSize     int
	imageLimits   images.Limits
	minPixels     int
	maxPixels     int
	preResize     int
	numCrops      int
	maxTokens     int
	length        family.LengthPolicy
	memoryBudget  int64
	allowUnknown  bool
	tok           tokenizer.Tokenizer
	maxShapes     int
}

func defaults() settings {
	return settings{dtype: dtypes.Float32, batchSize: 8, positions: family.Positions1D, maxShapes: 32, videoFrames: DefaultVideoFrames,
		memoryBudget: DefaultMemoryBudget}
}

// WithBackend runs the model on an already created GoMLX backend.
func WithBackend(b compute.Backend) Option {
	return func(s *settings) error {
		if b == nil {
			return fmt.Errorf("encoder: nil backend")
		}
		s.backend = b
		return nil
	}
}

// WithBackendConfig creates the backend from a GOMLX_BACKEND-style string:
// "go" (the pure-Go default), "xla:cpu", "xla:cuda" or "xla:/path/plugin.so".
func WithBackendConfig(config string) Option {
	return func(s *settings) error {
		s.backendConfig = config
		return nil
	}
}

// WithDType selects Float32 (default) or BFloat16 weights and activations.
func WithDType(dt dtypes.DType) Option {
	return func(s *settings) error {
		if dt != dtypes.Float32 && dt != dtypes.BFloat16 {
			return fmt.Errorf("encoder: dtype %s unsupported (Float32 or BFloat16)", dt)
		}
		s.dtype = dt
		return nil
	}
}

// WithAdapter merges the PEFT adapter (LoRA or DoRA) in dir into the base
// weights, as VLM2Vec's released Qwen2-VL checkpoints require.
func WithAdapter(dir string) Option {
	return func(s *settings) error {
		s.adapterDir = dir
		return nil
	}
}

// WithPositionScheme selects decoder positions. The default, Positions1D,
// is what VLM2Vec's checkpoints use; PositionsMRoPE is standard Qwen2-VL and
// needs prompts with <|vision_start|>.
func WithPositionScheme(p family.PositionScheme) Option {
	return func(s *settings) error {
		if p != family.Positions1D && p != family.PositionsMRoPE {
			return fmt.Errorf("encoder: unknown position scheme %d", p)
		}
		s.positions = p
		return nil
	}
}

// WithPromptFormat selects how Input.Instruction and Input.Text are joined.
func WithPromptFormat(f PromptFormat) Option {
	return func(s *settings) error {
		if f < family.FormatDefault || f > family.FormatQwen3VLEmbedding {
			return fmt.Errorf("encoder: unknown prompt format %d", f)
		}
		s.format = f
		return nil
	}
}

// WithBatchSize sets how many inputs go through the model at once (8).
// Batches are padded to this size so the number of compiled shapes stays
// bounded.
func WithBatchSize(n int) Option {
	return func(s *settings) error {
		if n <= 0 {
			return fmt.Errorf("encoder: batch size %d", n)
		}
		s.batchSize = n
		return nil
	}
}

// WithImageLimits bounds decoded images (pixels and file size).
func WithImageLimits(l images.Limits) Option {
	return func(s *settings) error {
		s.imageLimits = l
		return nil
	}
}

// WithPixels overrides the processor's min_pixels and max_pixels. VLM2Vec
// V1 used 256·28² and 1280·28² (after a 1344x1344 pre-resize, see
// WithPreResize); V2 uses 4·28² and 1280·28².
func WithPixels(minPixels, maxPixels int) Option {
	return func(s *settings) error {
		if minPixels <= 0 || maxPixels < minPixels {
			return fmt.Errorf("encoder: pixels [%d, %d] invalid", minPixels, maxPixels)
		}
		s.minPixels, s.maxPixels = minPixels, maxPixels
		return nil
	}
}

// WithPreResize resizes every image to size x size (bicubic, aspect ratio
// not kept) before the processor, as VLM2Vec V1's --image_resolution high
// (1344) does.
func WithPreResize(size int) Option {
	return func(s *settings) error {
		if size < 0 {
			return fmt.Errorf("encoder: pre-resize %d", size)
		}
		s.preResize = size
		return nil
	}
}

// WithNumCrops sets the HD transform's crop budget of Phi-3-V checkpoints
// (num_crops; preprocessor_config.json's value otherwise). VLM2Vec's paper
// models use 4, its VLM2Vec-Full demo and vLLM example 16.
func WithNumCrops(n int) Option {
	return func(s *settings) error {
		if n < 1 || n > 256 {
			return fmt.Errorf("encoder: num_crops %d outside 1..256", n)
		}
		s.numCrops = n
		return nil
	}
}

// Length policies for WithLengthPolicy.
const (
	// TruncateText (the default) cuts a text-only input over the token
	// limit to its first tokens, as the reference's truncation does; an
	// input with images or videos over the limit fails with ErrTooLong.
	TruncateText = family.TruncateText
	// FailLong fails every input over the limit with ErrTooLong.
	FailLong = family.FailLong
)

// ErrTooLong reports an input over the token limit (WithMaxTokens).
var ErrTooLong = family.ErrTooLong

// ErrOverBudget reports an input whose forward pass alone would need more
// activation memory than the budget (WithMemoryBudget).
var ErrOverBudget = family.ErrOverBudget

// DefaultMemoryBudget bounds the estimated activation memory of one
// forward pass (8 GiB).
const DefaultMemoryBudget = 8 << 30

// WithMaxTokens sets the token limit of one input, visual tokens included
// (default: the model's max_position_embeddings); WithLengthPolicy says
// what happens past it.
func WithMaxTokens(n int) Option {
	return func(s *settings) error {
		if n <= 0 {
			return fmt.Errorf("encoder: max tokens %d", n)
		}
		s.maxTokens = n
		return nil
	}
}

// WithLengthPolicy chooses between TruncateText (default) and FailLong.
func WithLengthPolicy(p family.LengthPolicy) Option {
	return func(s *settings) error {
		if p != TruncateText && p != FailLong {
			return fmt.Errorf("encoder: unknown length policy %d", p)
		}
		s.length = p
		return nil
	}
}

// WithMemoryBudget bounds the estimated activation memory of one forward
// pass (bytes; DefaultMemoryBudget). A batch over it is split into smaller
// ones; a single input over it fails with ErrOverBudget instead of taking
// the process down.
func WithMemoryBudget(bytes int64) Option {
	return func(s *settings) error {
		if bytes <= 0 {
			return fmt.Errorf("encoder: memory budget %d", bytes)
		}
		s.memoryBudget = bytes
		return nil
	}
}

// WithAllowUnknownConfigFields accepts config.json fields the backbone code
// does not know (by default they are an error).
func WithAllowUnknownConfigFields() Option {
	return func(s *settings) error {
		s.allowUnknown = true
		return nil
	}
}

// WithTokenizer uses t instead of loading tokenizer.json with the pure-Go
// implementation (for example the native one, tokenizer.NewNative).
func WithTokenizer(t tokenizer.Tokenizer) Option {
	return func(s *settings) error {
		if t == nil {
			return fmt.Errorf("encoder: nil tokenizer")
		}
		s.tok = t
		return nil
	}
}

// DefaultVideoFrames is how many frames of a video the encoder feeds, as
// VLM2Vec-V2 does, for families without a default of their own (qwen3_vl
// feeds up to 64, as Qwen3-VL-Embedding does).
const DefaultVideoFrames = 8

// WithVideoFrames sets how many frames of a video are fed (8, or the
// family's own default): sampled
// evenly as VLM2Vec does, all of them when a video has fewer; 0 feeds
// every frame.
func WithVideoFrames(n int) Option {
	return func(s *settings) error {
		if n < 0 {
			return fmt.Errorf("encoder: video frames %d", n)
		}
		s.videoFrames, s.framesSet = n, true
		return nil
	}
}

// WithFamily loads the checkpoint as the named model family instead of
// detecting it from config.json: "qwen2_vl", or "gme" for a gme-Qwen2-VL
// checkpoint without its gme_inference.py.
func WithFamily(name string) Option {
	return func(s *settings) error {
		s.family = name
		return nil
	}
}

// WithDimensions returns embeddings of only their first n components,
// L2-normalised again (Matryoshka truncation, what Qwen3-VL-Embedding's
// MRL training makes meaningful; any family). n must not exceed the
// model's width; 0 keeps the full embedding.
func WithDimensions(n int) Option {
	return func(s *settings) error {
		if n < 0 {
			return fmt.Errorf("encoder: dimensions %d", n)
		}
		s.dims = n
		return nil
	}
}
