// Package backends creates the GoMLX compute backend the library runs on,
// from a GOMLX_BACKEND-style configuration string:
//
//   - "go": GoMLX's pure-Go backend, the default; nothing to install.
//   - "xla:cpu": XLA through a PJRT CPU plugin named pjrt_c_api_cpu_plugin.so,
//     searched in $PJRT_PLUGIN_LIBRARY_PATH (scripts/install_xla_cpu.sh puts
//     one in .cache/xla).
//   - "xla:cuda": XLA on NVIDIA GPUs (jax's CUDA PJRT plugin, see docs/backends.md).
//   - "xla:/abs/path/pjrt_c_api_NAME_plugin.so": a plugin given by path.
//
// XLA options follow the plugin after commas ("xla:cuda,preallocate=false").
// The XLA backend is compiled in when cgo is available and the build does not
// use the noxla tag; plugins are never downloaded (go-xla's auto-installer is
// not linked in).
package backends

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend" // the embedded default backend
)

// Env is the environment variable read when no configuration is given.
const Env = "GOMLX_BACKEND"

// Default is the backend used when neither an option nor $GOMLX_BACKEND says.
const Default = "go"

// InstallHint tells how to get a CPU plugin; it ends XLA errors.
const InstallHint = "install a CPU plugin with scripts/install_xla_cpu.sh and use the GOMLX_BACKEND value it prints " +
	"(or GOMLX_BACKEND=xla:cpu with PJRT_PLUGIN_LIBRARY_PATH=<repo>/.cache/xla); see docs/backends.md"

// Resolve returns the configuration New uses: config, else $GOMLX_BACKEND,
// else Default.
func Resolve(config string) string {
	if config == "" {
		config = os.Getenv(Env)
	}
	if config == "" {
		config = Default
	}
	return config
}

// IsXLA reports whether a configuration selects the XLA backend (under any
// of its registered names).
func IsXLA(config string) bool {
	name, _, _ := strings.Cut(Resolve(config), ":")
	switch name {
	case "xla", "stablehlo", "shlo", "hlo":
		return true
	}
	return false
}

// XLACompiled reports whether this binary includes the XLA backend.
func XLACompiled() bool { return xlaCompiled }

// New creates the backend for config (resolved as in Resolve). An XLA
// backend is described once per process on slog's default logger, with the
// PJRT C API version its plugin reports (go-xla does not check it).
func New(config string) (compute.Backend, error) {
	config = Resolve(config)
	if IsXLA(config) && !xlaCompiled {
		return nil, fmt.Errorf("backend %q: this binary was built without the XLA backend "+
			"(it needs cgo and a C compiler, and no -tags noxla); use %q or rebuild with CGO_ENABLED=1", config, Default)
	}
	if IsXLA(config) {
		if err := checkXLAPlugin(config); err != nil {
			return nil, fmt.Errorf("backend %q: %w\n(%s)", config, err, InstallHint)
		}
	}
	b, err := compute.NewWithConfig(config)
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w", config, err)
	}
	if IsXLA(config) {
		logOnce(b)
	} else if !simdBuild {
		warnNoSIMD.Do(func() {
			slog.Warn("vlm2vec: built without GOEXPERIMENT=simd: the Go backend's matrix products run about 20x slower; rebuild with GOEXPERIMENT=simd (Go >= 1.26) or use an XLA backend")
		})
	}
	tuneGo(b, config)
	return b, nil
}

var warnNoSIMD sync.Once

var logged sync.Map

func logOnce(b compute.Backend) {
	desc := b.Description()
	if _, seen := logged.LoadOrStore(desc, true); !seen {
		slog.Info("vlm2vec: XLA backend", "backend", desc, "go-xla PJRT C API", xlaAPIVersion)
	}
}
