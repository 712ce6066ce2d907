package family

import (
	"fmt"
	"strings"
)

// Problems collects what is wrong with a config file, so that one error
// names every problem at once.
type Problems []string

// Check records the message when ok is false.
func (p *Problems) Check(ok bool, format string, args ...any) {
	if !ok {
		*p = append(*p, fmt.Sprintf(format, args...))
	}
}

// Err is nil without problems, else "prefix: invalid file: a; b; ...".
func (p Problems) Err(prefix, file string) error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%s: invalid %s: %s", prefix, file, strings.Join(p, "; "))
}
