//! An axum service behind corsgate's `CorsLayer`, with the policy loaded from a file and
//! reloaded whenever the file changes.
//!
//! ```sh
//! cargo run --example gateway -- examples/policy.toml      # CORSGATE_ENV=development for localhost
//! curl -si http://127.0.0.1:3000/api/hello -H 'Origin: https://myapp.example'
//! ```

use std::error::Error;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use corsgate::file::{active_environment, load_policy};
use corsgate::layer::CorsLayer;
use corsgate::watch::PolicyWatcher;
use corsgate::Cors;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "examples/policy.toml".to_owned());
    let environment = active_environment(None);
    let cors = Arc::new(Cors::new(load_policy(&path, environment.as_deref())?));
    // Keep the watcher alive for as long as the server runs.
    let _watcher = PolicyWatcher::spawn(cors.clone(), &path, environment)?;

    let app = Router::new()
        .route(
            "/api/hello",
            get(|| async { "hello from behind corsgate\n" }),
        )
        .layer(CorsLayer::new(cors.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!(
        "listening on http://{} with {path} (generation {})",
        listener.local_addr()?,
        cors.generation()
    );
    axum::serve(listener, app).await?;
    Ok(())
}
