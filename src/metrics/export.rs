//! [`Collector`]: the engine's counters for a `prometheus-client` registry (feature
//! `metrics`), built from a fresh [`MetricsSnapshot`] at every scrape — never a metric family
//! incremented per request. The names, types and labels are design §9's contract.

use std::fmt;
use std::sync::Arc;

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

use super::{Disagreements, MetricsSnapshot, ReloadResult};
use crate::verdict::DecisionKind;

/// Anything that can give a [`MetricsSnapshot`]: [`crate::Cors`].
pub trait MetricsSource: Send + Sync + 'static {
    /// The counters now.
    fn metrics(&self) -> MetricsSnapshot;
}

/// A `prometheus_client` collector of a [`crate::Cors`]'s counters, and optionally of shadow
/// and report-only [`Disagreements`]. It exposes (OpenMetrics text adds `_total` to counter
/// names, which the names below include):
///
/// | metric | type | labels |
/// |---|---|---|
/// | `corsgate_decisions_total` | counter | `policy`, `kind` (`actual`, `preflight`, `none`), `outcome` (`allowed`, `denied`) |
/// | `corsgate_denials_total` | counter | `policy`, `reason` ([`crate::DenyReason::kind`]) |
/// | `corsgate_verdict_cache_lookups_total` | counter | `result` (`hit`, `miss`) |
/// | `corsgate_reloads_total` | counter | `outcome` (`ok`, `invalid`, `error`, `timeout`) |
/// | `corsgate_policy_generation` | gauge | — |
/// | `corsgate_last_reload_success_timestamp_seconds` | gauge | — |
/// | `corsgate_shadow_disagreements_total` | counter | `policy`, `difference` |
/// | `corsgate_report_only_disagreements_total` | counter | `policy`, `difference` |
///
/// Per-policy series appear only for policies that decided a request, and only for counts
/// above zero; the disagreement families only when their [`Disagreements`] were given.
///
/// # Example
/// ```
/// use std::sync::Arc;
/// use corsgate::{Cors, CorsRequest, Policy};
/// use corsgate::metrics::Collector;
/// use prometheus_client::{encoding::text::encode, registry::Registry};
///
/// let cors = Arc::new(Cors::new(Policy::new(["https://app.example.com"])?));
/// let _ = cors.decide(&CorsRequest::new(b"GET").origin(b"https://evil.example"));
///
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(Collector::new(Arc::clone(&cors))));
/// let mut text = String::new();
/// encode(&mut text, &registry).unwrap();
/// assert!(text.contains(
///     r#"corsgate_decisions_total{policy="default",kind="actual",outcome="denied"} 1"#
/// ));
/// assert!(text.contains(
///     r#"corsgate_denials_total{policy="default",reason="origin_not_allowed"} 1"#
/// ));
/// assert!(text.contains("corsgate_policy_generation 1"));
/// # Ok::<(), corsgate::PolicyError>(())
/// ```
#[derive(Clone)]
pub struct Collector {
    source: Arc<dyn MetricsSource>,
    shadow: Option<Arc<Disagreements>>,
    report_only: Option<Arc<Disagreements>>,
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector")
            .field("shadow", &self.shadow.is_some())
            .field("report_only", &self.report_only.is_some())
            .finish()
    }
}

impl Collector {
    /// Collects `cors`'s counters.
    pub fn new<S: MetricsSource>(cors: Arc<S>) -> Collector {
        Collector {
            source: cors,
            shadow: None,
            report_only: None,
        }
    }

    /// Also exports `corsgate_shadow_disagreements_total` from `disagreements`.
    pub fn with_shadow(mut self, disagreements: Arc<Disagreements>) -> Collector {
        self.shadow = Some(disagreements);
        self
    }

    /// Also exports `corsgate_report_only_disagreements_total` from `disagreements`.
    pub fn with_report_only(mut self, disagreements: Arc<Disagreements>) -> Collector {
        self.report_only = Some(disagreements);
        self
    }
}

fn outcome(allowed: bool) -> &'static str {
    if allowed {
        "allowed"
    } else {
        "denied"
    }
}

fn disagreements(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    disagreements: &Disagreements,
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (policy, difference, n) in disagreements.snapshot() {
        let labels = [
            ("policy", policy.as_str()),
            ("difference", difference.as_str()),
        ];
        ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl prometheus_client::collector::Collector for Collector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> fmt::Result {
        let snapshot = self.source.metrics();

        let mut family = encoder.encode_descriptor(
            "corsgate_decisions",
            "CORS decisions by policy, kind and outcome.",
            None,
            MetricType::Counter,
        )?;
        for policy in snapshot.policies() {
            for (kind, allowed, n) in policy.decision_counts() {
                let labels = [
                    ("policy", policy.name()),
                    ("kind", DecisionKind::as_str(kind)),
                    ("outcome", outcome(allowed)),
                ];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "corsgate_denials",
            "Denied CORS requests by policy and reason.",
            None,
            MetricType::Counter,
        )?;
        for policy in snapshot.policies() {
            for (reason, n) in policy.denial_counts() {
                let labels = [("policy", policy.name()), ("reason", reason)];
                ConstCounter::new(n).encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "corsgate_verdict_cache_lookups",
            "Preflight verdict-cache lookups by result.",
            None,
            MetricType::Counter,
        )?;
        for (result, n) in [
            ("hit", snapshot.cache_hits()),
            ("miss", snapshot.cache_misses()),
        ] {
            ConstCounter::new(n).encode(family.encode_family(&[("result", result)])?)?;
        }

        let mut family = encoder.encode_descriptor(
            "corsgate_reloads",
            "Policy reload attempts by outcome.",
            None,
            MetricType::Counter,
        )?;
        for result in ReloadResult::ALL {
            let labels = [("outcome", result.as_str())];
            ConstCounter::new(snapshot.reloads(result)).encode(family.encode_family(&labels)?)?;
        }

        let generation = ConstGauge::new(snapshot.generation() as i64);
        generation.encode(encoder.encode_descriptor(
            "corsgate_policy_generation",
            "The serving policy generation's number.",
            None,
            MetricType::Gauge,
        )?)?;
        let last = ConstGauge::new(snapshot.last_reload_success_seconds());
        last.encode(encoder.encode_descriptor(
            "corsgate_last_reload_success_timestamp_seconds",
            "When the last successful reload (or the first load) happened, in Unix seconds.",
            None,
            MetricType::Gauge,
        )?)?;

        if let Some(shadow) = &self.shadow {
            disagreements(
                &mut encoder,
                "corsgate_shadow_disagreements",
                "Requests the shadow policy would have decided differently, by how.",
                shadow,
            )?;
        }
        if let Some(report_only) = &self.report_only {
            disagreements(
                &mut encoder,
                "corsgate_report_only_disagreements",
                "Responses whose upstream CORS headers differ from corsgate's decision, by how.",
                report_only,
            )?;
        }
        Ok(())
    }
}
