// Package metrics exports a dict.Manager's state as Prometheus metrics.
//
// The names follow TiKV's encryption metrics (tikv_encryption_is_initialized,
// tikv_encryption_data_key_storage_total, tikv_encryption_file_num,
// tikv_encryption_meta_file_size_bytes) under the namespace "atrest", so
// panels built for TiKV's Encryption row carry over by changing the prefix;
// WithNamespace("tikv") keeps even the prefix. The rest (rotations,
// re-encryption, master-key backend calls) are atrest's own, named in the
// same style.
//
// The collector keeps no state of its own: every scrape takes one
// dict.Manager.Stats snapshot, which costs the same whatever the number of
// files, and turns it into constant metrics. Counters count from the
// Manager's Open, so they restart from zero with the process, as
// Prometheus expects of counters.
//
// The metrics (namespace "atrest", subsystem "encryption"):
//
//	is_initialized                              gauge    1 once the directory has dictionaries
//	method_info{method}                         gauge    the configured data method, always 1
//	data_key_storage_total                      gauge    data keys in the key dictionary
//	exposed_data_keys                           gauge    data keys once stored under a plaintext master key
//	current_data_key_created_timestamp_seconds  gauge    creation of the current data key {key_id, method}
//	data_key_rotation_period_seconds            gauge    configured data-key rotation period
//	data_key_rotations_total                    counter  data-key rotations
//	file_num{method}                            gauge    files in the file dictionary per method
//	data_key_file_num{key_id, method}           gauge    encrypted files per data key
//	meta_file_size_bytes{name}                  gauge    key_dictionary and file_dictionary sizes (contents)
//	file_dictionary_log_records                 gauge    records in the file dictionary's log
//	file_dictionary_dead_log_records            gauge    log records the next compaction drops
//	master_key_info{backend, id}                gauge    the master key in use, always 1
//	master_key_rotations_total                  counter  online master-key rotations
//	master_key_last_rotation_timestamp_seconds  gauge    when the last one completed
//	master_key_backend_calls_total              counter  master-key backend calls (seal, unseal)
//	master_key_backend_errors_total             counter  failed ones
//	master_key_backend_seconds_total            counter  time spent in them
//	master_key_backend_last_call_seconds        gauge    duration of the last one
//	reencrypt_running                           gauge    1 while a re-encryption runs
//	reencrypt_selected_files, _done_files,
//	reencrypt_failed_files                      gauge    files of the running or last run
//	reencrypt_selected_bytes, _done_bytes       gauge    their bytes
//	reencrypt_start_timestamp_seconds           gauge    when that run started
//	reencrypt_remaining_seconds                 gauge    estimated time left
//
// NewBackendCollector adds the calls of every master-key backend the
// process opened, per backend type and key id (backend_calls_total,
// backend_errors_total by error class, backend_call_duration_seconds),
// which keyenv counts for every backend without code of its own; register
// it once per process.
package metrics

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
)

// DefaultNamespace is the prefix of every metric name unless WithNamespace
// says otherwise.
const DefaultNamespace = "atrest"

// subsystem is TiKV's: its metrics are tikv_encryption_*.
const subsystem = "encryption"

// UnknownMethod is the method label of files whose data key the key
// dictionary does not hold, so their method is not known without a walk
// over the file dictionary.
const UnknownMethod = "unknown"

// Option adjusts NewCollector.
type Option func(*options)

type options struct {
	namespace   string
	constLabels prometheus.Labels
}

// WithNamespace replaces the "atrest" prefix of the metric names, for
// instance with "tikv" to feed TiKV's own dashboards. An empty namespace
// leaves names starting with "encryption_".
func WithNamespace(ns string) Option {
	return func(o *options) { o.namespace = ns }
}

// WithConstLabels adds labels to every metric: a process with several
// Managers (one per store or data directory) registers one collector per
// Manager, each with its own labels, since their metric names are the
// same.
func WithConstLabels(l prometheus.Labels) Option {
	return func(o *options) { o.constLabels = l }
}

// Collector is a prometheus.Collector for one dict.Manager. It is safe for
// concurrent use, as the Manager is.
type Collector struct {
	m *dict.Manager

	initialized, methodInfo                      *prometheus.Desc
	dataKeys, exposedKeys, currentKeyCreated     *prometheus.Desc
	rotationPeriod, dataKeyRotations             *prometheus.Desc
	fileNum, keyFileNum                          *prometheus.Desc
	metaFileSize, logRecords, deadRecords        *prometheus.Desc
	masterKeyInfo, masterKeyRotations, lastMKRot *prometheus.Desc
	backendCalls, backendErrors                  *prometheus.Desc
	backendSeconds, backendLast                  *prometheus.Desc
	reencRunning, reencStart, reencRemaining     *prometheus.Desc
	reencSelFiles, reencDoneFiles, reencFailed   *prometheus.Desc
	reencSelBytes, reencDoneBytes                *prometheus.Desc
	staleDropped, tornBytes, lostEntries         *prometheus.Desc

	all []*prometheus.Desc
}

