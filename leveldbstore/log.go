package leveldbstore

import (
	"errors"
	"io/fs"
	"strconv"
	"time"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/encfile"
)

// logRotateSize is the size past which LOG becomes LOG.old, as in
// goleveldb's file storage.
const logRotateSize = 1 << 20

// logFile is the info log, LOG: a text file goleveldb writes lines to,
// encrypted like everything else (its compaction lines name keys).
type logFile struct {
	m    *dict.Manager
	w    *encfile.File // nil when it could not be created
	size int64
	day  int
	buf  []byte
}

// start renames an existing LOG to LOG.old and creates LOG afresh, with a
// new IV: appending to an old LOG would encrypt new lines at offsets a
// crash may have cut off, under the keystream that encrypted others.
func (l *logFile) start(m *dict.Manager) error {
	l.m = m
	return l.rotate()
}

func (l *logFile) rotate() error {
	if l.w != nil {
		l.w.Close()
		l.w = nil
	}
	if err := l.m.Rename(logName, oldLogName); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	w, err := l.m.Create(logName)
	if err != nil {
		return err
	}
	l.w, l.size, l.day = w, 0, 0
	return nil
}

// Log writes a line to LOG, stamped with the time as goleveldb's file
// storage does. Failures are dropped, as there: the info log must not
// stop the DB.
func (s *Storage) Log(str string) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.log.write(now, str)
}

func (l *logFile) write(t time.Time, str string) {
	if l.w == nil || l.size > logRotateSize {
		if err := l.rotate(); err != nil {
			return
		}
	}
	b := l.buf[:0]
	if l.day != t.Day() {
		l.day = t.Day()
		b = append(b, "=============== "+t.Format("Jan 2, 2006 (MST)")+" ===============\n"...)
	}
	b = t.AppendFormat(b, "15:04:05.000000 ")
	b = append(b, str...)
	b = append(b, '\n')
	n, _ := l.w.Write(b)
	l.size += int64(n)
	l.buf = b
}

func (l *logFile) close() error {
	if l.w == nil {
		return nil
	}
	err := l.w.Close()
	l.w = nil
	return err
}

// itoa is strconv.Itoa, for the names of CURRENT's temporaries.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }
