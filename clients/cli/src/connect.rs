//! Finding and connecting to tesserad's Unix socket.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use tonic::transport::{Channel, Endpoint};

use crate::error::{CliError, Result, exit};

/// `$XDG_RUNTIME_DIR/tessera/tessera.sock`, or `/run/user/<uid>/…` when
/// `XDG_RUNTIME_DIR` is unset or empty. (`--socket` and `TESSERA_SOCKET` are
/// handled by clap before this.)
pub fn default_socket_path(xdg_runtime_dir: Option<&str>, uid: u32) -> PathBuf {
    let base = match xdg_runtime_dir {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from(format!("/run/user/{uid}")),
    };
    base.join("tessera").join("tessera.sock")
}

pub fn socket_path(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| {
        let xdg = std::env::var("XDG_RUNTIME_DIR").ok();
        // SAFETY: getuid has no preconditions and cannot fail.
        let uid = unsafe { libc::getuid() };
        default_socket_path(xdg.as_deref(), uid)
    })
}

/// Connects eagerly, so that a daemon that is not running is reported here,
/// before any prompt.
pub async fn connect(path: &Path) -> Result<Channel> {
    let target = path.to_path_buf();
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let p = target.clone();
        async move {
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                tokio::net::UnixStream::connect(p).await?,
            ))
        }
    });
    let endpoint = Endpoint::try_from("http://[::]:50051")
        .map_err(|e| CliError::usage(format!("bad endpoint: {e}")))?;
    endpoint
        .connect_with_connector(connector)
        .await
        .map_err(|e| connect_error(path, &e))
}

fn connect_error(path: &Path, err: &tonic::transport::Error) -> CliError {
    // Find the io::Error under tonic's and hyper's wrappers.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return match io.kind() {
                ErrorKind::NotFound | ErrorKind::ConnectionRefused => CliError::not_running(),
                _ => CliError::new(
                    crate::error::code::DAEMON_NOT_RUNNING,
                    format!("cannot connect to tesserad at {}: {io}", path.display()),
                    exit::UNREACHABLE,
                ),
            };
        }
        source = e.source();
    }
    CliError::new(
        crate::error::code::DAEMON_NOT_RUNNING,
        format!("cannot connect to tesserad at {}: {err}", path.display()),
        exit::UNREACHABLE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_uses_xdg_runtime_dir() {
        assert_eq!(
            default_socket_path(Some("/run/user/1000"), 5),
            PathBuf::from("/run/user/1000/tessera/tessera.sock")
        );
        assert_eq!(
            default_socket_path(Some("/tmp/x"), 5),
            PathBuf::from("/tmp/x/tessera/tessera.sock")
        );
    }

    #[test]
    fn default_path_without_xdg_runtime_dir() {
        assert_eq!(
            default_socket_path(None, 1234),
            PathBuf::from("/run/user/1234/tessera/tessera.sock")
        );
        assert_eq!(
            default_socket_path(Some(""), 1234),
            PathBuf::from("/run/user/1234/tessera/tessera.sock")
        );
    }

    #[tokio::test]
    async fn missing_socket_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let err = connect(&dir.path().join("nope.sock")).await.unwrap_err();
        assert_eq!(err, CliError::not_running());
    }

    #[tokio::test]
    async fn stale_socket_is_not_running() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stale.sock");
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        let err = connect(&path).await.unwrap_err();
        assert_eq!(err, CliError::not_running());
    }
}
