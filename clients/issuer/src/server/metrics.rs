//! Prometheus metrics (`GET /metrics`, prometheus-client's text format):
//!
//! - `tessera_issuer_requests_total{route, method, status}`
//! - `tessera_issuer_request_duration_seconds{route}` (histogram)
//! - `tessera_issuer_verifications_total{kind, outcome}`: kind `code`,
//!   `challenge` or `signature`; outcome accepted, code_rejected,
//!   code_replayed, locked, and the other error codes.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::error::Result;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    kind: &'static str,
    outcome: String,
}

type Buckets = fn() -> Histogram;

pub(crate) struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, Buckets>,
    verifications: Family<OutcomeLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        // 50 µs to about 1.6 s.
        let durations = Family::<RouteLabels, Histogram, Buckets>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
        });
        let verifications = Family::<OutcomeLabels, Counter>::default();
        let mut registry = Registry::with_prefix("tessera_issuer");
        registry.register("requests", "HTTP requests answered", requests.clone());
        registry.register(
            "request_duration_seconds",
            "Time from request to response",
            durations.clone(),
        );
        registry.register(
            "verifications",
            "Verifications of codes, challenge responses and signatures by outcome",
            verifications.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            verifications,
        }
    }
}

impl Metrics {
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        self.durations
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts a verification of `kind` (code, challenge, signature) by
    /// its outcome, and hands the result on.
    pub fn verification<T>(&self, kind: &'static str, result: Result<T>) -> Result<T> {
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(e) => e.code(),
        };
        self.verifications
            .get_or_create(&OutcomeLabels {
                kind,
                outcome: outcome.to_owned(),
            })
            .inc();
        result
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
