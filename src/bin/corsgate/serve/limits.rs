//! The limits `corsgate serve` enforces: the timeouts and the connection cap its flags set,
//! the fixed sizes it states, and the process's open-file limit that must fit them.
//!
//! Every value here is documented in the README and `corsgate::docs::limitations`; a change
//! here is a change there. Header field lines are capped at 100 in a request head (431) and in
//! an upstream's response head (502): hyper's default on both sides, left unset on purpose, since
//! any explicit value makes hyper initialise its header index for every message (measured with
//! callgrind: about 1,000 instructions a request). The tests hold the limit.

use std::time::Duration;

/// Most bytes of a request head, start line included: 64 KiB, like Envoy's 60 KiB and above
/// nginx's 4 × 8 KiB; a larger one gets 431. The upstream client's read buffer has the same
/// size, which bounds an upstream's response head to about as much (hyper's client has no exact
/// head-size limit; a larger head is a 502).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Idle pooled upstream connections are closed after this long.
pub const UPSTREAM_POOL_IDLE: Duration = Duration::from_secs(30);

/// At most this many idle connections to the upstream are kept for reuse (busy ones are
/// bounded by `--max-connections`: HTTP/1 sends one request at a time on a connection).
pub const UPSTREAM_POOL_MAX_IDLE: usize = 256;

/// Most bytes of 1xx responses (103 Early Hints) forwarded for one request; more are dropped.
pub const MAX_INTERIM_BYTES: usize = 16 * 1024;

/// The longest a timeout flag may say: one day. (0 turns a timeout off.)
const MAX_SECONDS: f64 = 86_400.0;

/// A duration given in seconds on the command line: a whole or decimal number (`10`, `0.5`),
/// `0` meaning none.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Seconds(Option<Duration>);

impl Seconds {
    /// The duration, or `None` when the timeout is off.
    pub fn get(self) -> Option<Duration> {
        self.0
    }
}

/// Parses a `--…-timeout` value for clap.
pub fn parse_seconds(text: &str) -> Result<Seconds, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of seconds (e.g. 10 or 0.5)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!(
            "{text:?}: a timeout is 0 (off) or a positive number of seconds"
        ));
    }
    if value > MAX_SECONDS {
        return Err(format!(
            "{text:?}: at most {MAX_SECONDS} seconds (one day); 0 turns the timeout off"
        ));
    }
    if value == 0.0 {
        return Ok(Seconds(None));
    }
    Ok(Seconds(Some(Duration::from_secs_f64(value))))
}

/// What one connection may do, and how long it may take.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A request head must arrive within this (from the connection's start for the first
    /// request, from the head's first byte for later ones).
    pub header_read_timeout: Option<Duration>,
    /// A keep-alive connection may wait this long for the next request.
    pub idle_timeout: Option<Duration>,
    /// Reading a body (the client's or the upstream's) or writing a response may make no
    /// progress for this long.
    pub io_timeout: Option<Duration>,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Connecting to the upstream.
    pub upstream_connect_timeout: Option<Duration>,
    /// From sending a request to the upstream to its response head.
    pub upstream_timeout: Option<Duration>,
}

/// Open files the process needs besides its connections: the listener, the policy file and
/// its watch, logs, the runtime's own.
const RESERVED_FILES: u64 = 64;

/// Makes room for `max_connections` client connections and as many upstream ones: raises the
/// soft open-file limit towards the hard one when it is lower (as Go's runtime and nginx's
/// `worker_rlimit_nofile` do), and says when even the hard limit is too low. Returns the
/// limit in force.
#[cfg(unix)]
pub fn fit_open_file_limit(max_connections: usize) -> Option<u64> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let wanted = (max_connections as u64)
        .saturating_mul(2)
        .saturating_add(RESERVED_FILES);
    let limit = getrlimit(Resource::Nofile);
    // `None` is "unlimited".
    let soft = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let mut in_force = soft;
    if soft < wanted && hard > soft {
        let raised = wanted.min(hard);
        let new = Rlimit {
            current: Some(raised),
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, new).is_ok() {
            in_force = raised;
        }
    }
    if in_force < wanted {
        tracing::warn!(
            target: "corsgate::serve",
            "the open-file limit is {in_force}, below the {wanted} that --max-connections {max_connections} needs \
             (a client and an upstream connection each, plus {RESERVED_FILES}); past it, new connections wait \
             until others close: raise `ulimit -n` or lower --max-connections"
        );
    }
    Some(in_force)
}

#[cfg(not(unix))]
pub fn fit_open_file_limit(_max_connections: usize) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds() {
        assert_eq!(
            parse_seconds("10").unwrap().get(),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_seconds("0.25").unwrap().get(),
            Some(Duration::from_millis(250))
        );
        assert_eq!(parse_seconds("0").unwrap().get(), None);
        for bad in ["-1", "NaN", "inf", "ten", "", "86401"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }
}
