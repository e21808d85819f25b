//! `--shadow FILE`: a second policy set decided beside the serving one for every request
//! (same `--env`), never touching a response. Disagreements are counted
//! (`corsgate_shadow_disagreements_total`) and logged, target `corsgate::shadow`, at most
//! `--disagreement-log-rate` lines a second.
//!
//! The shadow file is watched and reloaded like the policy file (and on SIGHUP). A shadow file
//! that is invalid or unreadable, at start or after a change, is logged and turns the shadow
//! off (nothing is compared against a stale or placeholder set) until the file is valid again;
//! serving is never affected. The change of state is logged once.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use corsgate::file::PolicyFile;
use corsgate::shadow::ShadowCors;
use corsgate::watch::{FileStatus, PolicyWatcher, WatchOptions};
use corsgate::{Cors, CorsRequest, Decision, Policy, PolicySet};

use super::access_log::Escaped;
use super::log_rate::LogRate;

pub struct Shadowing {
    pub cors: ShadowCors,
    watcher: Arc<PolicyWatcher>,
    label: String,
    /// The file was valid at start; otherwise the shadow handle holds a placeholder until the
    /// first good reload (generation 2).
    valid_at_start: bool,
    /// What `report_state` last logged.
    was_on: AtomicBool,
    pub log: LogRate,
}

impl Shadowing {
    /// Loads (or fails to load) the shadow file and starts watching it.
    pub fn start(
        serving: Arc<Cors>,
        path: &Path,
        environment: Option<String>,
        options: WatchOptions,
        log_rate: u32,
    ) -> Result<Shadowing, Box<dyn std::error::Error>> {
        let label = path.display().to_string();
        let loaded = PolicyFile::load(path).and_then(|f| f.policy_set(environment.as_deref()));
        let (set, valid_at_start) = match loaded {
            Ok(set) => {
                tracing::info!(
                    target: "corsgate::shadow",
                    path = %label,
                    generation = 1,
                    "shadow policy on"
                );
                (set, true)
            }
            Err(err) => {
                tracing::error!(
                    target: "corsgate::shadow",
                    path = %label,
                    "shadow policy is invalid; the shadow is off until the file is valid"
                );
                for issue in err.issues() {
                    tracing::error!(target: "corsgate::shadow", path = %label, "{issue}");
                }
                (placeholder()?, false)
            }
        };
        let shadow = Arc::new(Cors::with_set(set));
        let watcher = Arc::new(PolicyWatcher::with_options(
            shadow.clone(),
            path,
            environment,
            options,
        )?);
        Ok(Shadowing {
            cors: ShadowCors::new(serving, shadow),
            watcher,
            label,
            valid_at_start,
            was_on: AtomicBool::new(valid_at_start),
            log: LogRate::new(log_rate, "shadow disagreement", "corsgate::shadow"),
        })
    }

    pub fn watcher(&self) -> &Arc<PolicyWatcher> {
        &self.watcher
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Compared only while the file's set is the one loaded.
    fn is_on(&self) -> bool {
        self.watcher.file_status() == FileStatus::Loaded
            && (self.valid_at_start || self.cors.shadow().generation() > 1)
    }

    /// Logs when the shadow turned on or off since the last call (called once a second).
    pub fn report_state(&self) {
        let on = self.is_on();
        if self.was_on.swap(on, Ordering::Relaxed) != on {
            if on {
                tracing::info!(
                    target: "corsgate::shadow",
                    path = %self.label,
                    generation = self.cors.shadow().generation(),
                    "shadow policy on"
                );
            } else {
                tracing::warn!(
                    target: "corsgate::shadow",
                    path = %self.label,
                    file = self.watcher.file_status().as_str(),
                    "shadow policy off until its file is valid"
                );
            }
        }
    }

    /// Compares the shadow's decision with the serving one; logs a disagreement if the
    /// budget allows.
    pub fn observe(&self, request: &CorsRequest<'_>, decision: &Decision<'_, '_>) {
        if !self.is_on() {
            return;
        }
        let Some(difference) = self.cors.compare(request, decision) else {
            return;
        };
        if !self.log.admit() {
            return;
        }
        tracing::info!(
            target: "corsgate::shadow",
            policy = decision.policy_name(),
            route = decision.route_name().unwrap_or("-"),
            kind = decision.kind().as_str(),
            difference = difference.as_str(),
            serving = if decision.is_allowed() { "allowed" } else { "denied" },
            origin = %Escaped::field(request.origin_value().unwrap_or_default(), 256),
            "shadow disagrees"
        );
    }
}

/// What the shadow handle holds while the file has never been valid: never compared
/// (`is_on`).
fn placeholder() -> Result<PolicySet, corsgate::PolicyError> {
    Policy::new(["https://shadow-file-invalid.example"]).map(PolicySet::single)
}
