//! `tessera-issuer serve`: the HTTP JSON API (docs/issuer-api.yaml) over
//! the one service.
//!
//! - `routes.rs`: the endpoints, their JSON, and errors as typed JSON.
//! - `guard.rs`: bearer-token authentication and the rate limits.
//! - `metrics.rs`: Prometheus metrics and the request log line.
//!
//! The store is blocking (rusqlite, the synchronous postgres client): each
//! request's service call runs on tokio's blocking pool, so a slow
//! database never stalls the accepting threads.

mod guard;
mod metrics;
mod routes;

use std::sync::Arc;

use crate::cli::ServeArgs;
use crate::error::{Error, Result};
use crate::output::Report;
use crate::service::{Issuer, Limits};
use crate::store::{self, sealing::Kek};

/// What every request shares.
pub(crate) struct App {
    pub issuer: Issuer,
    pub guard: guard::Guard,
    pub metrics: metrics::Metrics,
}

/// Runs the service until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> Result<Report> {
    init_logging();
    let kek = Kek::from_file_or_env(args.db.master_key_file.as_deref())?;
    if kek.is_none() {
        return Err(Error::input(format!(
            "serve keeps the keys sealed at rest: give a master key with --master-key-file FILE, \
             {} or {} (`tessera-issuer master-key --out FILE` makes one)",
            store::sealing::MASTER_KEY_FILE_ENV,
            store::sealing::MASTER_KEY_ENV
        )));
    }
    let location = args.db.location()?;
    let opened = match &location {
        store::Location::Sqlite(_) => store::open(&location, kek, true)?,
        store::Location::Postgres(url) => store::Opened {
            store: Box::new(store::postgres::PgStore::connect(
                url,
                kek,
                args.connections,
            )?),
            created_file: None,
        },
    };
    let signer = args
        .sign_key
        .as_deref()
        .map(crate::commands::load_signing_key)
        .transpose()?;
    let issuer = Issuer::new(opened.store)
        .with_signer(signer)
        .with_limits(Limits {
            max_failures: args.max_failures,
            lock_seconds: i64::from(args.lock_seconds),
        });
    let app = Arc::new(App {
        issuer,
        guard: guard::Guard::new(args.client_rate, args.serial_rate),
        metrics: metrics::Metrics::default(),
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(args.connections as usize + 8)
        .build()
        .map_err(|e| Error::input(format!("cannot start the runtime: {e}")))?;
    let listen = args.listen;
    let place = app.issuer.store().describe().to_owned();
    // The store is dropped outside the runtime: the synchronous PostgreSQL
    // client runs its own, which may not start inside another.
    let keep = app.clone();
    let served = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| Error::input(format!("--listen {listen}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::input(e.to_string()))?;
        // The one line a supervisor or a test waits for.
        tracing::info!(listen = %local, store = %place, "serving");
        axum::serve(listener, routes::router(app))
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(|e| Error::input(format!("serving on {local}: {e}")))
    });
    drop(runtime);
    drop(keep);
    served?;
    tracing::info!("stopped");
    Ok(Report::new(
        "Stopped.\n".into(),
        serde_json::json!({ "stopped": true }),
    ))
}

async fn shutdown() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// JSON lines on standard error (journald takes them as they are);
/// `RUST_LOG` sets the level (default info). Request bodies, codes, keys and
/// tokens are never logged.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_current_span(false)
        .try_init();
}
