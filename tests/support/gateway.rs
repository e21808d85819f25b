//! A `corsgate serve` process (or another gateway that prints its address the same way) for
//! tests: started on a loopback port, its standard error collected, killed when dropped.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::Method;

use super::http_client::send;

const BIN: &str = env!("CARGO_BIN_EXE_corsgate");

/// A running `corsgate serve`.
pub struct Gateway {
    pub child: Child,
    pub address: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Gateway {
    /// Starts `corsgate serve POLICY --listen 127.0.0.1:0 EXTRA…` and reads the address it
    /// prints.
    pub fn start(policy: &Path, extra: &[&str]) -> Gateway {
        Gateway::start_wrapped(&[], policy, extra)
    }

    /// Like [`Gateway::start`], but runs `corsgate` through `wrapper` (a program and its
    /// arguments that ends by exec-ing its own arguments: `sh -c 'ulimit -n 64; exec "$@"' sh`),
    /// so that the gateway is still the child whose id `signal` uses.
    pub fn start_wrapped(wrapper: &[&str], policy: &Path, extra: &[&str]) -> Gateway {
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        command
            .arg("serve")
            .arg(policy)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra);
        Gateway::spawn(command)
    }

    /// Runs `command` — a gateway that prints `… listening on http://ADDR …` as the first line
    /// of its standard output — with `RUST_LOG=info` and without `CORSGATE_ENV`, keeps its
    /// standard error, and reads the address.
    pub fn spawn(mut command: Command) -> Gateway {
        let mut child = command
            .env_remove("CORSGATE_ENV")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the gateway runs");
        let mut first = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut first).unwrap();
        // Keep standard output drained (and open) for the life of the process.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while stdout.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        let address = first
            .split("http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .parse()
            .unwrap();
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Gateway {
            child,
            address,
            log,
        }
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Sends a signal by name (`HUP`, `TERM`).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// The generation `/healthz` reports.
    pub async fn generation(&self) -> u64 {
        let (_, _, body) = send(&self.url("/healthz"), Method::GET, &[]).await;
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["generation"].as_u64().unwrap()
    }

    /// Waits (up to 10 s) until the generation is at least `at_least`.
    pub async fn wait_for_generation(&self, at_least: u64) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let g = self.generation().await;
            if g >= at_least {
                return g;
            }
            assert!(
                Instant::now() < deadline,
                "generation stuck at {g}, wanted {at_least}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits (up to 10 s) until standard error has shown `needle` (another thread reads it).
    pub async fn wait_for_log(&self, needle: &str) {
        self.wait_for_log_after(0, needle).await;
    }

    /// Like [`Gateway::wait_for_log`], for what standard error shows past its first `offset`
    /// bytes (a `log().len()` taken earlier): a needle that an earlier event already printed.
    pub async fn wait_for_log_after(&self, offset: usize, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.log()[offset..].contains(needle) {
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in the log past byte {offset}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Standard error so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits (up to `limit`) for the process to exit; `None` if it is still running.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Access-log lines for `METHOD PATH`.
    pub fn requests(&self, method: &str, path: &str) -> usize {
        let needle = format!("{method} {path} ");
        self.log().lines().filter(|l| l.contains(&needle)).count()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
