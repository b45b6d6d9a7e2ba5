package metrics_test

import (
	"context"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atrest/atrest/dict"
	"github.com/atrest/atrest/dict/metrics"
	"github.com/atrest/atrest/keyenv"
)

// Serve a store's encryption metrics on /metrics. The store label tells
// this Manager's series from those of other data directories the process
// may register.
func ExampleNewCollector() {
	cfg, err := keyenv.LoadConfig("/etc/store/encryption.toml")
	if err != nil {
		log.Fatal(err)
	}
	m, err := dict.Open(context.Background(), "/var/lib/store/kv", cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewCollector(m, metrics.WithConstLabels(prometheus.Labels{"store": "kv"})))
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.ListenAndServe("localhost:9100", nil))
}

// Serve the per-backend master-key metrics once for the whole process,
// beside each Manager's collector: a KMS key that slows down or refuses
// shows under its own id, with its errors by class.
func ExampleNewBackendCollector() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewBackendCollector())
	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.ListenAndServe("localhost:9100", nil))
}
