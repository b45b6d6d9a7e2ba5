package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrest/atrest/keyenv"
)

// BackendCollector is a prometheus.Collector of the master-key backends'
// calls, per backend: every master key this process opened (file,
// keyring, AWS KMS and any other backend built on keyenv.NewEnvelope),
// labelled with its type and id, counted by keyenv itself
// (keyenv.CallStats). A Manager's Collector counts the calls of the
// Manager's master key, whatever backend it is; this one tells them
// apart, so a slow or failing KMS key shows by itself next to a key file.
// The statistics are the process's, so register one BackendCollector per
// process, not one per Manager.
//
// The metrics (namespace "atrest", subsystem "encryption"):
//
//	backend_calls_total{backend, id, op}              counter    seal and unseal calls
//	backend_errors_total{backend, id, op, class}      counter    failed ones by error class (keyenv.ErrorClasses)
//	backend_call_duration_seconds{backend, id, op}    histogram  their latency (keyenv.CallLatencyBuckets)
type BackendCollector struct {
	calls, errors, duration *prometheus.Desc
}

// NewBackendCollector returns the collector of the master-key backends'
// calls; WithNamespace and WithConstLabels apply as for NewCollector.
func NewBackendCollector(opts ...Option) *BackendCollector {
	o := options{namespace: DefaultNamespace}
	for _, f := range opts {
		f(&o)
	}
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(o.namespace, subsystem, name), help, labels, o.constLabels)
	}
	return &BackendCollector{
		calls: desc("backend_calls_total",
			"Seal and unseal calls to a master-key backend since the process started, by backend type, key id (key file path, KMS key id and region, ...) and operation.",
			"backend", "id", "op"),
		errors: desc("backend_errors_total",
			"Failed seal and unseal calls to a master-key backend since the process started, by the class of error: unreachable, key_not_found, key_disabled, access_denied, wrong_master_key, wrong_label, corrupt_blob or other.",
			"backend", "id", "op", "class"),
		duration: desc("backend_call_duration_seconds",
			"Latency of seal and unseal calls to a master-key backend, retries included.",
			"backend", "id", "op"),
	}
}

// Describe sends the three descriptors.
func (c *BackendCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.calls
	ch <- c.errors
	ch <- c.duration
}

// Collect sends every opened master key's counts. Every error class is
// sent, zero or not, so a class's series exists before its first error.
func (c *BackendCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range keyenv.CallStats() {
		for _, op := range []struct {
			name string
			s    keyenv.OpStats
		}{{"seal", b.Seal}, {"unseal", b.Unseal}} {
			labels := []string{b.Kind.String(), b.ID, op.name}
			ch <- prometheus.MustNewConstMetric(c.calls, prometheus.CounterValue, float64(op.s.Calls), labels...)
			for _, class := range keyenv.ErrorClasses {
				ch <- prometheus.MustNewConstMetric(c.errors, prometheus.CounterValue, float64(op.s.Errors[class]), append(labels, string(class))...)
			}
			buckets := make(map[float64]uint64, len(keyenv.CallLatencyBuckets))
			for i, bound := range keyenv.CallLatencyBuckets {
				buckets[bound.Seconds()] = op.s.Buckets[i]
			}
			ch <- prometheus.MustNewConstHistogram(c.duration, op.s.Calls, op.s.Total.Seconds(), buckets, labels...)
		}
	}
}
