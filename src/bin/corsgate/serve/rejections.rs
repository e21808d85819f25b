//! The rejection log: one structured event per denied CORS request, target
//! `corsgate::rejection`, at most `--rejection-log-rate` a second (default 10; the rest are
//! counted and their number logged once a second). Fields: `policy`, `route` (`-` without
//! routes), `kind` (`actual`, `preflight`), `reason` (the deny reason's kind, as in
//! `corsgate_denials_total`), `origin` (escaped and cut at 256 bytes, as in the access log: an
//! attacker writes it) and `enforced` (`false` under `--report-only`, where the denial is only
//! what corsgate would have done).

use corsgate::{CorsRequest, Decision, DecisionKind};

use super::access_log::Escaped;
use super::log_rate::LogRate;

/// Longest Origin written.
const MAX_ORIGIN: usize = 256;

pub struct Rejections {
    rate: LogRate,
    enforced: bool,
}

impl Rejections {
    pub fn new(per_second: u32, enforced: bool) -> Rejections {
        Rejections {
            rate: LogRate::new(per_second, "rejection", "corsgate::rejection"),
            enforced,
        }
    }

    pub fn rate(&self) -> &LogRate {
        &self.rate
    }

    /// Logs `decision` if it is a denial and the budget allows.
    pub fn observe(&self, request: &CorsRequest<'_>, decision: &Decision<'_, '_>) {
        if decision.kind() == DecisionKind::NotCors || decision.is_allowed() || decision.is_off() {
            return;
        }
        if !self.rate.admit() {
            return;
        }
        let origin = request.origin_value().unwrap_or_default();
        tracing::info!(
            target: "corsgate::rejection",
            policy = decision.policy_name(),
            route = decision.route_name().unwrap_or("-"),
            kind = decision.kind().as_str(),
            reason = decision.deny_reason().map_or("-", |r| r.kind()),
            origin = %Escaped::field(origin, MAX_ORIGIN),
            enforced = self.enforced,
            "denied"
        );
    }
}
