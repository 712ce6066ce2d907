//go:build !(cgo && !noxla && ((linux && (amd64 || arm64)) || (darwin && arm64)))

package backends

const xlaCompiled = false

const xlaAPIVersion = "none"

func checkXLAPlugin(string) error { return nil }
