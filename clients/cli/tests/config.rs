//! `tessera config show` against the real daemon, `tessera config check` on
//! files (no daemon), and the fleet rollout examples of docs/admin.md: the
//! example policy passes `config check`, the Debian conffile package
//! builds, and the Ansible role passes `ansible-playbook --syntax-check` and
//! renders a policy that passes `config check`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{Daemon, FAST_CONFIG, stderr, stdout};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const EXAMPLE_POLICY: &str = "examples/debian/tessera-policy/etc/tessera/tessera.d/50-policy.toml";

/// `tessera ARGS…` with no daemon, no terminal and a clean configuration
/// environment (`env` added).
fn tessera(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(common::tessera_bin());
    c.args(args)
        .env_remove("TESSERA_CONFIG_ROOT")
        .env_remove("XDG_CONFIG_HOME")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn config_show_lists_every_key_with_its_origin() {
    let d = Daemon::start_with(&format!("{FAST_CONFIG}[pin]\nmin_length = 6\n"));
    let file = d.dir.path().join("tesserad.toml").display().to_string();
    let lines = FAST_CONFIG.lines().count();

    let out = d.run(&["config", "show"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.lines().any(|l| l == "pin.min_length = 6"), "{text}");
    assert!(
        text.lines()
            .any(|l| l == "scanner.sources = [\"image\", \"camera\", \"screen\"]"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l == "# plugins.allow is unset"),
        "{text}"
    );

    let out = d.run(&["config", "show", "--origin"]);
    let text = stdout(&out);
    let line = text.lines().find(|l| l.contains("pin.min_length")).unwrap();
    assert!(
        line.starts_with(&format!("{file}:{}  ", lines + 2)),
        "{line}"
    );
    let line = text
        .lines()
        .find(|l| l.contains("activation.timeout_minutes"))
        .unwrap();
    assert!(
        line.starts_with("default ") && line.ends_with("activation.timeout_minutes = 10"),
        "{line}"
    );

    let out = d.run(&["config", "show", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), tessera_config::KEYS.len());
    let e = entries
        .iter()
        .find(|e| e["key"] == "pin.min_length")
        .unwrap();
    assert_eq!(e["value"], "6");
    assert_eq!(e["layer"], "admin");
    assert_eq!(e["file"], file.as_str());
    assert_eq!(v["files"][0]["path"], file.as_str());
    assert_eq!(v["warnings"], serde_json::json!([]));
}

#[test]
fn config_show_without_a_daemon_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    let out = tessera(
        &[
            "--socket",
            dir.path().join("none.sock").to_str().unwrap(),
            "config",
            "show",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

#[test]
fn config_check_a_file_before_rollout() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "locked = [\"pin.min_length\"]\n[pin]\nmin_length = 6\n",
    )
    .unwrap();
    let out = tessera(&["config", "check", good.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("ok (admin): {}\n", good.display()));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[pin]\nmin_length = 6\n\n[accounts]\nalgorithms = [\"SHA1\", \"MD4\"]\n",
    )
    .unwrap();
    let out = tessera(&["config", "check", bad.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "tessera: {}: line 5, column 14: accounts.algorithms must be a list of names from: SHA1, SHA256, SHA512 (e.g. [\"SHA1\"]); \"MD4\" is not one of them\n",
            bad.display()
        )
    );
    let out = tessera(&["config", "check", "--json", bad.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["error"]["code"], "CONFIG_INVALID");

    // As a user file, `locked` is refused.
    let out = tessera(&["config", "check", "--user", good.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("only administrator"),
        "{}",
        stderr(&out)
    );

    let out = tessera(
        &[
            "config",
            "check",
            dir.path().join("missing.toml").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read"), "{}", stderr(&out));
}

#[test]
fn config_check_every_layer_of_a_machine() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let home = dir.path().join("home");
    let admin = root.join("etc/tessera/tessera.d/50-policy.toml");
    let user = home.join("tessera/tessera.toml");
    std::fs::create_dir_all(admin.parent().unwrap()).unwrap();
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(
        &admin,
        "locked = [\"accounts.otpauth\"]\n[accounts]\notpauth = false\n",
    )
    .unwrap();
    std::fs::write(&user, "[pin]\nmin_length = 8\n").unwrap();
    let env: &[(&str, &Path)] = &[("XDG_CONFIG_HOME", &home)];
    let out = tessera(&["config", "check", "--root", root.to_str().unwrap()], env);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        format!(
            "ok (admin): {}\nok (user): {}\n",
            admin.display(),
            user.display()
        )
    );
    // The root can come from the environment too.
    let out = tessera(
        &["config", "check"],
        &[("XDG_CONFIG_HOME", &home), ("TESSERA_CONFIG_ROOT", &root)],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A user value for a locked key is refused: exit 1, naming the lock.
    std::fs::write(&user, "[accounts]\notpauth = true\n").unwrap();
    let out = tessera(&["config", "check", "--root", root.to_str().unwrap()], env);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "warning: {}: line 2, column 1: accounts.otpauth is locked by {} (line 1)",
            user.display(),
            admin.display()
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_example_policy_passes_config_check() {
    let policy = repo().join(EXAMPLE_POLICY);
    let out = tessera(&["config", "check", policy.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn the_debian_conffile_package_builds() {
    if !have("dpkg-deb") {
        println!("SKIPPED: dpkg-deb is not installed (apt-get install dpkg)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // dpkg-deb wants 0755 control folders; copy the layout with modes set.
    let src = repo().join("examples/debian/tessera-policy");
    let pkg = dir.path().join("tessera-policy");
    let out = Command::new("cp")
        .arg("-r")
        .arg(&src)
        .arg(&pkg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = Command::new("chmod")
        .args(["-R", "u=rwX,go=rX"])
        .arg(&pkg)
        .output()
        .unwrap();
    assert!(out.status.success());
    let deb = dir.path().join("tessera-policy.deb");
    let out = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&pkg)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = Command::new("dpkg-deb")
        .arg("--contents")
        .arg(&deb)
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("./etc/tessera/tessera.d/50-policy.toml"),
        "{}",
        stdout(&out)
    );
    let out = Command::new("dpkg-deb")
        .args(["--field"])
        .arg(&deb)
        .arg("Package")
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "tessera-policy");
    let out = Command::new("dpkg-deb")
        .args(["--info"])
        .arg(&deb)
        .arg("conffiles")
        .output()
        .unwrap();
    assert_eq!(stdout(&out).trim(), "/etc/tessera/tessera.d/50-policy.toml");
}

#[test]
fn the_ansible_role_passes_syntax_check_and_renders_a_valid_policy() {
    if !have("ansible-playbook") {
        println!(
            "SKIPPED: ansible-playbook is not installed (scripts/test installs ansible-core with apt when it can)"
        );
        return;
    }
    let ansible = repo().join("examples/ansible");
    let out = Command::new("ansible-playbook")
        .args(["--syntax-check", "-i", "localhost,"])
        .arg(ansible.join("site.yml"))
        .env("ANSIBLE_LOCAL_TEMP", std::env::temp_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // Render the template with the role's defaults, as a run would.
    let dir = tempfile::tempdir().unwrap();
    let rendered = dir.path().join("50-policy.toml");
    let role = ansible.join("roles/tessera");
    let out = Command::new("ansible")
        .args([
            "localhost",
            "-i",
            "localhost,",
            "-c",
            "local",
            "-m",
            "ansible.builtin.template",
            "-a",
        ])
        .arg(format!(
            "src={} dest={}",
            role.join("templates/tessera-policy.toml.j2").display(),
            rendered.display()
        ))
        .arg("-e")
        .arg(format!("@{}", role.join("defaults/main.yml").display()))
        .env("ANSIBLE_LOCAL_TEMP", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = tessera(&["config", "check", rendered.to_str().unwrap()], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The role and the Debian example ship the same policy.
    let a = tessera_config::check_file(&rendered, tessera_config::Layer::Admin).unwrap();
    let b = tessera_config::check_file(&repo().join(EXAMPLE_POLICY), tessera_config::Layer::Admin)
        .unwrap();
    for key in tessera_config::KEYS {
        assert_eq!(a.value_text(key.key), b.value_text(key.key), "{}", key.key);
    }
    assert_eq!(
        a.provenance.locks.keys().collect::<Vec<_>>(),
        b.provenance.locks.keys().collect::<Vec<_>>()
    );
}
