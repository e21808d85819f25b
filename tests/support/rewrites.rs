//! Requests flowing while a policy file is rewritten: 4 keep-alive clients send actual requests
//! and preflights continuously while the file is replaced by atomic renames, alternating two
//! policies, in bursts that each end on the other policy. Every response must come whole from
//! one policy or the other, and not one request may fail. Bounded: the given number of
//! rewrites, then the clients stop.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// Allows `a.example`; its preflights answer `GET,PUT` and max-age 10.
pub const POLICY_A: &str = "origins = [\"https://a.example\", \"https://shared.example\"]\nmethods = [\"GET\", \"PUT\"]\nmax_age = 10\n";
/// Allows `b.example`; its preflights answer `GET,DELETE` and max-age 20.
pub const POLICY_B: &str = "origins = [\"https://b.example\", \"https://shared.example\"]\nmethods = [\"GET\", \"DELETE\"]\nmax_age = 20\n";

/// What the clients saw.
pub struct Seen {
    /// Requests answered.
    pub total: usize,
    /// Preflights from `shared.example` answered by policy A, and by policy B.
    pub by_a: usize,
    pub by_b: usize,
}

/// Rewrites `policy` (in `dir`) `bursts` × `per_burst` times while the clients send to `url`
/// (a path the gateway proxies); the file ends as policy A. Panics on any failed request or a
/// response from neither policy.
pub async fn requests_during_rewrites(
    url: String,
    dir: &Path,
    policy: &Path,
    bursts: usize,
    per_burst: usize,
) -> Seen {
    let done = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (url, done) = (url.clone(), done.clone());
            tokio::spawn(async move { client(c, &url, &done).await })
        })
        .collect();
    for burst in 0..bursts {
        for k in 0..per_burst {
            let n = burst * per_burst + k;
            // The last rewrite of a burst alternates A and B from burst to burst, and the
            // last burst ends on A.
            let last_is_b = (bursts - 1 - burst) % 2 == 1;
            let b = if k == per_burst - 1 {
                last_is_b
            } else {
                n % 2 == 0
            };
            let tmp = dir.join(format!("policy.toml.{n}"));
            std::fs::write(&tmp, if b { POLICY_B } else { POLICY_A }).unwrap();
            std::fs::rename(&tmp, policy).unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    done.store(true, Ordering::Relaxed);
    let mut seen = Seen {
        total: 0,
        by_a: 0,
        by_b: 0,
    };
    for c in clients {
        let (total, a, b) = c.await.expect("no client failed");
        seen.total += total;
        seen.by_a += a;
        seen.by_b += b;
    }
    seen
}

async fn client(c: usize, url: &str, done: &AtomicBool) -> (usize, usize, usize) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let (mut ok, mut by_a, mut by_b) = (0usize, 0usize, 0usize);
    let mut i = c;
    while !done.load(Ordering::Relaxed) {
        i += 1;
        let preflight = i % 2 == 0;
        let origin = match i % 4 {
            1 => "https://a.example",
            3 => "https://b.example",
            _ => "https://shared.example",
        };
        let request = if preflight {
            Request::options(url)
                .header("origin", origin)
                .header("access-control-request-method", "GET")
        } else {
            Request::get(url).header("origin", origin)
        };
        let response = client
            .request(request.body(Empty::new()).unwrap())
            .await
            .unwrap_or_else(|e| panic!("request {i} failed: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        let _ = response.into_body().collect().await.expect("body");
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert!(
            header("vary").is_some_and(|v| v.contains("Origin")),
            "request {i}: {headers:?}"
        );
        let acao = header("access-control-allow-origin");
        if preflight && origin == "https://shared.example" {
            assert_eq!(status, StatusCode::NO_CONTENT, "request {i}");
            match (
                header("access-control-allow-methods").as_deref(),
                header("access-control-max-age").as_deref(),
            ) {
                (Some("GET,PUT"), Some("10")) => by_a += 1,
                (Some("GET,DELETE"), Some("20")) => by_b += 1,
                other => panic!("a response from neither policy: {other:?}"),
            }
        } else if preflight {
            // a.example or b.example: allowed by one policy, refused by the other.
            match (status.as_u16(), acao.as_deref()) {
                (204, Some(o)) if o == origin => {}
                (403, None) => {}
                other => panic!("request {i}: {other:?}"),
            }
        } else {
            assert_eq!(status, StatusCode::OK, "request {i}");
            assert!(
                acao.is_none() || acao.as_deref() == Some(origin),
                "request {i}: {acao:?}"
            );
        }
        ok += 1;
    }
    (ok, by_a, by_b)
}
