//! `tesserad`: the per-user Tessera daemon.

use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Parser;
use tokio::net::UnixListener;

use tessera_plugin_host::PluginHost;
use tesserad::config::{Config, Paths, PluginsConfigExt, watch};
use tesserad::service::Service;
use tesserad::vault::{Vault, VaultError};

/// Freed blocks are wiped, so no library's copy of a PIN or secret stays
/// in memory after use (docs/security.md, "Memory").
#[global_allocator]
static ALLOCATOR: tesserad::memory::ZeroOnFree = tesserad::memory::ZeroOnFree;

/// Tessera's authenticator daemon: keeps the vault and serves codes and
/// activations on a Unix socket.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Read exactly this settings file (TOML) as the only layer, instead of
    /// the vendor, admin and user files (docs/admin.md).
    #[arg(long, value_name = "FILE", conflicts_with = "config_root")]
    config: Option<PathBuf>,
    /// Look for the vendor and admin files under DIR/usr/share/tessera and
    /// DIR/etc/tessera [default: $TESSERA_CONFIG_ROOT, else /].
    #[arg(long, value_name = "DIR")]
    config_root: Option<PathBuf>,
    /// Where the vault lives [default: $XDG_DATA_HOME/tessera].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Where the socket lives [default: $XDG_RUNTIME_DIR/tessera].
    #[arg(long, value_name = "DIR")]
    runtime_dir: Option<PathBuf>,
    /// Stay in the foreground (systemd, tests). Without it the daemon
    /// detaches once its socket accepts connections.
    #[arg(long)]
    foreground: bool,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let ready = if args.foreground {
        None
    } else {
        match detach::fork() {
            Ok(detach::Role::Parent(code)) => return code,
            Ok(detach::Role::Child(pipe)) => Some(pipe),
            Err(e) => {
                eprintln!("tesserad: cannot detach: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    };
    let logs = init_logging(args.foreground, data_dir(&args).as_deref());
    tesserad::memory::tune();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tesserad: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args, ready, logs)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("tesserad: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The journal's socket: when it exists, a detached daemon logs there.
const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";
/// The syslog socket: the next choice of a detached daemon.
const SYSLOG_SOCKET: &str = "/dev/log";
/// The log file in the data folder when neither socket exists.
const LOG_FILE: &str = "tesserad.log";

/// Where the daemon writes its log; `tessera status` says it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LogTarget {
    Journal,
    Syslog,
    File(PathBuf),
    Stderr,
}

impl std::fmt::Display for LogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogTarget::Journal => f.write_str("the journal (journalctl -t tesserad)"),
            LogTarget::Syslog => write!(f, "syslog ({SYSLOG_SOCKET}, identifier tesserad)"),
            LogTarget::File(path) => write!(f, "the file {}", path.display()),
            LogTarget::Stderr => f.write_str("standard error"),
        }
    }
}

/// Started by systemd (`JOURNAL_STREAM`): the journal. In the foreground
/// otherwise: standard error. Detached (standard error goes to /dev/null):
/// the journal when its socket exists, else syslog when `/dev/log` exists,
/// else `tesserad.log` in the data folder.
fn choose_log_target(
    foreground: bool,
    under_systemd: bool,
    exists: impl Fn(&Path) -> bool,
    data_dir: Option<&Path>,
) -> LogTarget {
    if under_systemd {
        return LogTarget::Journal;
    }
    if foreground {
        return LogTarget::Stderr;
    }
    if exists(Path::new(JOURNAL_SOCKET)) {
        LogTarget::Journal
    } else if exists(Path::new(SYSLOG_SOCKET)) {
        LogTarget::Syslog
    } else if let Some(dir) = data_dir {
        LogTarget::File(dir.join(LOG_FILE))
    } else {
        LogTarget::Stderr
    }
}

