//! `backend`: the Shared Counter server. See the library's docs for how it is built.

use backend::config::{Cli, Command, UpgradeKeys};
use backend::store::keys::Keys;
use backend::store::upgrade;
use clap::Parser;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();

    if let Some(Command::UpgradeKeys(args)) = cli.command {
        return upgrade_keys(args).await;
    }
    let config = cli.server;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    backend::run(config, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// `backend upgrade-keys`: moves version 1's keys and prints what it did.
async fn upgrade_keys(args: UpgradeKeys) -> anyhow::Result<()> {
    // `rediss://` needs a TLS crypto provider, as the server's own connections do.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = redis::Client::open(args.redis_url.as_str())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let keys = Keys::new(args.key_prefix);
    let report = upgrade::run(&mut conn, &keys, args.dry_run).await?;
    print!("{report}");
    Ok(())
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what systemd and orchestrators send).
async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down");
    shutdown.cancel();
}
