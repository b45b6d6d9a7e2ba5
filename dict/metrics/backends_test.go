package metrics_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/atrest/atrest/ctr"
	"github.com/atrest/atrest/dict/metrics"
	"github.com/atrest/atrest/keyenv"
)

// histogram returns the histogram of family name labelled exactly labels.
func histogram(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Histogram {
	t.Helper()
	mf, ok := fams[name]
	if !ok || mf.GetType() != dto.MetricType_HISTOGRAM {
		t.Fatalf("no histogram family %s", name)
	}
	for _, m := range mf.GetMetric() {
		got := []string{}
		for _, l := range m.GetLabel() {
			got = append(got, l.GetName(), l.GetValue())
		}
		if strings.Join(got, "\x00") == strings.Join(labels, "\x00") {
			return m.GetHistogram()
		}
	}
	t.Fatalf("%s has no sample labelled %v", name, labels)
	return nil
}

// The per-backend metrics move with a Manager's calls to its master key
// and with a failing backend's errors, each under its own type and id,
// beside the Manager's own collector on one registry.
func TestBackendCollector(t *testing.T) {
	e := newEnv(t)
	m := e.open(ctr.AES128CTR) // seals the new key dictionary
	file := "file:" + e.key
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("3c", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong, err := keyenv.OpenKeyFile(other)
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()

	calls := func(fams map[string]*dto.MetricFamily) (backend, manager float64) {
		for _, op := range []string{"seal", "unseal"} {
			backend += value(t, fams, "atrest_encryption_backend_calls_total", counter, "backend", "file", "id", file, "op", op)
		}
		return backend, value(t, fams, "atrest_encryption_master_key_backend_calls_total", counter)
	}
	before, err := scrape(t, metrics.NewCollector(m), metrics.NewBackendCollector())
	if err != nil {
		t.Fatal(err)
	}
	b0, m0 := calls(before)
	if value(t, before, "atrest_encryption_backend_calls_total", counter, "backend", "file", "id", file, "op", "seal") < 1 {
		t.Fatal("no seal counted for the Manager's key, which sealed its dictionary")
	}
	if err := m.RotateDataKey(context.Background()); err != nil { // seals again
		t.Fatal(err)
	}
	mid, err := scrape(t, metrics.NewCollector(m), metrics.NewBackendCollector())
	if err != nil {
		t.Fatal(err)
	}
	b1, m1 := calls(mid)
	if b1-b0 != m1-m0 || b1 == b0 {
		t.Errorf("the backend's calls moved by %v, the Manager's by %v: want the same, not zero", b1-b0, m1-m0)
	}
	seals := value(t, mid, "atrest_encryption_backend_calls_total", counter, "backend", "file", "id", file, "op", "seal")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	// A blob of the Manager's key given to another key: a wrong-key error.
	key, _ := keyenv.OpenKeyFile(e.key)
	defer key.Close()
	sealed, err := key.Seal(context.Background(), "key-dictionary", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Unseal(context.Background(), "key-dictionary", sealed); err == nil {
		t.Fatal("another key opened the blob")
	}

	after, err := scrape(t, metrics.NewBackendCollector())
	if err != nil {
		t.Fatal(err)
	}
	if got := value(t, after, "atrest_encryption_backend_calls_total", counter, "backend", "file", "id", file, "op", "seal"); got != seals+1 {
		t.Errorf("seal calls %v → %v, want one more", seals, got)
	}
	wrongID := "file:" + other
	if got := value(t, after, "atrest_encryption_backend_errors_total", counter, "backend", "file", "class", "wrong_master_key", "id", wrongID, "op", "unseal"); got != 1 {
		t.Errorf("wrong_master_key errors of the other key: %v, want 1", got)
	}
	if got := value(t, after, "atrest_encryption_backend_errors_total", counter, "backend", "file", "class", "unreachable", "id", wrongID, "op", "unseal"); got != 0 {
		t.Errorf("unreachable errors of the other key: %v, want 0", got)
	}
	h := histogram(t, after, "atrest_encryption_backend_call_duration_seconds", "backend", "file", "id", wrongID, "op", "unseal")
	if h.GetSampleCount() != 1 || h.GetSampleSum() <= 0 {
		t.Errorf("unseal latency histogram %v", h)
	}
	for _, b := range h.GetBucket() {
		if b.GetUpperBound() == keyenv.CallLatencyBuckets[len(keyenv.CallLatencyBuckets)-1].Seconds() && b.GetCumulativeCount() != 1 {
			t.Errorf("the %vs bucket counts %d calls, want 1", b.GetUpperBound(), b.GetCumulativeCount())
		}
	}
}

func TestBackendCollectorLint(t *testing.T) {
	e := newEnv(t)
	e.open(ctr.AES128CTR).Close()
	fams, err := scrape(t, metrics.NewBackendCollector())
	if err != nil {
		t.Fatal(err)
	}
	var list []*dto.MetricFamily
	for _, f := range fams {
		list = append(list, f)
	}
	problems, err := promlint.NewWithMetricFamilies(list).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}
