package leveldbstore

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/syndtr/goleveldb/leveldb/storage"
)

// The names of goleveldb's files, as its file storage makes them.
const (
	lockName    = "LOCK"
	logName     = "LOG"
	oldLogName  = "LOG.old"
	currentName = "CURRENT"
)

// fileName is the name of fd's file.
func fileName(fd storage.FileDesc) string {
	switch fd.Type {
	case storage.TypeManifest:
		return fmt.Sprintf("MANIFEST-%06d", fd.Num)
	case storage.TypeJournal:
		return fmt.Sprintf("%06d.log", fd.Num)
	case storage.TypeTable:
		return fmt.Sprintf("%06d.ldb", fd.Num)
	case storage.TypeTemp:
		return fmt.Sprintf("%06d.tmp", fd.Num)
	}
	panic(fmt.Sprintf("leveldbstore: invalid file type %v", fd.Type))
}

// oldTableName is the name LevelDB gave tables before ".ldb": tables of
// old directories are read, renamed and removed under it.
func oldTableName(fd storage.FileDesc) string { return fmt.Sprintf("%06d.sst", fd.Num) }

// parseName is the FileDesc of a file name, as goleveldb's storage reads
// them: "nnnnnn.log", ".ldb", ".sst", ".tmp" and "MANIFEST-nnnnnn".
func parseName(name string) (storage.FileDesc, bool) {
	if num, ok := strings.CutPrefix(name, "MANIFEST-"); ok {
		n, err := strconv.ParseInt(num, 10, 64)
		return storage.FileDesc{Type: storage.TypeManifest, Num: n}, err == nil && n >= 0
	}
	num, ext, ok := strings.Cut(name, ".")
	if !ok {
		return storage.FileDesc{}, false
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return storage.FileDesc{}, false
	}
	fd := storage.FileDesc{Num: n}
	switch ext {
	case "log":
		fd.Type = storage.TypeJournal
	case "ldb", "sst":
		fd.Type = storage.TypeTable
	case "tmp":
		fd.Type = storage.TypeTemp
	default:
		return storage.FileDesc{}, false
	}
	return fd, true
}