// NewCollector returns a collector of m's metrics; register it with a
// prometheus.Registerer. m must not be nil. Once m is closed the collector
// reports nothing: a Manager closing at shutdown does not fail the scrape
// that races it, and its metrics go stale rather than read zero.
func NewCollector(m *dict.Manager, opts ...Option) *Collector {
	o := options{namespace: DefaultNamespace}
	for _, f := range opts {
		f(&o)
	}
	c := &Collector{m: m}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		d := prometheus.NewDesc(prometheus.BuildFQName(o.namespace, subsystem, name), help, labels, o.constLabels)
		c.all = append(c.all, d)
		return d
	}

	c.initialized = desc("is_initialized",
		"1 if the data directory has encryption dictionaries (encryption was on at some start), 0 if it was never encrypted and every file is plaintext.")
	c.methodInfo = desc("method_info",
		"The configured data encryption method, the one new files get, in the method label; the value is always 1.",
		"method")
	c.dataKeys = desc("data_key_storage_total",
		"Number of data keys in the key dictionary (a gauge, named as TiKV names it). It grows by one at each data-key rotation and shrinks when the last file under an old key goes.")
	c.exposedKeys = desc("exposed_data_keys",
		"Number of data keys that were once stored under a plaintext master key, and so are known to anyone who read the disk then.")
	c.currentKeyCreated = desc("current_data_key_created_timestamp_seconds",
		"Creation time of the current data key as a Unix timestamp, labelled with its id and method; time() minus it is the key's age. Absent when no data key is current.",
		"key_id", "method")
	c.rotationPeriod = desc("data_key_rotation_period_seconds",
		"Configured age at which the current data key is replaced (data-key-rotation-period); 0 means never by age.")
	c.dataKeyRotations = desc("data_key_rotations_total",
		"Data-key rotations since the Manager was opened: by age, by a change of method or master key, or by request.")
	c.fileNum = desc("file_num",
		"Number of files in the file dictionary by method: every file created since encryption was first turned on, including files recorded as plaintext; files written before have no entry and are not counted. The method is \"unknown\" for files whose data key is missing.",
		"method")
	c.keyFileNum = desc("data_key_file_num",
		"Number of encrypted files per data key. The method is the key's, or \"unknown\" when the key dictionary lacks the key, so that its files cannot be read.",
		"key_id", "method")
	c.metaFileSize = desc("meta_file_size_bytes",
		"Size of the encryption metadata files' contents: key_dictionary (key.dict) and file_dictionary (file.dict, its snapshot and log; while open, up to 1 MiB of zeros follow the log on disk).",
		"name")
	c.logRecords = desc("file_dictionary_log_records",
		"Number of records in the file dictionary's log after its snapshot; always 0 for the whole-file format.")
	c.deadRecords = desc("file_dictionary_dead_log_records",
		"Number of file-dictionary log records the next compaction drops; the file is compacted once there are more than file-dictionary-rewrite-threshold.")
	c.masterKeyInfo = desc("master_key_info",
		"The master key in use: its backend type and its id (key file path, KMS key id and region, or keyring and key name); the value is always 1.",
		"backend", "id")
	c.masterKeyRotations = desc("master_key_rotations_total",
		"Online master-key rotations completed since the Manager was opened.")
	c.lastMKRot = desc("master_key_last_rotation_timestamp_seconds",
		"When the last online master-key rotation completed, as a Unix timestamp; 0 if none since the Manager was opened.")
	c.backendCalls = desc("master_key_backend_calls_total",
		"Calls to the master key's backend (sealing or unsealing the key dictionary) since the Manager was opened, whatever backend served them.")
	c.backendErrors = desc("master_key_backend_errors_total",
		"Failed calls to the master key's backend since the Manager was opened. A KMS that fails shows here before it stops a start.")
	c.backendSeconds = desc("master_key_backend_seconds_total",
		"Time spent in calls to the master key's backend since the Manager was opened; divided by the calls, the mean latency.")
	c.backendLast = desc("master_key_backend_last_call_seconds",
		"Duration of the last call to the master key's backend; 0 before the first.")
	c.reencRunning = desc("reencrypt_running",
		"1 while a re-encryption run is under way, 0 otherwise.")
	c.reencSelFiles = desc("reencrypt_selected_files",
		"Files selected for the running or last re-encryption run.")
	c.reencDoneFiles = desc("reencrypt_done_files",
		"Files re-encrypted so far by the running or last re-encryption run.")
	c.reencFailed = desc("reencrypt_failed_files",
		"Files the running or last re-encryption run could not re-encrypt.")
	c.reencSelBytes = desc("reencrypt_selected_bytes",
		"Size of the files selected for the running or last re-encryption run.")
	c.reencDoneBytes = desc("reencrypt_done_bytes",
		"Bytes re-encrypted so far by the running or last re-encryption run.")
	c.reencStart = desc("reencrypt_start_timestamp_seconds",
		"When the running or last re-encryption run started, as a Unix timestamp; 0 if none since the Manager was opened.")
	c.reencRemaining = desc("reencrypt_remaining_seconds",
		"Estimated time left of the running re-encryption at its rate so far; 0 when unknown or not running.")
	c.staleDropped = desc("recovery_stale_entries_dropped",
		"File-dictionary entries the Manager's open dropped because their files were gone: what a crash between a file's entry and the file itself leaves.")
	c.tornBytes = desc("recovery_torn_bytes",
		"Length of the torn last write the Manager's open dropped from the file dictionary's log: what a crash during a group commit leaves; 0 after a clean shutdown.")
	c.lostEntries = desc("recovery_lost_entries",
		"Files whose entries the dropped torn write held although they exist and hold data: damage in the file dictionary, which only an open that accepts it (WithLostEntries) reports here; such files read as noise.")
	return c
}

