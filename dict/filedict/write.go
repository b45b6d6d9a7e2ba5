package filedict

import (
	"github.com/atrest/atrest/fsys"

	"fmt"
	"slices"
)

// submit queues a mutation and returns once it is durable or has failed.
func (d *Dict) submit(rec Record) error {
	o := &op{wake: make(chan bool, 1)}
	o.one[0] = rec
	o.recs = o.one[:]
	return d.submitOp(o)
}

// submitOp queues o and returns once its records are durable or have
// failed.
//
// Group commit: at most one caller at a time is the leader. A caller that
// finds no leader becomes it; the others wait on their op's channel. The
// leader takes the whole queue, commits it with one write and one fsync,
// hands the lead to the first op queued meanwhile (if any), and wakes every
// op of its group with its result. Callers thus wait for at most the group
// in progress and their own.
func (d *Dict) submitOp(o *op) error {
	d.qmu.Lock()
	d.queue = append(d.queue, o)
	lead := !d.leading
	d.leading = true
	d.qmu.Unlock()
	if !lead && !<-o.wake {
		return o.err // a leader committed it
	}

	d.wmu.Lock()
	d.qmu.Lock()
	batch := d.queue
	d.queue = nil
	d.qmu.Unlock()
	d.commit(batch)
	d.wmu.Unlock()

	d.qmu.Lock()
	if len(d.queue) > 0 {
		d.queue[0].wake <- true
	} else {
		d.leading = false
	}
	d.qmu.Unlock()
	for _, x := range batch {
		if x != o {
			x.wake <- false
		}
	}
	return o.err
}

func (d *Dict) fail(name string) {
	if d.failpoint != nil {
		d.failpoint(name)
	}
}

// committed returns an overlay with no changes: the committed state.
func (d *Dict) committed() *overlay {
	return &overlay{base: d.entries, basePend: d.pending}
}

// commit validates a group of ops in order against the committed state and
// the ops before them, makes the valid ones durable together, and only then
// applies them to the maps. Called with wmu held.
//
// In a version-3 log the group's records go into one group frame, written
// with one WriteAt and synced with one fdatasync; a reader takes the frame
// whole or, when its write was torn, not at all. A group whose records
// would take more than groupMax bytes is written as several frames, each
// written and synced before the next, so that a frame is only ever torn
// when every frame before it is durable; its ops are answered once all
// are. A frame ends between ops, except when one op's records alone take
// more than groupMax: a RemoveMany of names adding up to over 16 MiB is
// then spread over frames, and a crash may leave some of them.
func (d *Dict) commit(batch []*op) {
	if d.closed || d.broken != nil {
		err := d.broken
		if d.closed {
			err = fmt.Errorf("filedict: %s: %w", d.path, ErrClosed)
		}
		for _, o := range batch {
			o.err = err
		}
		return
	}
	if d.readOnly {
		batch = d.refuseWrites(batch)
	}
	if d.beforeRm != nil {
		var names []string
		for _, o := range batch {
			if o.removes() {
				for _, r := range o.recs {
					names = append(names, r.Name)
				}
			}
		}
		if len(names) > 0 {
			if err := d.beforeRm(names); err != nil {
				for _, o := range batch {
					if o.removes() {
						o.err = fmt.Errorf("filedict: before remove: %w", err)
					}
				}
				batch = slices.DeleteFunc(slices.Clone(batch), (*op).removes)
			}
		}
	}
	ov := d.committed()
	enc := groupEncoder{max: d.groupMax}
	live := batch[:0:0]
	records := 0
	for _, o := range batch {
		wrote := false
		for _, r := range o.recs {
			changed, dead, err := applyRecord(ov, r)
			if err != nil {
				o.err = fmt.Errorf("filedict: %w", err)
				continue
			}
			if !changed {
				continue
			}
			ov.dead += dead
			wrote = true
			records++
			if d.version == logVersion {
				enc.add(r)
			}
		}
		enc.endOp()
		if wrote {
			live = append(live, o)
		}
	}
	if len(live) == 0 {
		return
	}
	var err error
	var written int64
	switch {
	case d.readOnly: // resolutions only, in memory
	case d.version == 1:
		err = d.rewrite(d.encodeState(ov))
	default:
		frames := enc.frames()
		for _, f := range frames {
			written += int64(len(f))
		}
		err = d.append(frames, written)
	}
	if err != nil {
		for _, o := range live {
			o.err = err
		}
		return
	}
	d.mu.Lock()
	for n, p := range ov.ent {
		if p == nil {
			delete(d.entries, n)
		} else {
			d.entries[n] = *p
		}
	}
	for dst, p := range ov.pend {
		if p == nil {
			delete(d.pending, dst)
		} else {
			d.pending[dst] = *p
		}
	}
	if d.version == logVersion {
		d.stats.LogRecords += records
		d.stats.DeadRecords += ov.dead
		d.stats.FileSize += written
	}
	d.mu.Unlock()
	d.maybeCompact()
}

