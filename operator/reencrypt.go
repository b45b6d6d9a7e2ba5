package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/atrest/atrest/dict"
	"golang.org/x/time/rate"
)

// Re-encryption rewrites a file under the current data key and the
// configured method, as InnoDB rebuilds a table to change its key:
// dict.Maintenance.Rewrite creates the temporary file with a fresh entry
// and swaps it in crash-safely (see dict's rewrite.go); this file copies
// the content, a chunk at a time, at the run's rate, and keeps the run's
// progress where Manager.Stats reports it.
//
// The copy's failpoint (dict.WithFailpoint) is "reencrypt.after-chunk",
// after each chunk is written to the temporary file; Rewrite's follow.

// Chunk sizes of the copy: the unit of cancellation, of rate limiting and
// of failpoints.
const (
	reencryptChunk    = 1 << 20 // without a rate limit
	reencryptMinChunk = 16 << 10
	// reencryptReportEvery is how many bytes may pass between two calls of
	// ReencryptOptions.Progress within one file.
	reencryptReportEvery = 4 << 20
)

// Reencrypt rewrites the file name of m under the current data key and the
// configured method (the equivalent of InnoDB's table rebuild): its
// content stays byte for byte what it was, its entry (key id, method, IV)
// becomes that of a file created now. A file whose entry already names the
// current data key with the configured method is left alone: nothing is
// written and Reencrypt returns nil.
//
//   - A plaintext file (no entry, or method plaintext) is encrypted when
//     the configured method encrypts.
//   - When the configured method is plaintext, an encrypted file is
//     decrypted: it gets an entry with method plaintext, as files created
//     under that configuration do, and the data key it used is dropped
//     once no file uses it (the key that was current when encryption was
//     turned off stays). A directory that was never encrypted has nothing
//     to do.
//
// The file must not be written during Reencrypt, nor afterwards through a
// handle opened before it: it is for files a storage engine no longer
// writes (SSTables, old WALs, old manifests). A write that lands during the
// copy is noticed (size or modification time changed) and the copy thrown
// away with dict.ErrReencryptChanged; one through an old handle after the swap
// goes to the old, unlinked file and is lost. Readers may go on: a handle
// opened before the swap keeps reading the old file with its old entry
// (its keystream does not need the key dictionary any more), one opened
// after reads the new file. Opens of the file (and of names sharing its
// lock stripe) wait while the temporary file is created and while the new
// file is swapped in (a few dictionary writes and fsyncs), not during the
// copy, which runs at full speed: ReencryptAll has the rate limit.
//
// The new file gets the old one's permission bits. Its modification time
// is the time of the re-encryption: its bytes on disk changed, and tools
// that copy files when their size or time changes (backups) must see
// that. A file with other hard links gets a new file under this name
// only; the other names keep the old file and entry, readable, until they
// are re-encrypted themselves. Symbolic links and directories are
// refused.
//
// Reencrypt writes its copy to name+dict.ReencryptTempSuffix in the same
// directory (which must be writable, and hold room for a second copy of
// the file), replacing a leftover of an earlier crash, then replaces the
// file through a rename intent as Rename does: after a crash at any moment
// the file is either wholly old or wholly new, never lost and never
// unreadable (see dict.Maintenance.Rewrite for what each step leaves). Cancelling ctx stops the copy between chunks; the file stays as
// it was.
//
// Errors (package dict's): a path outside the data directory is
// ErrOutsideDir, a dictionary file or a temporary file of re-encryption
// ErrReserved, a missing file matches fs.ErrNotExist, a closed Manager
// ErrClosed, a concurrent re-encryption of the same file ErrReencryptBusy,
// a file changed meanwhile ErrReencryptChanged, a file whose data key is
// not in the key dictionary (which cannot be read, so not re-encrypted
// either) ErrDataKeyMissing.
func Reencrypt(ctx context.Context, m *dict.Manager, name string) error {
	mt := m.Maintenance()
	return mt.Rewrite(ctx, name, func(r *dict.Rewriting) (int64, error) {
		return copyFile(ctx, mt, r, nil)
	})
}

