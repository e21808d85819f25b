//! `/metrics` and the admin listener. `/metrics` is the engine's counters in OpenMetrics text,
//! written by `prometheus-client` from `corsgate::metrics::Collector` at each scrape.
//!
//! Without `--admin-listen`, `/metrics` is served on the proxy port (GET, before the demo API
//! or the upstream; the scrape itself is a request the policy decides, counted as kind `none`).
//! With `--admin-listen ADDR`, `/metrics` and `/healthz` are served on that listener, without
//! CORS and without counting, and the proxy port keeps `/healthz` only: `/metrics` there goes
//! to the upstream like any other path, so the counters are not exposed where the proxy is.

use std::convert::Infallible;
use std::sync::Arc;

use corsgate::metrics::{Collector, Disagreements};
use corsgate::watch::PolicyWatcher;
use corsgate::Cors;
use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;

use super::bodies::{full, BoxedBody};
use super::demo::json;
use super::reload;

/// What `/metrics` and the admin listener read.
pub struct Metrics {
    registry: Registry,
}

impl Metrics {
    /// The engine's counters, and the shadow's and report-only disagreements when on.
    pub fn new(
        cors: Arc<Cors>,
        shadow: Option<Arc<Disagreements>>,
        report_only: Option<Arc<Disagreements>>,
    ) -> Metrics {
        let mut collector = Collector::new(cors);
        if let Some(shadow) = shadow {
            collector = collector.with_shadow(shadow);
        }
        if let Some(report_only) = report_only {
            collector = collector.with_report_only(report_only);
        }
        let mut registry = Registry::default();
        registry.register_collector(Box::new(collector));
        Metrics { registry }
    }

    /// The `/metrics` answer.
    pub fn scrape(&self) -> Response<BoxedBody> {
        let mut text = String::new();
        if let Err(e) = prometheus_client::encoding::text::encode(&mut text, &self.registry) {
            tracing::error!(target: "corsgate::serve", "/metrics: encoding failed: {e}");
            return json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"error": "metrics encoding failed"}),
            );
        }
        let mut response = Response::new(full(text));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        );
        response
    }
}

/// What the admin listener serves.
pub struct Admin {
    pub metrics: Metrics,
    pub cors: Arc<Cors>,
    pub watcher: Arc<PolicyWatcher>,
}

fn answer(admin: &Admin, request: &Request<Incoming>) -> Response<BoxedBody> {
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => admin.metrics.scrape(),
        (&Method::GET, "/healthz") => reload::health(&admin.cors, &admin.watcher),
        (_, "/metrics" | "/healthz") => json(
            StatusCode::METHOD_NOT_ALLOWED,
            serde_json::json!({"error": "method not allowed"}),
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"error": "not found: the admin listener serves /metrics and /healthz"}),
        ),
    }
}

/// Serves `/metrics` and `/healthz` until the future is dropped (on shutdown).
pub async fn admin_loop(listener: TcpListener, admin: &'static Admin, graceful: &GracefulShutdown) {
    let builder = hyper::server::conn::http1::Builder::new();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::debug!(target: "corsgate::serve", "admin accept failed: {e}");
                // Out of file descriptors, say: give the proxy's connections a chance first.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let handler = hyper::service::service_fn(move |request: Request<Incoming>| async move {
            Ok::<_, Infallible>(answer(admin, &request))
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), handler));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(target: "corsgate::serve", "admin connection from {peer}: {e}");
            }
        });
    }
}