// Describe sends the descriptor of every metric the collector may report.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.all {
		ch <- d
	}
}

// Collect takes one snapshot of the Manager and sends its metrics. A closed
// Manager sends none; a dictionary file that cannot be stat'ed replaces
// the sizes with an invalid metric carrying the error.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s, err := c.m.Stats()
	if errors.Is(err, dict.ErrClosed) {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}

	gauge(c.initialized, boolValue(s.Initialized))
	gauge(c.methodInfo, 1, s.Method.String())
	gauge(c.dataKeys, float64(s.DataKeys))
	gauge(c.exposedKeys, float64(s.ExposedKeys))
	if k, ok := s.CurrentKey(); ok {
		gauge(c.currentKeyCreated, unixSeconds(k.Created), keyID(k.ID), k.Method.String())
	}
	gauge(c.rotationPeriod, s.DataKeyRotationPeriod.Seconds())
	counter(c.dataKeyRotations, float64(s.Rotation.DataKeyRotations))

	// Every method, used or not, so that a method's series does not
	// vanish with its last file and sums over methods stay continuous.
	for _, method := range ctr.Methods {
		gauge(c.fileNum, float64(s.FilesByMethod[method]), method.String())
	}
	if s.FilesWithoutKey > 0 {
		gauge(c.fileNum, float64(s.FilesWithoutKey), UnknownMethod)
	}
	methods := make(map[uint64]string, len(s.Keys))
	for _, k := range s.Keys {
		methods[k.ID] = k.Method.String()
	}
	for id, n := range s.FilesByKey {
		method, ok := methods[id]
		if !ok {
			method = UnknownMethod
		}
		gauge(c.keyFileNum, float64(n), keyID(id), method)
	}

	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.metaFileSize, err)
	} else {
		// TiKV's label values, so its panels' legends read the same.
		gauge(c.metaFileSize, float64(s.KeyDictionaryBytes), "key_dictionary")
		gauge(c.metaFileSize, float64(s.FileDictionaryBytes), "file_dictionary")
	}
	gauge(c.logRecords, float64(s.FileDictionary.LogRecords))
	gauge(c.deadRecords, float64(s.FileDictionary.DeadRecords))

	gauge(c.masterKeyInfo, 1, s.MasterKey.Kind.String(), s.MasterKey.ID)
	counter(c.masterKeyRotations, float64(s.Rotation.MasterKeyRotations))
	gauge(c.lastMKRot, unixSeconds(s.Rotation.LastMasterKeyRotation))
	counter(c.backendCalls, float64(s.MasterKey.Calls))
	counter(c.backendErrors, float64(s.MasterKey.Errors))
	counter(c.backendSeconds, s.MasterKey.Total.Seconds())
	gauge(c.backendLast, s.MasterKey.Last.Seconds())
	gauge(c.staleDropped, float64(s.Recovery.StaleEntriesDropped))
	gauge(c.tornBytes, float64(s.Recovery.TornBytes))
	gauge(c.lostEntries, float64(len(s.Recovery.LostEntries)))

	r := s.Reencrypt
	gauge(c.reencRunning, boolValue(r.Running))
	gauge(c.reencSelFiles, float64(r.FilesTotal))
	gauge(c.reencDoneFiles, float64(r.FilesDone))
	gauge(c.reencFailed, float64(r.Failed))
	gauge(c.reencSelBytes, float64(r.BytesTotal))
	gauge(c.reencDoneBytes, float64(r.BytesDone))
	gauge(c.reencStart, unixSeconds(r.Started))
	remaining := r.Remaining
	if !r.Running {
		remaining = 0
	}
	gauge(c.reencRemaining, remaining.Seconds())
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unixSeconds is t as a Unix timestamp with its fraction; the zero time
// (never) is 0, not a date in year 1.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixNano()) / 1e9
}

// keyID formats a data-key id as the label value: decimal, as dict's
// errors print it.
func keyID(id uint64) string { return strconv.FormatUint(id, 10) }
