//go:build cgo && !noxla && ((linux && (amd64 || arm64)) || (darwin && arm64))

package backends

import (
	"github.com/gomlx/go-xla/compute/xla" // registers "xla"; its auto-installer is deliberately not imported
)

const xlaCompiled = true

// xlaAPIVersion is the PJRT C API version go-xla v0.4.13 is written against.
const xlaAPIVersion = "0.104"

func init() {
	// Never download plugins, whatever else the program links in.
	xla.EnableAutoInstall(false)
}
