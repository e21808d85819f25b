//! `corsgate explain`: one request, the decision, the headers, and why.

use std::path::Path;

use corsgate::file::load_policy;
use corsgate::{Cors, CorsRequest};

use crate::{report_policy_error, EXIT_OK};

pub fn run(
    path: &Path,
    env: Option<&str>,
    origin: &str,
    method: &str,
    request_headers: &[String],
    preflight: bool,
) -> u8 {
    let policy = match load_policy(path, env) {
        Ok(p) => p,
        Err(err) => return report_policy_error(&err),
    };
    let cors = Cors::new(policy);
    // The request-headers list as a browser writes it: lowercase, sorted, deduplicated.
    let mut names: Vec<String> = request_headers
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect();
    names.sort();
    names.dedup();
    let acrh = names.join(",");
    let lines: Vec<&[u8]> = if acrh.is_empty() {
        vec![]
    } else {
        vec![acrh.as_bytes()]
    };
    let request = if preflight {
        CorsRequest::new(b"OPTIONS")
            .origin(origin.as_bytes())
            .request_method(method.as_bytes())
            .request_headers(&lines)
    } else {
        CorsRequest::new(method.as_bytes()).origin(origin.as_bytes())
    };
    let decision = cors.decide(&request);
    let explanation = decision.explain();
    println!("{}", explanation.summary());
    println!("request:");
    if preflight {
        println!("  OPTIONS");
        println!("  origin: {origin}");
        println!("  access-control-request-method: {method}");
        if !acrh.is_empty() {
            println!("  access-control-request-headers: {acrh}");
        }
    } else {
        println!("  {method}");
        println!("  origin: {origin}");
    }
    println!(
        "{}:",
        if decision.forwards() {
            "headers added to the upstream's response"
        } else {
            "response headers"
        }
    );
    let mut any = false;
    for (name, value) in decision.headers() {
        any = true;
        println!("  {}: {}", name.as_str(), value.to_str_lossy());
    }
    if !any {
        println!("  (none)");
    }
    println!("why:");
    for detail in explanation.details() {
        println!("  - {detail}");
    }
    if !preflight && !request_headers.is_empty() {
        println!("  - note: request headers only matter for the preflight; add --preflight to explain it");
    }
    EXIT_OK
}