/// Sets up logging ([`choose_log_target`]); `RUST_LOG` filters. A target
/// that cannot be opened falls back to standard error, and says so there.
fn init_logging(foreground: bool, data_dir: Option<&Path>) -> LogTarget {
    use tracing_subscriber::{EnvFilter, prelude::*};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let target = choose_log_target(
        foreground,
        std::env::var_os("JOURNAL_STREAM").is_some(),
        |p| p.exists(),
        data_dir,
    );
    let stderr = || tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match &target {
        LogTarget::Journal => match tracing_journald::layer() {
            Ok(journald) => {
                registry.with(journald).init();
                return target;
            }
            Err(e) => eprintln!("tesserad: cannot log to the journal: {e}"),
        },
        LogTarget::Syslog => {
            let identity = c"tesserad";
            match syslog_tracing::Syslog::new(
                identity,
                syslog_tracing::Options::LOG_PID,
                syslog_tracing::Facility::User,
            ) {
                Some(syslog) => {
                    registry
                        .with(
                            tracing_subscriber::fmt::layer()
                                .with_writer(syslog)
                                .with_ansi(false)
                                .without_time()
                                .with_target(false),
                        )
                        .init();
                    return target;
                }
                None => eprintln!("tesserad: cannot log to syslog: already in use"),
            }
        }
        LogTarget::File(path) => match open_log_file(path) {
            Ok(file) => {
                registry
                    .with(
                        tracing_subscriber::fmt::layer()
                            .with_writer(std::sync::Mutex::new(file))
                            .with_ansi(false),
                    )
                    .init();
                return target;
            }
            Err(e) => eprintln!("tesserad: cannot log to {}: {e}", path.display()),
        },
        LogTarget::Stderr => {}
    }
    registry.with(stderr()).init();
    LogTarget::Stderr
}

/// The log file, appended to, 0600, in a 0700 folder.
fn open_log_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// The data folder: `--data-dir`, else `$XDG_DATA_HOME/tessera`, else
/// `~/.local/share/tessera`.
fn data_dir(args: &Args) -> Option<PathBuf> {
    args.data_dir.clone().or_else(|| {
        default_dir("XDG_DATA_HOME", || {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share"))
        })
    })
}

fn default_dir(var: &str, fallback: impl FnOnce() -> Option<PathBuf>) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(fallback)
        .map(|d| d.join("tessera"))
}

/// Refuses a folder holding one of ours (the parent of the runtime folder:
/// `XDG_RUNTIME_DIR`, or the parent of `--runtime-dir`) when someone else
/// could replace what is in it: it must belong to this user or root, and
/// if group or others may write to it, it must have the sticky bit (as
/// `/tmp` has), so that nobody else can rename or remove our folder.
/// Refusing (not warning) is the safe choice: a swapped runtime folder lets
/// another user put their socket where clients send PINs.
fn trusted_parent(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let own = tesserad::peer::own_uid();
    if meta.uid() != own && meta.uid() != 0 {
        bail!(
            "{} belongs to uid {}, not to this user (uid {own}) or root: another user could \
             replace the socket's folder in it; not starting (use --runtime-dir)",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 && meta.mode() & 0o1000 == 0 {
        bail!(
            "{} can be written by others (mode {:04o}, no sticky bit): another user could \
             replace the socket's folder in it; not starting (make it private: chmod 700 {}, \
             or use --runtime-dir)",
            dir.display(),
            meta.mode() & 0o7777,
            dir.display()
        );
    }
    Ok(())
}

/// Creates `dir` 0700 if needed and refuses one that another user owns or
/// that group or others can write to (someone could have put files there);
/// one that others can only read or enter is made 0700.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let meta =
        std::fs::symlink_metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if !meta.file_type().is_dir() {
        bail!("{} is not a directory (a symbolic link?)", dir.display());
    }
    if meta.uid() != tesserad::peer::own_uid() {
        bail!(
            "{} belongs to uid {}, not to this user",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "{} can be written by others (mode {:04o}); someone else may have put files \
             there; not starting (check it, then: chmod 700 {})",
            dir.display(),
            meta.mode() & 0o7777,
            dir.display()
        );
    }
    if meta.mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("cannot make {} private (0700)", dir.display()))?;
    }
    Ok(())
}