// ReencryptOptions configure ReencryptAll.
type ReencryptOptions struct {
	// OlderThan selects the files whose data key was created at least
	// this long ago (by the Manager's clock, see dict.WithClock); 0 selects
	// every file whose key is not the current one. Files whose method
	// differs from the configured one are selected whatever their key's
	// age, and files under the current data key never are, however old
	// it is: rotate it first (Manager.RotateDataKey, or the rotation
	// period).
	OlderThan time.Duration
	// Rate limits the copying to this many bytes per second, over the
	// whole run; 0 means no limit. Waiting for the limit sleeps: it costs
	// no CPU.
	Rate int64
	// Progress, if set, is called from ReencryptAll's goroutine after
	// each file, every few MiB within a large file, and once at the end
	// (with Running false). It should return quickly: the copy waits for
	// it.
	Progress func(dict.ReencryptProgress)
	// Filter, if set, restricts the run to the files (names relative to
	// the data directory, with forward slashes) for which it returns
	// true. A storage engine running alongside passes one that refuses
	// the files it may still write (the live WAL, the current manifest):
	// see the contract of Reencrypt.
	Filter func(name string) bool
}

// ReencryptAll re-encrypts, one at a time, every regular file of the data
// directory whose data key is older than opt.OlderThan or whose method is
// not the configured one (see ReencryptOptions), in the byte order of
// their names relative to the data directory, as Reencrypt does (whose
// contract, that nobody writes the files, applies). It first removes the
// temporary files interrupted re-encryptions left
// (dict.ReencryptTempSuffix).
//
// The progress (files and bytes done of those selected, estimated time
// left at the rate so far, the file being copied, the files that failed)
// is kept where Manager.Stats reports it and passed to opt.Progress. A file
// that failed is counted in Failed and the run goes on; ReencryptAll then
// returns an error wrapping the first failure. A file removed or replaced
// before or during its turn counts as done. At the end FilesDone+Failed is
// FilesTotal and BytesDone is BytesTotal, unless the run stopped early.
//
// ReencryptAll works in the calling goroutine; run it in a goroutine of
// its own to have it in the background, and read its progress from
// Manager.Stats or opt.Progress.
//
// Cancelling ctx stops the run promptly, between two chunks of a copy or
// during a wait for the rate limit; the file being copied stays wholly
// old, and ReencryptAll returns the progress so far and an error wrapping
// ctx.Err(). Nothing needs to be remembered to resume, after a
// cancellation or a restart: the files already done no longer match the
// selection. Only one ReencryptAll runs at a time on a Manager; another is
// dict.ErrReencryptBusy. A directory that was never encrypted has nothing to
// do.
func ReencryptAll(ctx context.Context, m *dict.Manager, opt ReencryptOptions) (dict.ReencryptProgress, error) {
	mt := m.Maintenance()
	if err := mt.Err(); err != nil {
		return dict.ReencryptProgress{}, err
	}
	if opt.Rate < 0 {
		return dict.ReencryptProgress{}, fmt.Errorf("dict: reencrypt: negative rate %d bytes per second", opt.Rate)
	}
	started := time.Now()
	if !mt.StartReencrypt(started) {
		return mt.UpdateReencrypt(nil), fmt.Errorf("dict: reencrypt: %w", dict.ErrReencryptBusy)
	}
	run := newReencryptRun(mt, opt, started)
	defer run.end()
	var errs []error
	var sel []reencryptCandidate
	if m.Encrypted() {
		var err error
		sel, err = reencryptSelect(ctx, m, opt)
		if err != nil {
			return run.finish(), err
		}
	}
	var total int64
	for _, c := range sel {
		total += c.size
	}
	mt.UpdateReencrypt(func(p *dict.ReencryptProgress) {
		p.FilesTotal, p.BytesTotal = len(sel), total
	})

	var firstFail error
	for _, c := range sel {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("dict: reencrypt: %w", err))
			break
		}
		if err := mt.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		err := run.file(ctx, c)
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			errs = append(errs, err)
			break
		}
		if err != nil && firstFail == nil {
			firstFail = err
		}
	}
	final := run.finish()
	if final.Failed > 0 {
		errs = append(errs, fmt.Errorf("dict: reencrypt: %d of %d files failed, the first: %w", final.Failed, final.FilesTotal, firstFail))
	}
	return final, errors.Join(errs...)
}

