//! The lane's reading of a request head checked against hyper's, for the fuzz target
//! `lane_request` and the proptests below: whenever the lane takes a request, hyper's server
//! reads the same bytes as the same bodyless request (method, target, version, every field
//! line), ending at the same byte: a request placed right after it is hyper's second request
//! (and after `Connection: close`, neither reads on).
//! A disagreement panics, with both readings.
//!
//! Compiled only for tests and by the fuzz target, which includes this file, `request`, `wire`
//! and `host_and_path` by path.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::request::{take, MAX_FIELDS};
use super::wire::head_end;

/// The request sent after the one the lane took.
const NEXT: &[u8] = b"GET /__next HTTP/1.1\r\nHost: next.test\r\n\r\n";

/// One request as hyper's server read it.
#[derive(Debug, PartialEq, Eq)]
pub struct Seen {
    pub method: Vec<u8>,
    pub target: String,
    pub version: http::Version,
    /// Names in lower case, sorted with their values.
    pub fields: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime");
}

/// The requests hyper's HTTP/1 server reads from `bytes`, configured as `listener` configures
/// it (the head-size limit, keep-alive).
pub fn hyper_reads(bytes: &[u8]) -> Vec<Seen> {
    RUNTIME.with(|runtime| {
        runtime.block_on(async {
            let (mut client, server) = tokio::io::duplex(1 << 20);
            let seen = Arc::new(Mutex::new(Vec::new()));
            let sink = seen.clone();
            let (count, mut read) = tokio::sync::watch::channel(0usize);
            let count = Arc::new(count);
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let sink = sink.clone();
                let count = count.clone();
                async move {
                    let (parts, body) = request.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes().to_vec())
                        .unwrap_or_else(|_| b"<body error>".to_vec());
                    let mut fields: Vec<(Vec<u8>, Vec<u8>)> = parts
                        .headers
                        .iter()
                        .map(|(n, v)| (n.as_str().as_bytes().to_vec(), v.as_bytes().to_vec()))
                        .collect();
                    fields.sort();
                    if let Ok(mut sink) = sink.lock() {
                        sink.push(Seen {
                            method: parts.method.as_str().as_bytes().to_vec(),
                            target: parts.uri.to_string(),
                            version: parts.version,
                            fields,
                            body,
                        });
                    }
                    count.send_modify(|n| *n += 1);
                    Ok::<_, Infallible>(hyper::Response::new(Empty::<Bytes>::new()))
                }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .max_header_size(super::super::limits::MAX_HEAD_BYTES)
                .keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(server), service);
            // Not a half-close after the bytes: hyper may close on the end of its input
            // before it reads a pipelined request. It is done when it has read two requests
            // (what `check` sends) or closes.
            let talk = async {
                let _ = client.write_all(bytes).await;
                let mut answer = Vec::new();
                tokio::select! {
                    _ = client.read_to_end(&mut answer) => {}
                    _ = read.wait_for(|n| *n >= 2) => {}
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                tokio::select! {
                    _ = connection => {}
                    () = talk => {}
                }
            })
            .await;
            let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
            seen
        })
    })
}

