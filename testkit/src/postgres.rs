//! A real PostgreSQL server per test (Debian's `postgresql`): `initdb` in a
//! temporary folder, `postgres` listening on a Unix socket in it (no TCP
//! port), trust authentication for the one user `tessera`, stopped and
//! removed when dropped.
//!
//! PostgreSQL refuses to run as root, so as root (CI) the server runs as
//! the `postgres` user the package creates, in a folder it owns.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running throwaway cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
}

impl Cluster {
    /// Starts a cluster with `fsync` off (a test's data need not survive a
    /// power cut).
    pub fn start() -> Cluster {
        Self::start_with(&["-c", "fsync=off"])
    }

    /// Starts a cluster with these `postgres` options added.
    pub fn start_with(options: &[&str]) -> Cluster {
        let bin = bindir().unwrap_or_else(|| {
            panic!(
                "PostgreSQL's initdb is not installed: scripts/test installs Debian's postgresql \
                 (or set TESSERA_PG_BINDIR)"
            )
        });
        let dir = tempfile::Builder::new()
            .prefix("tessera-pg.")
            .tempdir()
            .expect("a folder for the cluster");
        let owner = unsafe { libc::geteuid() == 0 }.then(postgres_user);
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the folder");
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
            .expect("chmod the folder");
        let cluster = Cluster { dir, bin, owner };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "tessera",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
        );
        let mut server = vec![
            "-k".to_owned(),
            cluster.socket_dir().display().to_string(),
            "-c".to_owned(),
            "listen_addresses=".to_owned(),
            "-c".to_owned(),
            "max_connections=200".to_owned(),
        ];
        server.extend(options.iter().map(|s| (*s).to_owned()));
        let log = cluster.dir.path().join("server.log");
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                data.to_str().unwrap(),
                "-o",
                &server
                    .iter()
                    .map(|s| format!("'{s}'"))
                    .collect::<Vec<_>>()
                    .join(" "),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        cluster
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The folder holding the server's socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A connection string for database `dbname`.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "host={} user=tessera dbname={dbname}",
            self.socket_dir().display()
        )
    }

    /// Makes database `name` and returns its connection string.
    pub fn create_database(&self, name: &str) -> String {
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(name)
    }

    /// Runs `sql` through psql against `dbname`; returns its unaligned output.
    pub fn psql(&self, dbname: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.socket_dir())
            .args(["-U", "tessera", "-d", dbname, "-c", sql])
            .output()
            .or_else(|_| {
                Command::new("psql")
                    .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
                    .arg(self.socket_dir())
                    .args(["-U", "tessera", "-d", dbname, "-c", sql])
                    .output()
            })
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn run(&self, program: &str, args: &[&str]) {
        let mut command = Command::new(self.bin.join(program));
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some((uid, gid)) = self.owner {
            // std drops root's supplementary groups when it sets the uid.
            command.uid(uid).gid(gid);
        }
        let out = command
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let mut command = Command::new(self.bin.join("pg_ctl"));
        command
            .args([
                "-D",
                data.to_str().unwrap(),
                "-m",
                "immediate",
                "-w",
                "stop",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        let _ = command.status();
    }
}

/// Where PostgreSQL's server programs are: `TESSERA_PG_BINDIR`, or the
/// newest `/usr/lib/postgresql/N/bin` (Debian keeps them off the PATH).
pub fn bindir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("TESSERA_PG_BINDIR") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// Whether a PostgreSQL server can be started here.
pub fn available() -> bool {
    bindir().is_some()
}

fn postgres_user() -> (u32, u32) {
    let name = std::ffi::CString::new("postgres").unwrap();
    // SAFETY: getpwnam returns a pointer into static storage or null; read
    // at once, before any other call could change it.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(
        !entry.is_null(),
        "running as root, PostgreSQL needs the `postgres` user (Debian's postgresql package makes it)"
    );
    unsafe { ((*entry).pw_uid, (*entry).pw_gid) }
}
