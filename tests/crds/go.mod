// The third-party CustomResourceDefinitions that seal's generated manifests are checked
// against on the real API server (tests/tests/e2e/generators_real.rs): the Gateway API's
// standard channel (config/crd/standard/) and cert-manager's (deploy/crds/); and the
// Prometheus Operator's ServiceMonitor and PrometheusRule (example/prometheus-operator-crd/)
// that the chart and deploy/monitoring/ install (tests/tests/e2e/chart_real.rs). Nothing is
// built from these modules; the test runs `go mod download -json` here, which verifies
// each module against go.sum, and reads the YAML files from the module cache.
module seal.dev/crds

go 1.26.0

require (
	github.com/cert-manager/cert-manager v1.21.2
	github.com/prometheus-operator/prometheus-operator v0.85.0
	sigs.k8s.io/gateway-api v1.6.3
)
