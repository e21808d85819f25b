//! `corsgate explain`: one request, the decision, the headers, and why.
//!
//! Exit status: 0 whatever the decision, 1 invalid policy, 2 usage or I/O error.

use std::path::Path;

use corsgate::file::load_policy_set;
use corsgate::{Cors, CorsRequest};

use crate::output::{output_failed, to_stdout};
use crate::{report_policy_error, EXIT_OK};

/// The request to explain, as given on the command line.
pub struct Request<'a> {
    pub origin: &'a str,
    pub method: &'a str,
    pub request_headers: &'a [String],
    pub preflight: bool,
    /// Chooses the route of a policy set, with `path`.
    pub host: Option<&'a str>,
    pub path: &'a str,
}

pub fn run(path: &Path, env: Option<&str>, given: &Request<'_>) -> u8 {
    let Request {
        origin,
        method,
        request_headers,
        preflight,
        host,
        path: request_path,
    } = *given;
    let set = match load_policy_set(path, env) {
        Ok(s) => s,
        Err(err) => return report_policy_error(&err),
    };
    let routed = !set.routes().is_empty();
    let cors = Cors::with_set(set);
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
    let mut request = if preflight {
        CorsRequest::new(b"OPTIONS")
            .origin(origin.as_bytes())
            .request_method(method.as_bytes())
            .request_headers(&lines)
    } else {
        CorsRequest::new(method.as_bytes()).origin(origin.as_bytes())
    }
    .path(request_path.as_bytes());
    if let Some(host) = host {
        request = request.host(host.as_bytes());
    }
    let decision = cors.decide(&request);
    let explanation = decision.explain();
    // The request's values are the caller's arguments: shown escaped, so that a newline in one
    // cannot forge a line of the report.
    let shown = |v: &str| -> String { v.escape_debug().to_string() };
    let written = to_stdout(|out| {
        writeln!(out, "{}", explanation.summary())?;
        writeln!(out, "request:")?;
        if preflight {
            writeln!(out, "  OPTIONS")?;
            writeln!(out, "  origin: {}", shown(origin))?;
            writeln!(out, "  access-control-request-method: {}", shown(method))?;
            if !acrh.is_empty() {
                writeln!(out, "  access-control-request-headers: {}", shown(&acrh))?;
            }
        } else {
            writeln!(out, "  {}", shown(method))?;
            writeln!(out, "  origin: {}", shown(origin))?;
        }
        if routed || host.is_some() || request_path != "/" {
            writeln!(
                out,
                "  host: {}",
                host.map_or_else(|| "(none)".to_owned(), shown)
            )?;
            writeln!(out, "  path: {}", shown(request_path))?;
            writeln!(
                out,
                "route: {}\npolicy: {}",
                decision
                    .route_name()
                    .map_or("(none: the default policy decides)", |r| r),
                decision.policy_name()
            )?;
        }
        writeln!(
            out,
            "{}:",
            if decision.forwards() {
                "headers added to the upstream's response"
            } else {
                "response headers"
            }
        )?;
        let mut any = false;
        for (name, value) in decision.headers() {
            any = true;
            writeln!(out, "  {}: {}", name.as_str(), shown(&value.to_str_lossy()))?;
        }
        if !any {
            writeln!(out, "  (none)")?;
        }
        writeln!(out, "why:")?;
        for detail in explanation.details() {
            writeln!(out, "  - {detail}")?;
        }
        if !preflight && !request_headers.is_empty() {
            writeln!(out, "  - note: request headers only matter for the preflight; add --preflight to explain it")?;
        }
        Ok(())
    });
    match written {
        Ok(()) => EXIT_OK,
        Err(e) => output_failed("explain", &e),
    }
}