/// The gRPC socket: the one systemd passed (socket activation,
/// `LISTEN_FDS`; `true`), or `path` bound here (`false`).
fn listen(path: &Path) -> anyhow::Result<(UnixListener, bool)> {
    let mut fds = listenfd::ListenFd::from_env();
    if fds.len() > 0 {
        let listener = fds
            .take_unix_listener(0)
            .context("the socket passed by systemd (LISTEN_FDS) cannot be used")?
            .context(
                "the first socket passed by systemd (LISTEN_FDS) is not a Unix stream socket",
            )?;
        listener
            .set_nonblocking(true)
            .context("cannot make the passed socket non-blocking")?;
        let local = listener
            .local_addr()
            .ok()
            .and_then(|a| a.as_pathname().map(Path::to_path_buf));
        tracing::info!(socket = ?local, "serving the socket passed by systemd");
        return Ok((UnixListener::from_std(listener)?, true));
    }
    Ok((bind_socket(path)?, false))
}

/// Binds the socket 0600, replacing a stale one that nobody listens on.
fn bind_socket(path: &Path) -> anyhow::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            bail!("another tesserad is already serving {}", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("cannot remove the stale socket {}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", path.display()))?;
    Ok(listener)
}

async fn run(args: Args, ready: Option<detach::ReadyPipe>, logs: LogTarget) -> anyhow::Result<()> {
    // Listen for signals before the socket exists, so a SIGTERM sent as soon
    // as it accepts is neither lost nor fatal before clean-up is possible.
    let signals = Signals::new().context("cannot install the signal handlers")?;
    // The layered settings (docs/admin.md): an invalid vendor or admin file
    // stops the start; an invalid user file is ignored with a warning.
    let config_paths = match &args.config {
        Some(path) => Paths::single(path),
        None => Paths::standard(args.config_root.as_deref()),
    };
    let config = watch::load(&config_paths)
        .map_err(|e| anyhow::anyhow!("invalid configuration, not starting: {e}"))?;
    watch::log_warnings(&config);
    // Before serving: a SIGHUP must never find its default action (exit).
    let reloader =
        watch::Reloader::new(config_paths).context("cannot install the SIGHUP handler")?;
    let data_dir =
        data_dir(&args).context("no data folder: set XDG_DATA_HOME or HOME, or pass --data-dir")?;
    let runtime_dir = args
        .runtime_dir
        .or_else(|| {
            default_dir("XDG_RUNTIME_DIR", || {
                Some(PathBuf::from(format!(
                    "/run/user/{}",
                    tesserad::peer::own_uid()
                )))
            })
        })
        .context("no runtime folder: set XDG_RUNTIME_DIR or pass --runtime-dir")?;
    private_dir(&data_dir)?;
    // Created first (0700, with any missing parents), then checked with its
    // parent before anything is put in it.
    private_dir(&runtime_dir)?;
    if let Some(parent) = runtime_dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        trusted_parent(parent)?;
    }

    let plugins = load_plugins(&config).await?;
    let socket = runtime_dir.join("tessera.sock");
    let vault = match Vault::open(&data_dir) {
        Ok(vault) => vault,
        // Another daemon serves this vault: this one has nothing to do.
        Err(e @ VaultError::Busy { .. }) => return Err(e.into()),
        Err(e) => {
            let (listener, socket_activated) = listen(&socket)?;
            let backup = newest_backup(&config, &data_dir);
            return serve_unusable_vault(
                e,
                backup,
                listener,
                &socket,
                socket_activated,
                ready,
                signals,
            )
            .await;
        }
    };
    let (listener, socket_activated) = listen(&socket)?;
    let service = Service::new(vault, config, plugins);
    service.mark_config_started();
    service.log_compliance().await;
    tokio::spawn(reloader.run(service.clone()));
    tokio::spawn(service.clone().auto_lock_loop());
    // The session bus: org.tessera.Authenticator1, the shells' search, and
    // the notification client. Without one, gRPC only.
    let bus = tesserad::dbus::connect(&service).await;
    if let Some(bus) = &bus {
        service.set_notifier(tesserad::notify::Notifier::new(bus.connection.clone()));
    }
    service.set_log_destination(logs.to_string());
    tracing::info!(socket = %socket.display(), vault = %data_dir.display(), logs = %logs, "tesserad ready");
    if let Some(pipe) = ready {
        pipe.ready(&socket);
    }
    // Type=notify under systemd; nothing happens without NOTIFY_SOCKET.
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!("cannot tell systemd the daemon is ready: {e}");
    }

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(tesserad::grpc::serve(service.clone(), listener, async {
        let _ = stopped.await;
    }));
    signals.wait().await;
    let _ = stop.send(());
    // Let calls in flight finish; idle clients keep their connections open
    // indefinitely, so stop waiting after a grace period.
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(joined) => joined.context("the server task failed")??,
        Err(_) => tracing::info!("clients still connected after the grace period; closing"),
    }
    service.lock().await;
    // The last change's automatic backup, if it is still being written.
    service.flush_backups().await;
    drop(bus);
    // A socket from systemd stays: systemd listens on it for the next start.
    if !socket_activated {
        let _ = std::fs::remove_file(&socket);
    }
    tracing::info!("tesserad stopped; vault locked");
    Ok(())
}

