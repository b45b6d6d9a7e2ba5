// Package crashfs is an in-memory fsys.FS that models what a power cut
// leaves of a file system, so that tests can crash the storage stack at
// any moment in process and check what it recovers.
//
// # Names and files
//
// Paths are absolute and "/"-separated (cleaned with path/filepath, so
// the package is meant for Unix-like systems); the root "/" always
// exists. There are no symbolic links. Files are inodes: hard links share
// one, link counts are kept, and Stat().Sys() is a *syscall.Stat_t with
// Dev, Ino, Nlink and Size set (on Unix). A removed name leaves open
// handles working on the unlinked inode, as POSIX does. Rename is atomic,
// replaces a file (or an empty directory) at the destination, and renames
// directories too. Errors are *fs.PathError and *os.LinkError wrapping
// syscall errnos, so errors.Is(err, fs.ErrNotExist) and fs.ErrExist work
// as with the os package. Lock is an in-memory exclusive lock on the
// lock file's inode; a second holder gets an error wrapping
// fsys.ErrLocked.
//
// # What is durable
//
// Every inode keeps two images of its contents: the current one, which
// reads and writes see, and the durable one, which the last File.Sync or
// File.Datasync made durable. Both syncs make the current bytes and the
// current size durable (this model makes no difference between fsync and
// fdatasync: a Datasync suffices for writes inside and beyond the
// existing size). A size change by WriteAt, Truncate or Allocate is
// durable only at a sync, like the bytes.
//
// Every change to a directory's entries (a create, a removal, a rename or
// a link, and Mkdir) is recorded as a pending operation of the directory
// it changes; a rename from one directory to another is one operation
// pending in both. FS.SyncDir (or Sync of a handle opened on the
// directory) makes all of the directory's pending operations durable; a
// cross-directory rename among them becomes durable as a whole, and with
// it the other directory's operations that preceded it. A file's Sync does
// NOT make its name durable: that is the directory's job, as strict POSIX
// has it. MkdirAll is the exception: it is meant for setting up a test's
// data directory, and makes each directory it creates durable at once
// (syncing the parent, which makes the parent's earlier pending
// operations durable too).
//
// # What a crash keeps
//
// FS.Crash returns a new FS holding what a power cut at that moment
// could have left; the original goes on unchanged. In it:
//
//   - Of each directory's pending operations a prefix survives, of a
//     random length (none and all included). Where a cross-directory
//     rename is inside one directory's prefix and not the other's, the
//     longer prefix is cut before it, until all are consistent: a renamed
//     file is under its old name or its new name, never both, never
//     neither (unless it was removed).
//   - Of each file, every 4 KiB block that was written (or truncated
//     away) since its last sync survives or not, at random and
//     independently of the others: a later block can survive without an
//     earlier one. The size is either the durable size or the current
//     size, at random; bytes beyond the durable size in blocks that did
//     not survive read as zeros.
//   - An inode without a surviving name is gone; link counts are those of
//     the surviving names.
//   - Locks are released and the new FS has no open handles; handles of
//     the old FS keep working on the old FS only.
//
// CrashConfig.UnsyncedPercent sets the randomness: 0 keeps nothing that
// was not made durable, 100 keeps everything (the crash is then a copy of
// the current state), and values in between make each block survive with
// that probability and pick each directory's prefix length uniformly.
//
// # What is not modeled
//
// Writes are atomic per 4 KiB block (no torn sectors inside a block, no
// garbage: a block is either its old or its new contents). Metadata other
// than names, sizes and link counts (modes, times) is not part of the
// durability model. Directory operations are ordered within each
// directory only; nothing orders them across directories beyond the
// consistency of cross-directory renames, and nothing ties a directory's
// operations to file data (a name can survive with its file's unsynced
// data lost). Sync never fails on its own and never loses data when it
// fails (no "fsyncgate" page dropping): failures happen only where a test
// injects them with FS.InjectError, and an injected failure changes
// nothing, except a PartialWrite, which writes a prefix. There is no
// space limit, no permission checking and no O_APPEND.
package crashfs
