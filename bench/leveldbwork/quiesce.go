package leveldbwork

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// quietFor is how long goleveldb must write nothing for Quiesce to take
// it as idle, twice in a row: a flush or compaction writes a table block
// every few microseconds while it runs.
const quietFor = time.Millisecond

// Quiesce waits until goleveldb has no flush or compaction running or
// due. goleveldb tells neither, so Quiesce reads what it does tell: no
// level is due for compaction (computed as goleveldb computes it, from
// its tables and the options), writes are not paused, and the bytes it
// has written did not move for quietFor, twice in a row.
func (d *engineDB) Quiesce() error {
	var s leveldb.DBStats
	var written uint64
	for idle := 0; idle < 2; {
		if err := d.db.Stats(&s); err != nil {
			return err
		}
		tables, err := d.db.GetProperty("leveldb.sstables")
		if err != nil {
			return err
		}
		due, err := compactionDue(tables, d.opts)
		if err != nil {
			return err
		}
		if !due && !s.WritePaused && s.IOWrite == written {
			idle++
		} else {
			idle = 0
		}
		written = s.IOWrite
		time.Sleep(quietFor)
	}
	return nil
}

// errSSTables: a line of "leveldb.sstables" is not as compactionDue
// expects.
var errSSTables = errors.New("unexpected leveldb.sstables line")

// compactionDue says whether a level of the tables goleveldb lists
// ("leveldb.sstables": a "--- level N ---" line per level, then a
// "num:size[smallest .. largest]" line per table) is due for compaction
// under o, as goleveldb scores it: level 0 by its number of tables, the
// others by their size.
func compactionDue(sstables string, o *opt.Options) (bool, error) {
	level, count, size := -1, 0, int64(0)
	due := func() bool {
		if level == 0 {
			return count >= o.GetCompactionL0Trigger()
		}
		return level > 0 && size >= o.GetCompactionTotalSize(level)
	}
	for _, line := range strings.Split(sstables, "\n") {
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "--- level "); ok {
			if due() {
				return true, nil
			}
			if _, err := fmt.Sscanf(rest, "%d ---", &level); err != nil {
				return false, fmt.Errorf("leveldbwork: %w %q", errSSTables, line)
			}
			count, size = 0, 0
			continue
		}
		var num uint64
		var n int64
		if _, err := fmt.Sscanf(line, "%d:%d", &num, &n); err != nil || level < 0 {
			return false, fmt.Errorf("leveldbwork: %w %q", errSSTables, line)
		}
		count++
		size += n
	}
	return due(), nil
}