/// The vault cannot be opened (damaged, not a vault, written by a newer
/// Tessera, unsafe or unreadable). Exiting would leave clients to say only
/// "tesserad is not running"; instead the daemon serves its socket and
/// answers every call (of its own user; others are refused as always)
/// with `ERROR_CODE_VAULT_UNUSABLE` and the reason, touching nothing,
/// until it is stopped. No D-Bus name is taken.
/// The newest automatic backup, for the message about a vault that cannot
/// be opened.
fn newest_backup(config: &Config, data_dir: &Path) -> Option<PathBuf> {
    use tesserad::config::BackupConfigExt;
    // Also when they are off now: copies made before may be there.
    let folder = config.backup.folder_in(data_dir).ok()?;
    tesserad::vault::backups::newest(&folder)
}

async fn serve_unusable_vault(
    error: VaultError,
    backup: Option<PathBuf>,
    listener: UnixListener,
    socket: &Path,
    socket_activated: bool,
    ready: Option<detach::ReadyPipe>,
    signals: Signals,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    let restore = match &error {
        VaultError::Corrupt { path, .. } => format!(
            ". {}",
            tesserad::vault::backups::restore_hint(path, backup.as_deref())
        ),
        _ => String::new(),
    };
    let reason = format!("tesserad cannot open the vault: {error}{restore}");
    tracing::error!("{reason}; answering every call with it until stopped");
    // Still on the terminal of whoever started it (before detaching).
    eprintln!("tesserad: {reason}");
    let mut answer = tonic::Status::new(tonic::Code::FailedPrecondition, reason);
    answer.metadata_mut().insert(
        tessera_proto::v1::ERROR_CODE_METADATA,
        tonic::metadata::MetadataValue::from_static(
            tessera_proto::v1::ErrorCode::VaultUnusable.as_str_name(),
        ),
    );
    if let Some(pipe) = ready {
        pipe.ready(socket);
    }
    if let Err(e) = sd_notify::notify(&[sd_notify::NotifyState::Ready]) {
        tracing::warn!("cannot tell systemd the daemon is ready: {e}");
    }
    let stop = signals.wait();
    tokio::pin!(stop);
    loop {
        let stream = tokio::select! {
            _ = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!("accepting a connection failed: {e}");
                    continue;
                }
            },
        };
        let reply = match tesserad::peer::admit(stream.peer_cred().ok().map(|c| c.uid())) {
            Ok(()) => answer.clone(),
            Err(refused) => tesserad::grpc::status(refused),
        };
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |_request| {
                let reply = reply.clone();
                async move { Ok::<_, std::convert::Infallible>(reply.into_http::<tonic::body::Body>()) }
            });
            let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
    if !socket_activated {
        let _ = std::fs::remove_file(socket);
    }
    tracing::info!("tesserad stopped");
    Ok(())
}

/// Loads the plugins of `[plugins]` off the runtime (libraries load with
/// blocking calls). A plugin that fails is listed as failed with its reason;
/// only a failed loader task stops the daemon.
async fn load_plugins(config: &Config) -> anyhow::Result<Arc<PluginHost>> {
    // Checked when the settings were read.
    let folders = config.plugins.folders().map_err(anyhow::Error::msg)?;
    let allow = config.plugins.allow_list().map_err(anyhow::Error::msg)?;
    for folder in &folders {
        tracing::debug!(folder = %folder.path.display(), build_output = folder.build_output, "plugin folder");
    }
    let host = tokio::task::spawn_blocking(move || PluginHost::load(&folders, allow.as_ref()))
        .await
        .context("loading the plugins failed")?;
    let plugins = host.plugins();
    let loaded = plugins
        .iter()
        .filter(|p| p.status == tessera_plugin_host::PluginStatus::Loaded)
        .count();
    tracing::info!(
        loaded,
        failed = plugins.len() - loaded,
        "plugins loaded{}",
        if plugins
            .iter()
            .any(|p| p.name == tesserad::service::scanning::IMAGE_PLUGIN && p.kind.is_some())
        {
            ""
        } else {
            "; no image plugin, so images are decoded in process"
        }
    );
    Ok(Arc::new(host))
}

