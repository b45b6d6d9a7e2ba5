package operator

import (
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/atrest/atrest/dict"
)

// describeType names a file type for an operator.
func describeType(mode fs.FileMode) string {
	switch {
	case mode.IsDir():
		return "a directory"
	case mode&fs.ModeSymlink != 0:
		return "a symbolic link"
	}
	return fmt.Sprintf("of type %v", mode.Type())
}

// abs is the path of rel, a name of m's file dictionary, on m's file
// system.
func abs(m *dict.Manager, rel string) string {
	return filepath.Join(m.Dir(), filepath.FromSlash(rel))
}
