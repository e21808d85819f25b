//! `corsgate`: check policy files, explain decisions, decide requests in bulk, and serve a CORS
//! gateway.

mod check;
mod decide;
mod explain;
mod output;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use corsgate::{IssueKind, PolicyError};

/// The binary's allocator: `serve` allocates per request in hyper and `http` (header maps,
/// boxed futures), and glibc's malloc and free were 8–9% of its CPU under load; the library
/// leaves the choice to its embedder.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

// Exit statuses: a contract (README, "The command line"), the same for every subcommand.

/// Exit status: everything valid / done.
pub const EXIT_OK: u8 = 0;
/// Exit status: the policy is invalid (or has warnings under `--strict`); for `decide`, also
/// some input line was an error.
pub const EXIT_INVALID: u8 = 1;
/// Exit status: usage or I/O error (a closed pipe and a full disk included).
pub const EXIT_USAGE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "corsgate",
    version,
    about = "CORS for HTTP gateways: check, explain, decide, serve",
    long_about = None,
    after_help = "Exit status: 0 done, 1 invalid policy (decide: also some input line was an error), 2 usage or I/O error (a closed pipe or a full disk too)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a policy file: the base policy and every environment (or just one).
    ///
    /// Exit status: 0 valid, 1 invalid (or warnings with --strict), 2 usage or I/O error.
    /// CORSGATE_ENV is ignored: every environment is checked unless --env names one.
    Check {
        /// The policy file (TOML, or JSON when it ends in .json).
        policy: PathBuf,
        /// Check this environment only.
        #[arg(long)]
        env: Option<String>,
        /// Treat warnings as errors.
        #[arg(long)]
        strict: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Show the decision for one request, the headers corsgate would send, and why.
    ///
    /// Exit status: 0 whatever the decision, 1 invalid policy, 2 usage or I/O error.
    Explain {
        /// The policy file.
        policy: PathBuf,
        /// The environment (default: CORSGATE_ENV, else the base policy).
        #[arg(long)]
        env: Option<String>,
        /// The request's Origin header.
        #[arg(long)]
        origin: String,
        /// The request method; with --preflight, the method the preflight asks for.
        #[arg(long, default_value = "GET")]
        method: String,
        /// A request header the page sends (repeatable); with --preflight, listed in
        /// Access-Control-Request-Headers the way browsers do.
        #[arg(long = "request-header", value_name = "H")]
        request_headers: Vec<String>,
        /// Explain the preflight (OPTIONS) a browser sends first.
        #[arg(long)]
        preflight: bool,
        /// The request's host (`Host`), which chooses the route of a policy set.
        #[arg(long)]
        host: Option<String>,
        /// The request's path (raw, as sent), which chooses the route of a policy set.
        #[arg(long, default_value = "/")]
        path: String,
    },
    /// Decide requests read as JSON Lines on standard input; write one JSON line per request.
    ///
    /// Input lines are read the way an HTTP/1 parser reads a request: a method or header name
    /// that is not a token, or a value with a control character, is an {"error"} line, and
    /// values lose the spaces and tabs around them.
    ///
    /// Exit status: 0 every line decided, 1 some line was an {"error"} line (the others are
    /// still decided, in order), 2 usage or I/O error (an invalid policy: 1).
    Decide {
        /// The policy file.
        policy: PathBuf,
        /// The environment (default: CORSGATE_ENV, else the base policy).
        #[arg(long)]
        env: Option<String>,
    },
    /// Run a CORS gateway: a reverse proxy (or a demo API) that applies the policy, reloads it
    /// when the file changes or on SIGHUP, and shuts down gracefully on SIGINT/SIGTERM.
    ///
    /// Exit status: 0 after a graceful shutdown, 1 invalid policy at start, 2 usage or I/O
    /// error (the address cannot be bound, say).
    Serve(serve::ServeArgs),
}

/// Prints a policy error the way `check` does and returns the exit status for it.
pub fn report_policy_error(err: &PolicyError) -> u8 {
    for issue in err.issues() {
        output::diagnostic(format_args!("{issue}"));
    }
    if err
        .errors()
        .all(|i| matches!(i.kind(), IssueKind::Io | IssueKind::UnknownEnvironment))
    {
        EXIT_USAGE
    } else {
        EXIT_INVALID
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return ExitCode::from(usage(&e)),
    };
    let status = match cli.command {
        Command::Check {
            policy,
            env,
            strict,
            format,
        } => check::run(&policy, env.as_deref(), strict, format),
        Command::Explain {
            policy,
            env,
            origin,
            method,
            request_headers,
            preflight,
            host,
            path,
        } => explain::run(
            &policy,
            env.as_deref(),
            &explain::Request {
                origin: &origin,
                method: &method,
                request_headers: &request_headers,
                preflight,
                host: host.as_deref(),
                path: &path,
            },
        ),
        Command::Decide { policy, env } => decide::run(&policy, env.as_deref()),
        Command::Serve(args) => serve::run(args),
    };
    ExitCode::from(status)
}

/// `--help`, `--version` (exit 0) and usage errors (exit 2), written so that a closed pipe
/// or a full disk is an error of its own (exit 2) rather than a panic or a silent success.
fn usage(e: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            match output::to_stdout(|out| out.write_all(text.as_bytes())) {
                Ok(()) => EXIT_OK,
                Err(err) => output::output_failed("--help", &err),
            }
        }
        _ => {
            output::diagnostic(format_args!("{}", text.trim_end()));
            EXIT_USAGE
        }
    }
}
