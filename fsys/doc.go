// Package fsys is the file-system interface atrest's core runs on: the
// Manager's dictionaries, its lock, every temporary file and every data
// file go through one FS, so the whole stack runs on the operating
// system's file system (OS, the default), on an engine's file-system
// layer (package pebblefs adapts any Pebble vfs.FS, in-memory and
// crash-simulating ones included), or on a test's crash model.
//
// ReadOnly wraps an FS in a view that fails every call that could change
// anything with ErrReadOnly: the Manager's inspection opens run on it, so
// a tool reading a live directory cannot write, truncate, remove or lock
// a file, whatever code path it takes.
//
// Paths are the FS's own (absolute paths for OS). Errors keep their cause
// reachable by errors.Is: fs.ErrNotExist for a missing file, ErrLocked for
// a lock held elsewhere, ErrReadOnly from a read-only view.
package fsys
