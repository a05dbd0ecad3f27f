//! `annotask serve`: the hosted Tasks API on a local address, answered from the task files.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

use annotask::server::{self, Config, Server, StartError, TlsFiles};

use super::{Exit, Failure, Global, Outcome};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where to listen, IP:PORT, `localhost:PORT` or `:PORT` (both loopback); port 0 picks a
    /// free port. Beyond loopback, an API key is required.
    #[arg(long, default_value = server::DEFAULT_ADDR, value_parser = parse_addr)]
    addr: SocketAddr,
    /// Require `Authorization: Key KEY` on every request.
    #[arg(
        long,
        value_name = "KEY",
        env = "ANNOTASK_API_KEY",
        hide_env_values = true
    )]
    api_key: Option<String>,
    /// A JSON or YAML file mapping API keys to user ids (`{"key-ann": "ann"}`): every request
    /// needs one of the keys and acts as its user. Keep it outside the project's tasks/,
    /// inputs/ and work/.
    #[arg(long, value_name = "FILE", conflicts_with = "api_key")]
    keys: Option<PathBuf>,
    /// Serve both faces (JSON and gRPC) over TLS with this PEM certificate chain; needs
    /// --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

/// `:8081` and `localhost:8081` mean loopback, as they do for most servers' flags; `localhost`
/// is not looked up, so it never resolves beyond this machine.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let port = text
        .strip_prefix(':')
        .or_else(|| text.strip_prefix("localhost:"));
    match port {
        Some(port) => port
            .parse::<u16>()
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .map_err(|_| format!("`{port}` is not a port number (0 to 65535)")),
        None => text.parse().map_err(|_| {
            "expected IP:PORT, localhost:PORT or :PORT, e.g. 127.0.0.1:8080".to_owned()
        }),
    }
}

pub fn run(global: &Global, args: Args) -> anyhow::Result<Outcome> {
    let keyed = args.api_key.is_some() || args.keys.is_some();
    let server = Server::bind(Config {
        root: global.root.clone(),
        db: global.db.clone(),
        addr: args.addr,
        api_key: args.api_key,
        keys: args.keys,
        tls: args
            .tls_cert
            .zip(args.tls_key)
            .map(|(cert, key)| TlsFiles { cert, key }),
        warn: |message| eprintln!("warning: {message}"),
    })
    .map_err(|e| match e {
        StartError::NeedsKey(_) => super::usage(format!(
            "{e}\n    hint: pass --api-key KEY (or set ANNOTASK_API_KEY) or --keys FILE, or listen on loopback, e.g. --addr {}",
            server::DEFAULT_ADDR
        )),
        e => e.into(),
    })?;
    // At start, as every command does: requests never rewrite the editors' files.
    if global.db.is_none() {
        annotask::repo::refresh_editor_files(&global.root)?;
    }
    let addr = server
        .local_addr()
        .context("cannot read the bound address")?;
    // The first line names the URL, so scripts and tests can read where to connect.
    let scheme = if server.is_tls() { "https" } else { "http" };
    println!("listening on {scheme}://{addr}");
    let auth = if keyed {
        "requests need `Authorization: Key <key>`"
    } else {
        "no API key required"
    };
    eprintln!(
        "serving {} (JSON and gRPC); {auth}; Ctrl-C stops",
        global.root.join(annotask::layout::TASKS_DIR).display()
    );
    // Which process keeps the index current: when it is another, this server takes over if
    // that one goes away.
    match server.watched_by()? {
        Some(pid) if pid == std::process::id() => eprintln!("watching the project (pid {pid})"),
        Some(pid) => eprintln!(
            "another process (pid {pid}) watches the project; this server takes over if it stops"
        ),
        None => {
            eprintln!("another process watches the project; this server takes over if it stops")
        }
    }
    let invalid = server.invalid_files()?;
    if invalid > 0 {
        eprintln!(
            "warning: {invalid} invalid task file(s) not served; `annotask sync` lists the problems"
        );
    }
    let refused = server.flagged_lines()?;
    if refused > 0 {
        eprintln!(
            "warning: {refused} work line(s) to look at (not counted, or an input handed out twice); `annotask status` lists them"
        );
    }
    server
        .run()
        .context(Failure::new(Exit::Service, "the server failed"))?;
    Ok(Outcome::Success)
}