/// How long shutdown waits for calls in flight.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// SIGTERM and SIGINT, both meaning "shut down cleanly".
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    async fn wait(mut self) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM: shutting down"),
            _ = self.int.recv() => tracing::info!("SIGINT: shutting down"),
        }
    }
}

/// Detaching from the terminal: fork before any thread starts; the parent
/// waits until the child reports its socket ready (or its error) and exits
/// with the matching status, so `tesserad && tessera list` works.
/// Hand-written because it is a few system calls that must happen before
/// the async runtime exists.
mod detach {
    use std::io::{Read, Write};
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::process::ExitCode;

    pub enum Role {
        Parent(ExitCode),
        Child(ReadyPipe),
    }

    pub struct ReadyPipe(std::fs::File);

    impl ReadyPipe {
        pub fn ready(mut self, socket: &std::path::Path) {
            let _ = writeln!(self.0, "ready {}", socket.display());
            // Let go of the terminal now that start-up errors are reported.
            if let Ok(null) = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/dev/null")
            {
                use std::os::fd::AsRawFd;
                for fd in 0..=2 {
                    // SAFETY: dup2 onto the standard descriptors of this process.
                    unsafe { libc::dup2(null.as_raw_fd(), fd) };
                }
            }
        }
    }

    pub fn fork() -> std::io::Result<Role> {
        let mut fds = [0; 2];
        // SAFETY: pipe writes two descriptors into the array.
        if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the descriptors were just created and are owned here.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: no other thread exists yet (called first thing in main).
        match unsafe { libc::fork() } {
            -1 => Err(std::io::Error::last_os_error()),
            0 => {
                drop(read);
                // SAFETY: setsid has no preconditions in a fresh child.
                unsafe { libc::setsid() };
                Ok(Role::Child(ReadyPipe(std::fs::File::from(write))))
            }
            _ => {
                drop(write);
                let mut msg = String::new();
                let _ = std::fs::File::from(read).read_to_string(&mut msg);
                match msg.strip_prefix("ready ") {
                    Some(socket) => {
                        println!("tesserad is running; socket {}", socket.trim());
                        Ok(Role::Parent(ExitCode::SUCCESS))
                    }
                    // The child printed its error to the shared stderr.
                    None => Ok(Role::Parent(ExitCode::FAILURE)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_goes_where_someone_can_read_it() {
        let data = Path::new("/home/u/.local/share/tessera");
        let none = |_: &Path| false;
        let journal = |p: &Path| p == Path::new(JOURNAL_SOCKET);
        let syslog = |p: &Path| p == Path::new(SYSLOG_SOCKET);
        let both = |_: &Path| true;
        // Under systemd: the journal, attached or not.
        assert_eq!(
            choose_log_target(true, true, none, Some(data)),
            LogTarget::Journal
        );
        // In the foreground by hand: the terminal.
        assert_eq!(
            choose_log_target(true, false, both, Some(data)),
            LogTarget::Stderr
        );
        // Detached: the journal, else syslog, else a file in the data folder.
        assert_eq!(
            choose_log_target(false, false, both, Some(data)),
            LogTarget::Journal
        );
        assert_eq!(
            choose_log_target(false, false, journal, Some(data)),
            LogTarget::Journal
        );
        assert_eq!(
            choose_log_target(false, false, syslog, Some(data)),
            LogTarget::Syslog
        );
        assert_eq!(
            choose_log_target(false, false, none, Some(data)),
            LogTarget::File(data.join("tesserad.log"))
        );
        assert_eq!(
            LogTarget::File(data.join("tesserad.log")).to_string(),
            "the file /home/u/.local/share/tessera/tesserad.log"
        );
        assert_eq!(
            LogTarget::Syslog.to_string(),
            "syslog (/dev/log, identifier tesserad)"
        );
    }
}