// copyFile copies the plaintext of r.Src into r.Dst, a chunk at a time, at
// the run's rate (run nil: a lone Reencrypt, no rate limit, no progress),
// and returns the bytes copied.
func copyFile(ctx context.Context, mt *dict.Maintenance, r *dict.Rewriting, run *reencryptRun) (int64, error) {
	var buf []byte
	if run != nil {
		buf = run.buf
	} else {
		buf = make([]byte, min(reencryptChunk, max(r.Size, reencryptMinChunk)))
	}
	var copied int64
	for {
		if err := ctx.Err(); err != nil {
			return copied, fmt.Errorf("dict: reencrypt %s: %w", r.Name, err)
		}
		n, rerr := r.Src.ReadAt(buf, copied)
		if n > 0 {
			if run != nil {
				if err := run.limit.wait(ctx, n); err != nil {
					return copied, fmt.Errorf("dict: reencrypt %s: %w", r.Name, err)
				}
			}
			// In place: the buffer is ours and read again from disk next.
			if _, err := r.Dst.WriteAtInPlace(buf[:n], copied); err != nil {
				return copied, fmt.Errorf("dict: reencrypt %s: writing %s: %w", r.Name, r.Temp, err)
			}
			copied += int64(n)
			if run != nil {
				run.advance(int64(n))
			}
			mt.Failpoint("reencrypt.after-chunk")
		}
		if rerr == io.EOF {
			return copied, nil
		}
		if rerr != nil {
			return copied, fmt.Errorf("dict: reencrypt %s: reading: %w", r.Name, rerr)
		}
	}
}

// reencryptRun is one ReencryptAll: its rate limit, copy buffer and the
// progress it publishes.
type reencryptRun struct {
	mt      *dict.Maintenance
	opt     ReencryptOptions
	limit   *rateLimiter
	buf     []byte
	started time.Time
	// finished: finish has run (see end).
	finished bool

	// Progress: doneBytes is BytesDone before the current file, curSize
	// the current file's size when selected, curBytes what was copied of
	// it; copied counts the bytes copied by the whole run (the rate).
	doneBytes, curSize, curBytes int64
	copied                       int64
	sinceReport                  int64
}

func newReencryptRun(mt *dict.Maintenance, opt ReencryptOptions, started time.Time) *reencryptRun {
	chunk := int64(reencryptChunk)
	if opt.Rate > 0 {
		// About eight chunks a second: the limit is kept smoothly, and a
		// cancellation is seen within a fraction of a second.
		chunk = min(chunk, max(opt.Rate/8, reencryptMinChunk))
	}
	r := &reencryptRun{mt: mt, opt: opt, buf: make([]byte, chunk), started: started}
	if opt.Rate > 0 {
		r.limit = newRateLimiter(opt.Rate, int(chunk), r.started)
	}
	return r
}

// file re-encrypts one selected file and records the outcome.
func (r *reencryptRun) file(ctx context.Context, c reencryptCandidate) error {
	r.curSize, r.curBytes = c.size, 0
	r.mt.UpdateReencrypt(func(p *dict.ReencryptProgress) { p.Current = c.rel })
	err := r.mt.Rewrite(ctx, c.rel, func(w *dict.Rewriting) (int64, error) {
		return copyFile(ctx, r.mt, w, r)
	})
	if errors.Is(err, dict.ErrReencryptBusy) {
		err = nil // a Reencrypt of this file is running: it does the work
	}
	stopped := err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err())
	done := err == nil || errors.Is(err, dict.ErrReencryptChanged) || errors.Is(err, fs.ErrNotExist)
	if !stopped {
		r.doneBytes += c.size
		r.curSize, r.curBytes = 0, 0
	}
	p := r.mt.UpdateReencrypt(func(p *dict.ReencryptProgress) {
		switch {
		case stopped:
		case done:
			p.FilesDone++
		default:
			p.Failed++
		}
		if !stopped {
			p.BytesDone = r.doneBytes
			p.Current = ""
		}
		p.Remaining = r.remaining(p)
	})
	if !stopped {
		r.report(p)
	}
	if done {
		return nil
	}
	return err
}