// refuseWrites fails every op of a Dict on a read-only file system but
// the resolutions of pending renames, which the caller settles from what
// the file system shows and which apply in memory only: the open that
// holds the directory makes the same resolution durable.
func (d *Dict) refuseWrites(batch []*op) []*op {
	kept := batch[:0:0]
	for _, o := range batch {
		if t := o.recs[0].Type; len(o.recs) == 1 && (t == RecordRenameCommit || t == RecordRenameAbort) {
			kept = append(kept, o)
		} else {
			o.err = d.errReadOnly()
		}
	}
	return kept
}

// logExtent is how far ahead of its records the log's file is extended
// with zeros (see append).
const logExtent = 1 << 20

// append writes group frames, size bytes in all, to the log: each with
// one write and one sync, in order. A failure marks the file for repair; a
// repair that fails breaks the Dict.
//
// The frames overwrite zeros that an earlier extension made durable, so
// the sync is an fdatasync: the file's size and blocks do not change,
// and on a journaling file system the group's commit waits for its own
// bytes and a cache flush, not for a journal commit carrying every file
// created or deleted meanwhile. A reader takes the zeros after the last
// frame for the end of the log (see load).
func (d *Dict) append(frames [][]byte, size int64) error {
	if d.needRepair || d.f == nil {
		if err := d.rewrite(d.encodeState(d.committed())); err != nil {
			d.broken = fmt.Errorf("filedict: %s: %w: %w", d.path, ErrBroken, err)
			return d.broken
		}
	}
	end := d.stats.FileSize
	if need := end + size; need > d.alloc {
		if err := d.extend(need); err != nil {
			d.needRepair = true
			return fmt.Errorf("filedict: extending %s: %w", d.path, err)
		}
	}
	for _, f := range frames {
		d.fail("append.before-write")
		if _, err := d.f.WriteAt(f, end); err != nil {
			d.needRepair = true
			return fmt.Errorf("filedict: appending to %s: %w", d.path, err)
		}
		d.fail("append.after-write")
		if err := d.f.Datasync(); err != nil {
			d.needRepair = true
			return fmt.Errorf("filedict: syncing %s: %w", d.path, err)
		}
		d.fail("append.after-sync")
		end += int64(len(f))
	}
	return nil
}

// groupEncoder lays the records of a commit out in group frames whose
// payloads take at most max bytes. An op's records share a frame unless
// they alone take more than max.
type groupEncoder struct {
	max    int
	buf    []byte // the frames, the last one open
	starts []int  // where each frame starts in buf
	op     []byte // the current op's records
	ends   []int  // where each of them ends in op
}

// add encodes r as a record of the current op.
func (g *groupEncoder) add(r Record) {
	g.op = r.appendTo(g.op)
	g.ends = append(g.ends, len(g.op))
}

// endOp puts the current op's records into frames: the open frame if
// they fit in it, else a new one, and more when they alone do not fit.
func (g *groupEncoder) endOp() {
	if len(g.ends) == 0 {
		return
	}
	if len(g.starts) == 0 || g.payload() > 0 && g.payload()+len(g.op) > g.max {
		g.open()
	}
	from := 0
	for _, end := range g.ends {
		if g.payload() > 0 && g.payload()+end-from > g.max {
			g.open()
		}
		g.buf = append(g.buf, g.op[from:end]...)
		from = end
	}
	g.op, g.ends = g.op[:0], g.ends[:0]
}

