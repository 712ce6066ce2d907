package encoder

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/org/vlm2vec/encoder/backends"
)

// newBackend creates the backend for WithBackendConfig's string (empty:
// $GOMLX_BACKEND, else the pure-Go backend); see package backends.
func newBackend(config string) (compute.Backend, error) {
	b, err := backends.New(config)
	if err != nil {
		return nil, fmt.Errorf("encoder: %w", err)
	}
	return b, nil
}