/// Checks the lane against hyper on `input`: if the lane takes the head at its start, hyper
/// must read it the same way and end it at the same byte. Panics otherwise; returns whether
/// the lane took the head (and so whether anything was compared).
pub fn check(input: &[u8]) -> bool {
    let Some(len) = head_end(input) else {
        return false;
    };
    let head = &input[..len];
    let mut fields = [(&[][..], &[][..]); MAX_FIELDS];
    let Some(taken) = take(head, &mut fields) else {
        return false;
    };
    let mut expected_fields: Vec<(Vec<u8>, Vec<u8>)> = fields[..taken.count]
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_vec()))
        .collect();
    expected_fields.sort();
    let expected = Seen {
        method: taken.method.to_vec(),
        target: taken.target.to_owned(),
        version: http::Version::HTTP_11,
        fields: expected_fields,
        body: Vec::new(),
    };
    let mut bytes = head.to_vec();
    bytes.extend_from_slice(NEXT);
    let seen = hyper_reads(&bytes);
    // After `Connection: close`, neither reads on.
    let next_read = if taken.close {
        seen.len() == 1
    } else {
        seen.len() == 2 && seen[1].target == "/__next"
    };
    assert!(
        !seen.is_empty() && seen[0] == expected && next_read,
        "the lane took {:?} as {expected:?}; hyper read {seen:?}",
        String::from_utf8_lossy(head)
    );
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn heads_the_lane_takes_are_the_same_to_hyper() {
        let heads: [&[u8]; 8] = [
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /a?b=c&d HTTP/1.1\r\nHost: api.test:8080\r\nOrigin: https://a.test\r\n\r\n",
            b"HEAD /x HTTP/1.1\nHost: h\n\n",
            b"OPTIONS /x HTTP/1.1\r\nhost: H\r\nOrigin: https://a.test\r\nAccess-Control-Request-Method: PUT\r\nConnection: keep-alive\r\n\r\n",
            b"\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nX-Empty:\r\nX-Tab:\ta\t\r\nX-Latin: caf\xe9\r\n\r\n",
            b"GET /%7e~!$&'()*+,;=:@ HTTP/1.1\r\nHost: [::1]:9\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        ];
        let mut taken = 0;
        for head in heads {
            let mut fields = [(&[][..], &[][..]); MAX_FIELDS];
            taken += usize::from(take(head, &mut fields).is_some());
            assert!(check(head));
        }
        assert_eq!(taken, heads.len(), "every head here is one the lane takes");
    }

    /// `fuzz/regressions/lane_request/`: inputs the fuzz target once failed on.
    #[test]
    fn fuzz_regressions_stay_fixed() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/lane_request");
        let mut replayed = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            check(&bytes);
            replayed += 1;
        }
        assert!(replayed > 0, "no regressions in {}", dir.display());
    }

    /// Bytes a head is built from: the lane's words, and the bytes parsers disagree on.
    fn piece() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            Just(b"GET ".to_vec()),
            Just(b"HEAD ".to_vec()),
            Just(b"OPTIONS ".to_vec()),
            Just(b"/".to_vec()),
            Just(b"/a?b".to_vec()),
            Just(b" HTTP/1.1".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"Host: h".to_vec()),
            Just(b"Host: h:1".to_vec()),
            Just(b"Origin: https://a.test".to_vec()),
            Just(b"Connection: close".to_vec()),
            Just(b"Content-Length: 0".to_vec()),
            Just(b"Transfer-Encoding: chunked".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\t".to_vec()),
            Just(b":".to_vec()),
            Just(b"\0".to_vec()),
            Just(b"\x7f".to_vec()),
            Just(b"\xff".to_vec()),
            Just(b"%2e".to_vec()),
            Just(b"X-A: v".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..4),
        ]
    }

    fn head_like() -> impl Strategy<Value = Vec<u8>> {
        // Mostly a head the lane takes with bytes spliced in, so that the check runs often.
        (
            proptest::collection::vec(piece(), 0..12),
            0usize..4,
            proptest::collection::vec(piece(), 0..3),
        )
            .prop_map(|(extra, at, tail)| {
                let mut lines: Vec<Vec<u8>> = vec![
                    b"GET /p HTTP/1.1\r\n".to_vec(),
                    b"Host: h\r\n".to_vec(),
                    b"Origin: https://a.test\r\n".to_vec(),
                ];
                lines.insert(at.min(lines.len()), extra.concat());
                let mut bytes = lines.concat();
                bytes.extend_from_slice(b"\r\n");
                bytes.extend(tail.concat());
                bytes
            })
    }

    #[test]
    fn spliced_heads_agree_and_many_are_taken() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = head_like();
        let mut compared = 0;
        for _ in 0..1024 {
            let bytes = strategy.new_tree(&mut runner).unwrap().current();
            compared += usize::from(check(&bytes));
        }
        // The check compares only what the lane takes: enough of these must be taken.
        assert!(
            compared >= 100,
            "only {compared} of 1024 heads were compared"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn the_lane_and_hyper_agree_on_heads_of_pieces(
            pieces in proptest::collection::vec(piece(), 1..24),
        ) {
            check(&pieces.concat());
        }
    }
}
