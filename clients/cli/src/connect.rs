//! Finding and connecting to tesserad's Unix socket, and checking who is
//! on the other end before anything (a PIN, a secret, a payload) is sent:
//! the socket and its folder must be the user's and not writable by
//! others, and the listening process must run as the user (SO_PEERCRED).

use std::io::ErrorKind;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
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

/// The uid the CLI runs as (effective), whose daemon it may talk to; root's
/// is 0.
fn own_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Why the CLI will not talk to what is at the socket path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untrusted(pub String);

impl std::fmt::Display for Untrusted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Untrusted {}

impl From<Untrusted> for CliError {
    fn from(u: Untrusted) -> Self {
        CliError::new(
            crate::error::code::UNTRUSTED_DAEMON,
            format!(
                "{u}; refusing to talk to it, since it may not be tesserad \
                 (nothing was sent)"
            ),
            exit::UNTRUSTED,
        )
    }
}

/// Checks, without following symbolic links, that `socket` is a socket owned
/// by `uid` in a folder owned by `uid` that neither group nor others can
/// write to (so nobody else can have put it there or swap it). A missing
/// socket is `Ok`: connecting reports that the daemon is not running.
pub fn check_socket(socket: &Path, uid: u32) -> Result<(), Untrusted> {
    let folder = match socket.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    match std::fs::symlink_metadata(folder) {
        Ok(meta) => {
            if !meta.file_type().is_dir() {
                return Err(Untrusted(format!(
                    "the socket's folder {} is not a directory (a symbolic link?)",
                    folder.display()
                )));
            }
            if meta.uid() != uid {
                return Err(Untrusted(format!(
                    "the socket's folder {} belongs to uid {}, not to you (uid {uid})",
                    folder.display(),
                    meta.uid()
                )));
            }
            if meta.mode() & 0o022 != 0 {
                return Err(Untrusted(format!(
                    "the socket's folder {} can be written by others (mode {:04o}); \
                     make it private: chmod 700 {}",
                    folder.display(),
                    meta.mode() & 0o7777,
                    folder.display()
                )));
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(Untrusted(format!(
                "cannot check the socket's folder {}: {e}",
                folder.display()
            )));
        }
    }
    match std::fs::symlink_metadata(socket) {
        Ok(meta) => {
            if !meta.file_type().is_socket() {
                return Err(Untrusted(format!("{} is not a socket", socket.display())));
            }
            if meta.uid() != uid {
                return Err(Untrusted(format!(
                    "the socket {} belongs to uid {}, not to you (uid {uid})",
                    socket.display(),
                    meta.uid()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Untrusted(format!(
            "cannot check the socket {}: {e}",
            socket.display()
        ))),
    }
}

/// The listening process's uid (SO_PEERCRED) must be `uid`.
fn check_peer(stream: &tokio::net::UnixStream, socket: &Path, uid: u32) -> std::io::Result<()> {
    let peer = stream.peer_cred()?.uid();
    if peer != uid {
        return Err(std::io::Error::new(
            ErrorKind::PermissionDenied,
            Untrusted(format!(
                "the process serving {} runs as uid {peer}, not as you (uid {uid})",
                socket.display()
            )),
        ));
    }
    Ok(())
}

/// Connects eagerly, so that a daemon that is not running is reported here,
/// before any prompt; refuses a socket or a server that is not the user's
/// ([`check_socket`], then the peer's uid).
pub async fn connect(path: &Path) -> Result<Channel> {
    let uid = own_uid();
    check_socket(path, uid)?;
    let target = path.to_path_buf();
    let connector = tower::service_fn(move |_: tonic::transport::Uri| {
        let p = target.clone();
        async move {
            let stream = tokio::net::UnixStream::connect(&p).await?;
            check_peer(&stream, &p, uid)?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
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
            if let Some(untrusted) = io.get_ref().and_then(|i| i.downcast_ref::<Untrusted>()) {
                return untrusted.clone().into();
            }
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

    #[test]
    fn a_private_folder_and_own_socket_pass() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sock");
        let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(check_socket(&path, own_uid()), Ok(()));
        // Another uid's view: neither the folder nor the socket is theirs.
        let e = check_socket(&path, own_uid().wrapping_add(1)).unwrap_err();
        assert!(e.0.contains("belongs to uid"), "{e}");
    }

    #[test]
    fn a_writable_folder_or_a_plain_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain");
        std::fs::write(&file, b"").unwrap();
        let e = check_socket(&file, own_uid()).unwrap_err();
        assert!(e.0.contains("is not a socket"), "{e}");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = check_socket(&file, own_uid()).unwrap_err();
        assert!(e.0.contains("can be written by others (mode 0777)"), "{e}");
        assert_eq!(CliError::from(e).exit, exit::UNTRUSTED);
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
