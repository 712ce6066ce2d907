//go:build cgo && !noxla && ((linux && (amd64 || arm64)) || (darwin && arm64))

package backends

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/go-xla/compute/xla" // registers "xla"; its auto-installer is deliberately not imported
	"github.com/gomlx/go-xla/pjrt"
)

const xlaCompiled = true

// xlaAPIVersion is the PJRT C API version go-xla v0.4.13 is written against.
const xlaAPIVersion = "0.104"

func init() {
	// Never download plugins, whatever else the program links in.
	xla.EnableAutoInstall(false)
}

// checkXLAPlugin returns an error naming what is missing when config's
// plugin cannot be found, before go-xla gives its own (which suggests
// importing its auto-installer).
func checkXLAPlugin(config string) error {
	_, rest, _ := strings.Cut(config, ":")
	plugin, _, _ := strings.Cut(rest, ",")
	if filepath.IsAbs(plugin) {
		if _, err := os.Stat(plugin); err != nil {
			return fmt.Errorf("PJRT plugin file: %w", err)
		}
		return nil
	}
	available := xla.GetAvailablePlugins()
	if plugin == "" && len(available) > 0 {
		return nil
	}
	if plugin != "" && slices.ContainsFunc(available, func(p string) bool { return p == plugin || strings.HasPrefix(p, plugin+"_v") }) {
		return nil
	}
	where := "$" + pjrt.PJRTPluginPathsEnv + "=" + os.Getenv(pjrt.PJRTPluginPathsEnv)
	if _, set := os.LookupEnv(pjrt.PJRTPluginPathsEnv); !set {
		where = "the default directories ($" + pjrt.PJRTPluginPathsEnv + " is not set)"
	}
	name := plugin
	if name == "" {
		name = "<name>"
	}
	return fmt.Errorf("no PJRT plugin %q (a file pjrt_c_api_%s_plugin.so) in %s; found %q", plugin, name, where, available)
}
