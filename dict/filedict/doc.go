// Package filedict is the file dictionary of atrest's encryption at rest:
// for every file of a data directory, named by its path relative to that
// directory, the data-key id, the cipher method and the 16-byte IV that
// encrypt it, plus the renames that are under way.
//
// The dictionary lives in one file. Version 1 of the format is a header and
// a snapshot, replaced atomically (temporary file, fsync, rename, fsync of
// the directory) on every change. Version 3 adds an append-only log after
// the snapshot: one checksummed group frame per group commit, holding that
// group's checksummed records. A change costs one append and one fsync,
// and the file is compacted (rewritten atomically as a snapshot with an
// empty log) once enough of the log is dead. Version 2, a log of records
// without group frames, is still read; Open rewrites it as version 3 (or
// 1). docs/FORMAT.md describes them byte by byte.
//
// Crash safety:
//
//   - A mutation returns only once its record is on disk. Concurrent
//     mutations are committed in groups: one goroutine writes the records of
//     every waiting caller as one group frame with one write and one fsync,
//     and all of them return together. The in-memory map changes only after
//     the group is durable, so Get never sees a change that a crash could
//     undo.
//   - The log's records overwrite zeros that are already durable: while
//     open, the file is extended 1 MiB at a time (allocated, written with
//     zeros, fsynced) ahead of them, so a group's sync is an fdatasync that
//     changes neither the file's size nor its blocks, and on a journaling
//     file system it does not wait for a journal commit. Close and Open
//     drop the zeros that follow the last record.
//   - A failed write or fsync fails every caller of its group and leaves the
//     map unchanged. The file is then rewritten from memory before the next
//     append, so a torn record never ends up in the middle of the log; if
//     that rewrite fails too, the Dict reports ErrBroken until reopened.
//   - At Open, the first group frame that fails its framing (checksum,
//     length, type) ends the log. A power cut can leave any subset of a
//     group's disk blocks written, so its contents say nothing; what counts
//     is what follows. With no valid group at any later offset it is a torn
//     tail: dropped, the file truncated before it, and reported by
//     DroppedTail so the owner can check the records it held. A valid group
//     after it proves it was synced, hence acknowledged: ErrCorrupt, naming
//     its offset. A valid group holding a record that does not decode or
//     apply is ErrCorrupt too.
//   - A rename is recorded as an intent (BeginRename) before the file-system
//     rename and resolved (CommitRename or AbortRename) after it. Intents
//     outlive crashes; PendingRenames lists them so the caller can settle
//     each one by looking at which file exists.
//
// Lookups (Get, Len, Range) take a read lock on the map only, held briefly,
// and never wait behind disk I/O.
package filedict
