//! Reload control for `serve`: SIGHUP asks the policy watcher for a reload and returns at once
//! (the reload runs on the watcher's threads, never on the accept loop or the signal loop, so a
//! slow or stuck reload delays neither new connections nor shutdown); `/healthz` reports the
//! serving generation and what the watcher's last look at the policy file found.
//!
//! `/healthz` answers 200 while a policy serves, which is always: a file that went missing,
//! unreadable or invalid keeps the last good generation serving, so the gateway must not be
//! taken out of rotation or restarted for it (a restart would fail to start). It says so in the
//! body: `{"generation":N,"status":"ok"}` normally, and
//! `{"generation":N,"policy_file":"unreadable","status":"degraded"}` otherwise
//! (`policy_file`: `unreadable`, `invalid`, `timeout`, `panic`), without paths or error
//! messages, which go to the log: the endpoint is as public as the listener.

use std::sync::Arc;

use corsgate::watch::{FileStatus, PolicyWatcher};
use corsgate::Cors;
use http::{Response, StatusCode};
use tokio::signal::unix::{signal, SignalKind};

use super::bodies::BoxedBody;
use super::demo::json;

/// Turns every SIGHUP into a reload request, for the life of the process.
pub fn forward_sighup(watcher: Arc<PolicyWatcher>, label: String) -> std::io::Result<()> {
    let mut hangup = signal(SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            tracing::info!(target: "corsgate::watch", "SIGHUP: reloading {label}");
            watcher.request_reload();
        }
    });
    Ok(())
}

/// The `/healthz` answer.
pub fn health(cors: &Cors, watcher: &PolicyWatcher) -> Response<BoxedBody> {
    let generation = cors.generation();
    let body = match watcher.file_status() {
        FileStatus::Loaded => serde_json::json!({"status": "ok", "generation": generation}),
        other => serde_json::json!({
            "status": "degraded",
            "generation": generation,
            "policy_file": other.as_str(),
        }),
    };
    json(StatusCode::OK, body)
}
