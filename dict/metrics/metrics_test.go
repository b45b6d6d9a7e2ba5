package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/dict/metrics"
	"github.com/atrest/atrest/keyenv"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

// env is a data directory and a master key file beside it.
type env struct {
	t   *testing.T
	dir string
	key string
}

func newEnv(t *testing.T) *env {
	root := t.TempDir()
	e := &env{t: t, dir: filepath.Join(root, "data"), key: filepath.Join(root, "master.key")}
	if err := os.Mkdir(e.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.key, []byte(strings.Repeat("a7", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) config(method ctr.Method) keyenv.Config {
	c := keyenv.DefaultConfig()
	c.DataEncryptionMethod = method
	c.MasterKey = keyenv.MasterKeyConfig{Type: keyenv.KindFile, Path: e.key}
	return c
}

func (e *env) open(method ctr.Method) *dict.Manager {
	e.t.Helper()
	m, err := dict.Open(context.Background(), e.dir, e.config(method), dict.WithClock(func() time.Time { return testNow }))
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

func create(t *testing.T, m *dict.Manager, names ...string) {
	t.Helper()
	for _, name := range names {
		f, err := m.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(name)); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// scrape registers c on a pedantic registry (which checks every metric
// against Describe), gathers, writes the text exposition format and parses
// it back, as a Prometheus server would read it.
func scrape(t *testing.T, cs ...prometheus.Collector) (map[string]*dto.MetricFamily, error) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	fams, gatherErr := reg.Gather()
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.FmtText)
	for _, mf := range fams {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	var p expfmt.TextParser
	parsed, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("parsing the exposition: %v\n%s", err, buf.String())
	}
	return parsed, gatherErr
}

// value returns the value of the sample of family name whose labels are
// exactly labels (name, value pairs), checking the family's type.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels ...string) float64 {
	t.Helper()
	mf, ok := fams[name]
	if !ok {
		t.Fatalf("no metric family %s", name)
	}
	if mf.GetType() != typ {
		t.Fatalf("%s is a %v, want a %v", name, mf.GetType(), typ)
	}
	if mf.GetHelp() == "" {
		t.Errorf("%s has no help", name)
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, m := range mf.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			continue
		}
		switch typ {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		default:
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("%s has no sample labelled %v; it has %v", name, want, mf.GetMetric())
	return 0
}

const (
	gauge   = dto.MetricType_GAUGE
	counter = dto.MetricType_COUNTER
)

// allFamilies is every family the collector describes, by its name under
// the default namespace.
var allFamilies = []string{
	"atrest_encryption_is_initialized",
	"atrest_encryption_method_info",
	"atrest_encryption_data_key_storage_total",
	"atrest_encryption_exposed_data_keys",
	"atrest_encryption_current_data_key_created_timestamp_seconds",
	"atrest_encryption_data_key_rotation_period_seconds",
	"atrest_encryption_data_key_rotations_total",
	"atrest_encryption_file_num",
	"atrest_encryption_data_key_file_num",
	"atrest_encryption_meta_file_size_bytes",
	"atrest_encryption_file_dictionary_log_records",
	"atrest_encryption_file_dictionary_dead_log_records",
	"atrest_encryption_master_key_info",
	"atrest_encryption_master_key_rotations_total",
	"atrest_encryption_master_key_last_rotation_timestamp_seconds",
	"atrest_encryption_master_key_backend_calls_total",
	"atrest_encryption_master_key_backend_errors_total",
	"atrest_encryption_master_key_backend_seconds_total",
	"atrest_encryption_master_key_backend_last_call_seconds",
	"atrest_encryption_reencrypt_running",
	"atrest_encryption_reencrypt_selected_files",
	"atrest_encryption_reencrypt_done_files",
	"atrest_encryption_reencrypt_failed_files",
	"atrest_encryption_reencrypt_selected_bytes",
	"atrest_encryption_reencrypt_done_bytes",
	"atrest_encryption_reencrypt_start_timestamp_seconds",
	"atrest_encryption_reencrypt_remaining_seconds",
	"atrest_encryption_recovery_stale_entries_dropped",
	"atrest_encryption_recovery_torn_bytes",
	"atrest_encryption_recovery_lost_entries",
}

func TestDescribe(t *testing.T) {
	e := newEnv(t)
	m := e.open(ctr.AES128CTR)
	defer m.Close()
	ch := make(chan *prometheus.Desc, 100)
	metrics.NewCollector(m).Describe(ch)
	close(ch)
	var names []string
	for d := range ch {
		s := d.String()
		i := strings.Index(s, `fqName: "`) + len(`fqName: "`)
		names = append(names, s[i:i+strings.IndexByte(s[i:], '"')])
	}
	slices.Sort(names)
	want := slices.Sorted(slices.Values(allFamilies))
	if !slices.Equal(names, want) {
		t.Errorf("Describe sends\n%v\nwant\n%v", names, want)
	}
}

func TestCollectKnownState(t *testing.T) {
	e := newEnv(t)
	m := e.open(ctr.AES128CTR)
	create(t, m, "aes-0.sst", "aes-1.sst", "aes-2.sst")
	_, aesKey := m.DataKeys()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// The change of method rotates the data key at open.
	m = e.open(ctr.SM4CTR)
	defer m.Close()
	create(t, m, "sm4-0.sst", "sm4-1.sst")
	_, sm4Key := m.DataKeys()
	if err := m.RotateDataKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	create(t, m, "sm4-2.sst")
	_, curKey := m.DataKeys()

	fams, err := scrape(t, metrics.NewCollector(m))
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range allFamilies {
		if _, ok := fams[name]; !ok {
			t.Errorf("no family %s", name)
		}
	}
	if len(fams) != len(allFamilies) {
		t.Errorf("%d families, want %d", len(fams), len(allFamilies))
	}

	id := func(k uint64) string { return fmt.Sprint(k) }
	stat := func(name string) float64 {
		st, err := os.Stat(filepath.Join(e.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return float64(st.Size())
	}
	checks := []struct {
		name   string
		typ    dto.MetricType
		labels []string
		want   float64
	}{
		{"atrest_encryption_is_initialized", gauge, nil, 1},
		{"atrest_encryption_method_info", gauge, []string{"method", "sm4-ctr"}, 1},
		{"atrest_encryption_data_key_storage_total", gauge, nil, 3},
		{"atrest_encryption_exposed_data_keys", gauge, nil, 0},
		{"atrest_encryption_current_data_key_created_timestamp_seconds", gauge, []string{"key_id", id(curKey), "method", "sm4-ctr"}, float64(testNow.Unix())},
		{"atrest_encryption_data_key_rotation_period_seconds", gauge, nil, e.config(ctr.SM4CTR).DataKeyRotationPeriod.Seconds()},
		{"atrest_encryption_data_key_rotations_total", counter, nil, 2},
		{"atrest_encryption_file_num", gauge, []string{"method", "aes128-ctr"}, 3},
		{"atrest_encryption_file_num", gauge, []string{"method", "sm4-ctr"}, 3},
		{"atrest_encryption_file_num", gauge, []string{"method", "plaintext"}, 0},
		{"atrest_encryption_file_num", gauge, []string{"method", "aes192-ctr"}, 0},
		{"atrest_encryption_file_num", gauge, []string{"method", "aes256-ctr"}, 0},
		{"atrest_encryption_data_key_file_num", gauge, []string{"key_id", id(aesKey), "method", "aes128-ctr"}, 3},
		{"atrest_encryption_data_key_file_num", gauge, []string{"key_id", id(sm4Key), "method", "sm4-ctr"}, 2},
		{"atrest_encryption_data_key_file_num", gauge, []string{"key_id", id(curKey), "method", "sm4-ctr"}, 1},
		{"atrest_encryption_meta_file_size_bytes", gauge, []string{"name", "key_dictionary"}, stat(dict.KeyDictName)},
		// The file dictionary's contents: while open, zeros follow its log.
		{"atrest_encryption_meta_file_size_bytes", gauge, []string{"name", "file_dictionary"}, float64(s.FileDictionary.FileSize)},
		{"atrest_encryption_file_dictionary_log_records", gauge, nil, float64(s.FileDictionary.LogRecords)},
		{"atrest_encryption_file_dictionary_dead_log_records", gauge, nil, float64(s.FileDictionary.DeadRecords)},
		{"atrest_encryption_master_key_info", gauge, []string{"backend", "file", "id", s.MasterKey.ID}, 1},
		{"atrest_encryption_master_key_rotations_total", counter, nil, 0},
		{"atrest_encryption_master_key_last_rotation_timestamp_seconds", gauge, nil, 0},
		// This Manager unsealed the key dictionary at open and sealed
		// it at each of the two rotations.
		{"atrest_encryption_master_key_backend_calls_total", counter, nil, 3},
		{"atrest_encryption_master_key_backend_errors_total", counter, nil, 0},
		{"atrest_encryption_master_key_backend_seconds_total", counter, nil, s.MasterKey.Total.Seconds()},
		{"atrest_encryption_master_key_backend_last_call_seconds", gauge, nil, s.MasterKey.Last.Seconds()},
		{"atrest_encryption_reencrypt_running", gauge, nil, 0},
		{"atrest_encryption_reencrypt_selected_files", gauge, nil, 0},
		{"atrest_encryption_reencrypt_done_files", gauge, nil, 0},
		{"atrest_encryption_reencrypt_failed_files", gauge, nil, 0},
		{"atrest_encryption_reencrypt_selected_bytes", gauge, nil, 0},
		{"atrest_encryption_reencrypt_done_bytes", gauge, nil, 0},
		{"atrest_encryption_reencrypt_start_timestamp_seconds", gauge, nil, 0},
		{"atrest_encryption_reencrypt_remaining_seconds", gauge, nil, 0},
		{"atrest_encryption_recovery_stale_entries_dropped", gauge, nil, 0},
		{"atrest_encryption_recovery_torn_bytes", gauge, nil, 0},
		{"atrest_encryption_recovery_lost_entries", gauge, nil, 0},
	}
	if onDisk := stat(dict.FileDictName); onDisk < float64(s.FileDictionary.FileSize) {
		t.Errorf("file dictionary of %v bytes holds %d bytes of contents", onDisk, s.FileDictionary.FileSize)
	}
	for _, c := range checks {
		if got := value(t, fams, c.name, c.typ, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if s.FileDictionary.LogRecords == 0 || s.MasterKey.Total <= 0 {
		t.Errorf("the log and backend time should be non-zero here: %+v", s)
	}
	if n := len(fams["atrest_encryption_file_num"].GetMetric()); n != len(ctr.Methods) {
		t.Errorf("file_num has %d samples, want one per method (%d)", n, len(ctr.Methods))
	}
	if n := len(fams["atrest_encryption_data_key_file_num"].GetMetric()); n != 3 {
		t.Errorf("data_key_file_num has %d samples, want 3", n)
	}
}

func TestCollectNeverEncrypted(t *testing.T) {
	e := newEnv(t)
	m := e.open(ctr.Plaintext)
	defer m.Close()
	create(t, m, "plain.sst")
	fams, err := scrape(t, metrics.NewCollector(m))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"atrest_encryption_is_initialized", nil, 0},
		{"atrest_encryption_method_info", []string{"method", "plaintext"}, 1},
		{"atrest_encryption_data_key_storage_total", nil, 0},
		{"atrest_encryption_file_num", []string{"method", "plaintext"}, 0},
		{"atrest_encryption_meta_file_size_bytes", []string{"name", "key_dictionary"}, 0},
		{"atrest_encryption_meta_file_size_bytes", []string{"name", "file_dictionary"}, 0},
	} {
		if got := value(t, fams, c.name, gauge, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if got := value(t, fams, "atrest_encryption_master_key_backend_calls_total", counter); got != 0 {
		t.Errorf("backend calls = %v, want 0", got)
	}
	for _, absent := range []string{"atrest_encryption_current_data_key_created_timestamp_seconds", "atrest_encryption_data_key_file_num"} {
		if _, ok := fams[absent]; ok {
			t.Errorf("%s reported without data keys", absent)
		}
	}
}

func TestCollectClosed(t *testing.T) {
	e := newEnv(t)
	m := e.open(ctr.AES128CTR)
	c := metrics.NewCollector(m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	fams, err := scrape(t, c)
	if err != nil || len(fams) != 0 {
		t.Errorf("a closed Manager gives %d families, error %v; want none and no error", len(fams), err)
	}
}

func TestCollectMissingDictionary(t *testing.T) {
	e := newEnv(t)
	m := e.open(ctr.AES128CTR)
	defer m.Close()
	create(t, m, "a.sst")
	if err := os.Remove(filepath.Join(e.dir, dict.KeyDictName)); err != nil {
		t.Fatal(err)
	}
	fams, err := scrape(t, metrics.NewCollector(m))
	if err == nil || !strings.Contains(err.Error(), dict.KeyDictName) {
		t.Fatalf("gathering without key.dict: %v, want an error naming it", err)
	}
	if _, ok := fams["atrest_encryption_meta_file_size_bytes"]; ok {
		t.Error("sizes reported although one could not be read")
	}
	if got := value(t, fams, "atrest_encryption_file_num", gauge, "method", "aes128-ctr"); got != 1 {
		t.Errorf("file_num = %v, want the other metrics still there", got)
	}
}

func TestNamespaceAndConstLabels(t *testing.T) {
	e1, e2 := newEnv(t), newEnv(t)
	m1, m2 := e1.open(ctr.AES128CTR), e2.open(ctr.AES256CTR)
	defer m1.Close()
	defer m2.Close()
	create(t, m2, "x.sst")
	// Two Managers in one registry, told apart by a constant label.
	fams, err := scrape(t,
		metrics.NewCollector(m1, metrics.WithNamespace("tikv"), metrics.WithConstLabels(prometheus.Labels{"store": "raft"})),
		metrics.NewCollector(m2, metrics.WithNamespace("tikv"), metrics.WithConstLabels(prometheus.Labels{"store": "kv"})))
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, fams, "tikv_encryption_file_num", gauge, "method", "aes256-ctr", "store", "kv"); got != 1 {
		t.Errorf("kv store's aes256 files = %v, want 1", got)
	}
	if got := value(t, fams, "tikv_encryption_file_num", gauge, "method", "aes256-ctr", "store", "raft"); got != 0 {
		t.Errorf("raft store's aes256 files = %v, want 0", got)
	}
	if got := value(t, fams, "tikv_encryption_is_initialized", gauge, "store", "raft"); got != 1 {
		t.Errorf("is_initialized = %v", got)
	}
	for name := range fams {
		if !strings.HasPrefix(name, "tikv_encryption_") {
			t.Errorf("family %s outside the namespace", name)
		}
	}
}

func TestLint(t *testing.T) {
	e := newEnv(t)
	m := e.open(ctr.SM4CTR)
	defer m.Close()
	create(t, m, "a.sst")
	// promlint is what testutil.CollectAndLint runs; calling it on a
	// pedantic registry's output directly keeps testutil's own
	// dependencies out of go.mod.
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(metrics.NewCollector(m))
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	if len(fams) != len(allFamilies) {
		t.Errorf("linted %d families, want all %d", len(fams), len(allFamilies))
	}
	for _, p := range problems {
		// TiKV's name, kept so its dashboards' queries carry over.
		if p.Metric == "atrest_encryption_data_key_storage_total" && p.Text == `non-counter metrics should not have "_total" suffix` {
			continue
		}
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestCollectRecovery: what an open found a crash had left shows in the
// recovery metrics: a stale entry dropped, and a damaged last record whose
// file holds data (opened WithLostEntries).
func TestCollectRecovery(t *testing.T) {
	e := newEnv(t)
	m := e.open(ctr.SM4CTR)
	create(t, m, "stale", "victim")
	m.Close()
	if err := os.Remove(filepath.Join(e.dir, "stale")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.dir, dict.FileDictName)
	data, _ := os.ReadFile(path)
	data[len(data)-1] ^= 1 // the last record: victim's entry
	os.WriteFile(path, data, 0o600)

	m, err := dict.Open(context.Background(), e.dir, e.config(ctr.SM4CTR), dict.WithLostEntries())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	fams, err := scrape(t, metrics.NewCollector(m))
	if err != nil {
		t.Fatal(err)
	}
	gauge := dto.MetricType_GAUGE
	if v := value(t, fams, "atrest_encryption_recovery_stale_entries_dropped", gauge); v != 1 {
		t.Errorf("stale entries dropped %v, want 1", v)
	}
	if v := value(t, fams, "atrest_encryption_recovery_lost_entries", gauge); v != 1 {
		t.Errorf("lost entries %v, want 1", v)
	}
	if v := value(t, fams, "atrest_encryption_recovery_torn_bytes", gauge); v <= 0 {
		t.Errorf("torn bytes %v, want the damaged record's", v)
	}
}
