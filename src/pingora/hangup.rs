//! SIGHUP as a reload request, for Pingora servers: Pingora's server loop handles SIGTERM,
//! SIGINT and SIGQUIT, and leaves SIGHUP at its default action, which ends the process.
//!
//! The handler is installed when [`reload_on_hangup`] returns (signal-hook's registration is
//! synchronous), so calling it before `Server::run_forever` leaves no moment in which a SIGHUP
//! would kill the gateway. A thread of its own waits for the signal and only asks the watcher
//! for a reload, which runs on the watcher's threads: a slow reload never delays the next
//! signal or a request. Several signals while a reload runs are coalesced by the watcher.
//!
//! Not with Pingora's `daemon: true`: daemonizing forks after this thread (and the watcher's)
//! started, and a fork keeps only the forking thread. Run the gateway under a supervisor
//! (systemd, Kubernetes), as usual.

use std::sync::Arc;

use signal_hook::consts::SIGHUP;
use signal_hook::iterator::Signals;

use crate::watch::PolicyWatcher;

/// Turns every SIGHUP into [`PolicyWatcher::request_reload`], for the life of the process.
/// Fails only when the handler or its thread cannot be set up.
pub fn reload_on_hangup(watcher: Arc<PolicyWatcher>) -> std::io::Result<()> {
    let mut signals = Signals::new([SIGHUP])?;
    std::thread::Builder::new()
        .name("corsgate-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                tracing::info!(target: "corsgate::watch", "SIGHUP: reloading the policy file");
                watcher.request_reload();
            }
        })?;
    Ok(())
}
