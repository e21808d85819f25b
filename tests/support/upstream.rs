//! A small upstream for a `corsgate serve` under test: answers every request from a handler
//! over the request's head (bodies are not read), and counts the requests it saw.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

/// A running upstream on a loopback port, serving until the test's runtime ends.
pub struct Upstream {
    pub address: SocketAddr,
    requests: Arc<AtomicUsize>,
}

impl Upstream {
    /// Starts serving on `127.0.0.1:0`; call from inside a tokio runtime.
    pub async fn start<F>(handler: F) -> Upstream
    where
        F: Fn(&http::request::Parts) -> Response<String> + Send + Sync + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let (handler, counter) = (Arc::new(handler), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (handler, counter) = (handler.clone(), counter.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let (parts, _) = req.into_parts();
                        let response = handler(&parts).map(|b| Full::new(Bytes::from(b)));
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Upstream { address, requests }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// How many requests reached it.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}
