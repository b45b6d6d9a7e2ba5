package operator

import (
	"errors"

	"github.com/atrest/atrest/dict/exportdoc"
)

// Export and import with a transfer key, after InnoDB's FLUSH TABLES ...
// FOR EXPORT and its .cfp file: the files themselves are copied by the
// operator as they are on disk (ciphertext), and the export document
// carries what the other directory needs to read them: each file's entry
// and the data keys, sealed under a transfer key that exists only in the
// caller's hands. Package exportdoc is the document's codec;
// docs/FORMAT.md ("Export document") has the layout.

// TransferKeySize is the length in bytes of a transfer key: an AES-256 key.
const TransferKeySize = exportdoc.KeySize

// maxExportBytes bounds what Import reads, so a wrong file (a database,
// say) given as the document fails fast instead of filling memory. A
// million files with 200-byte paths fit. A variable for tests only.
var maxExportBytes = 256 << 20

// Errors of Export and Import, which callers can test with errors.Is.
var (
	// ErrTransferKey: the transfer key is not the one the document was
	// sealed under (its key check differs), or is not TransferKeySize
	// bytes long.
	ErrTransferKey = exportdoc.ErrTransferKey
	// ErrCorruptExport: the document is not an export document, is
	// truncated, or was altered (it fails authentication under the right
	// transfer key).
	ErrCorruptExport = exportdoc.ErrCorrupt
	// ErrExportVersion: the document was written in a format version this
	// build does not read.
	ErrExportVersion = exportdoc.ErrVersion
	// ErrImportConflict: a destination file is missing, is not the size
	// the document gives, or already has an entry in the file dictionary.
	ErrImportConflict = errors.New("import conflict")
	// ErrNotEncrypted: the document holds encrypted files but the data
	// directory has no dictionaries (encryption was never turned on).
	ErrNotEncrypted = errors.New("the data directory is not encrypted")
)