// advance records n more bytes copied of the current file.
func (r *reencryptRun) advance(n int64) {
	r.curBytes += n
	r.copied += n
	r.sinceReport += n
	// A file that grew past its selected size (which it must not) does
	// not move BytesDone past it: the progress only ever goes forward.
	done := r.doneBytes + min(r.curBytes, r.curSize)
	p := r.mt.UpdateReencrypt(func(p *dict.ReencryptProgress) {
		p.BytesDone = done
		p.Remaining = r.remaining(p)
	})
	if r.sinceReport >= reencryptReportEvery {
		r.report(p)
	}
}

// remaining estimates the time left from the rate so far.
func (r *reencryptRun) remaining(p *dict.ReencryptProgress) time.Duration {
	elapsed := time.Since(r.started)
	left := p.BytesTotal - p.BytesDone
	if r.copied == 0 || elapsed <= 0 || left <= 0 {
		return 0
	}
	return time.Duration(float64(left) / float64(r.copied) * float64(elapsed))
}

// report passes p to the caller's Progress.
func (r *reencryptRun) report(p dict.ReencryptProgress) {
	r.sinceReport = 0
	if r.opt.Progress != nil {
		r.opt.Progress(p)
	}
}

// finish marks the run over and reports its last progress. That is taken
// as Running turns false, not read again: from then on another
// ReencryptAll may start and replace it.
func (r *reencryptRun) finish() dict.ReencryptProgress {
	final := r.mt.UpdateReencrypt(func(p *dict.ReencryptProgress) {
		p.Running = false
		p.Current = ""
		p.Remaining = 0
	})
	r.finished = true
	r.report(final)
	return final
}

// end, deferred by ReencryptAll, marks the run over if it stopped without
// finish (a panic in the caller's Filter or Progress): Running left true
// would refuse every later ReencryptAll.
func (r *reencryptRun) end() {
	if !r.finished {
		r.mt.UpdateReencrypt(func(p *dict.ReencryptProgress) { p.Running = false })
	}
}

// rateLimiter is a token bucket on bytes (golang.org/x/time/rate): tokens
// accrue at rate per second up to burst, and a wait for more than there
// are sleeps until the debt is paid (a timer, not a loop). It starts
// empty, so n bytes take at least n/rate seconds. One run owns it.
type rateLimiter struct {
	lim *rate.Limiter
}

// newRateLimiter returns an empty bucket filling at bytesPerSecond.
func newRateLimiter(bytesPerSecond int64, burst int, now time.Time) *rateLimiter {
	lim := rate.NewLimiter(rate.Limit(bytesPerSecond), burst)
	lim.AllowN(now, burst) // it starts full: empty it
	return &rateLimiter{lim}
}

// wait takes n bytes' worth of tokens (n at most the burst), sleeping
// while in debt; a cancelled ctx ends the wait with ctx.Err(). A nil
// limiter never waits. (Not rate.Limiter.WaitN: it refuses at once, with
// an error that is not ctx's, a wait that would outlast ctx's deadline,
// where a run must sleep until the deadline and stop as cancelled.)
func (l *rateLimiter) wait(ctx context.Context, n int) error {
	if l == nil {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	r := l.lim.ReserveN(now, n)
	if !r.OK() {
		return fmt.Errorf("rate limit: %d bytes at once, more than the burst of %d", n, l.lim.Burst())
	}
	d := r.DelayFrom(now)
	if d == 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