// payload is the length of the open frame's payload so far.
func (g *groupEncoder) payload() int {
	return len(g.buf) - g.starts[len(g.starts)-1] - recordHeaderSize
}

func (g *groupEncoder) open() {
	g.starts = append(g.starts, len(g.buf))
	g.buf = appendGroupHeader(g.buf)
}

// frames seals the frames and returns them.
func (g *groupEncoder) frames() [][]byte {
	out := make([][]byte, 0, len(g.starts))
	for i, s := range g.starts {
		end := len(g.buf)
		if i+1 < len(g.starts) {
			end = g.starts[i+1]
		}
		sealGroup(g.buf[s:end])
		out = append(out, g.buf[s:end])
	}
	return out
}

// extend makes the log's file at least need bytes long, logExtent at a
// time, with zeros that are durable (fsync) before any record is written
// over them. The range is allocated first: blocks a crash leaves
// unwritten then read as zeros, never as stale bytes of a deleted file
// (an old dictionary's records among them).
func (d *Dict) extend(need int64) error {
	size := (need + logExtent - 1) / logExtent * logExtent
	// Never from before the contents' end, whatever alloc says: zeros
	// there would erase records.
	from := max(d.alloc, d.stats.FileSize)
	if err := d.f.Allocate(from, size-from); err != nil {
		return err
	}
	if err := writeZeros(d.f, from, size); err != nil {
		return err
	}
	d.fail("append.after-extend")
	if err := d.f.Sync(); err != nil {
		return err
	}
	d.alloc = size
	return nil
}

// maybeCompact compacts a version-3 file whose dead records exceed the
// threshold. A compaction that fails is retried only after the dead count
// grows by a quarter of the threshold, so a full disk does not cost a
// rewrite per commit.
func (d *Dict) maybeCompact() {
	dead := d.stats.DeadRecords
	if d.readOnly || d.version != logVersion || dead <= d.threshold || dead < d.retryDead {
		return
	}
	if err := d.rewrite(d.encodeState(d.committed())); err != nil {
		d.retryDead = dead + d.threshold/4 + 1
	}
}

// encodeState returns a whole file, header and snapshot, holding the state
// ov shows.
func (d *Dict) encodeState(ov *overlay) []byte {
	data := Header{Version: d.version}.Encode()
	return appendSnapshot(data, ov.names(), func(n string) Entry {
		e, _ := ov.get(n)
		return e
	}, ov.pendingList())
}

// rewrite replaces the file with data atomically: a temporary file in the
// same directory, fsync, rename over the file, fsync of the directory. For
// version 3 it then reopens the append handle. Called with wmu held.
//
// A failure before the rename leaves the old file, and the append handle,
// as they were. Once the rename has happened the old handle points at the
// replaced file, so it is closed, and a failure from there on marks the
// file for repair: the next append rewrites it again.
func (d *Dict) rewrite(data []byte) error {
	renamed, err := d.replace(data)
	if renamed {
		d.closeFile()
	}
	if err == nil && d.version == logVersion {
		d.alloc = int64(len(data))
		d.f, err = openLog(d.fs, d.path)
		if err != nil {
			d.f = nil
			err = fmt.Errorf("reopening for appending: %w", err)
		}
	}
	if err != nil {
		if renamed {
			d.needRepair = true
		}
		return err
	}
	d.needRepair = false
	d.retryDead = 0
	d.mu.Lock()
	d.stats.LogRecords, d.stats.DeadRecords, d.stats.FileSize = 0, 0, int64(len(data))
	d.mu.Unlock()
	return nil
}

func (d *Dict) replace(data []byte) (renamed bool, err error) {
	f, tmp, err := fsys.CreateTemp(d.fs, d.dir, tempPattern(d.base))
	if err != nil {
		return false, fmt.Errorf("creating a temporary file: %w", err)
	}
	defer func() {
		if !renamed {
			d.fs.Remove(tmp)
		}
	}()
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("writing %s: %w", tmp, err)
	}
	d.fail("rewrite.after-temp-sync")
	if err := d.fs.Rename(tmp, d.path); err != nil {
		return false, err
	}
	d.fail("rewrite.after-rename")
	if err := d.fs.SyncDir(d.dir); err != nil {
		return true, fmt.Errorf("syncing directory %s: %w", d.dir, err)
	}
	return true, nil
}
