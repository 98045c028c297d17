//! The security review's probes as a suite, on the real daemon: SIGKILL
//! during saves, a catalogue of damaged files, a full disk, many clients at
//! once, PIN guessing across restarts, and calls right after a lock. Bad
//! input on every RPC and every D-Bus method is in `typed_errors.rs` and
//! `dbus.rs`.
//!
//! The quick sizes run in `scripts/test`; `scripts/reliability` runs them
//! long (`TESSERA_RELIABILITY_KILLS`, `TESSERA_RELIABILITY_CLIENTS`) and
//! prints the figures kept in `docs/reliability.md`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use tessera_core::otp::{Algorithm, hotp};
use tessera_proto::v1 as pb;

const PIN: &str = "482915";
const TOTP: &str =
    "otpauth://totp/Mail:alice@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Mail";
const HOTP: &str =
    "otpauth://hotp/Bank:bob?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Bank&counter=0";
const SEED: &[u8] = b"12345678901234567890";

fn knob(name: &str, quick: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(quick)
}

/// Unlocks with [`PIN`], which must work.
async fn unlock_now(d: &Daemon) {
    unlock(&mut d.vault().await, PIN)
        .await
        .expect("the right PIN unlocks");
}

async fn account(d: &Daemon, query: &str) -> pb::Account {
    d.accounts()
        .await
        .get(pb::AccountRef {
            account: query.into(),
        })
        .await
        .expect("the account is there")
        .into_inner()
}

/// A daemon with a vault holding a TOTP and an HOTP account.
async fn daemon_with_accounts(config: &str) -> Daemon {
    let d = Daemon::start(config);
    activate_payload(&d, TOTP, PIN).await;
    activate_payload(&d, HOTP, PIN).await;
    d
}

fn kill_9(d: &mut Daemon) {
    let mut child = d.child.take().expect("running");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// SIGKILL at a random moment (0–80 ms after the first acknowledged save)
/// while a client renames an account and takes HOTP codes as fast as it
/// can: after each restart the vault opens, the label is the last
/// acknowledged one or the one in flight, and the HOTP counter is past
/// every code handed out.
#[tokio::test(flavor = "multi_thread")]
async fn sigkill_during_saves_loses_no_acknowledged_change() {
    let rounds = knob("TESSERA_RELIABILITY_KILLS", 15);
    let mut d = daemon_with_accounts(FAST_CONFIG).await;
    let (mut renames, mut codes) = (0u64, 0u64);
    for round in 0..rounds {
        // What the daemon acknowledged this round: the last rename's
        // number (+1, 0 = none) and the last HOTP code's counter (+1).
        let renamed = Arc::new(AtomicU64::new(0));
        let counted = Arc::new(AtomicU64::new(0));
        let client = {
            let (renamed, counted) = (renamed.clone(), counted.clone());
            let mut accounts = d.accounts().await;
            tokio::spawn(async move {
                for i in 1u64.. {
                    let label = format!("r{round}-{i}");
                    let request = pb::RenameAccountRequest {
                        account: "mail".into(),
                        label,
                    };
                    if accounts.rename(request).await.is_err() {
                        return;
                    }
                    renamed.store(i, Ordering::SeqCst);
                    let Ok(code) = accounts
                        .code(pb::AccountRef {
                            account: "bank".into(),
                        })
                        .await
                    else {
                        return;
                    };
                    let code = code.into_inner();
                    assert_eq!(
                        code.code,
                        hotp(SEED, Algorithm::Sha1, code.counter, 6).as_str(),
                        "the code is the one for its counter"
                    );
                    counted.store(code.counter + 1, Ordering::SeqCst);
                }
            })
        };
        // Kill at a random moment once saves are under way (a slow disk
        // may take a while for the first).
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while renamed.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rand::random::<u64>() % 80)).await;
        kill_9(&mut d);
        let _ = client.await;
        d.restart();
        unlock_now(&d).await;

        let (renamed, counted) = (
            renamed.load(Ordering::SeqCst),
            counted.load(Ordering::SeqCst),
        );
        assert!(renamed > 0, "round {round}: no rename was acknowledged");
        let label = account(&d, "mail").await.label;
        let n: u64 = label
            .strip_prefix(&format!("r{round}-"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("round {round}: the label is {label:?}"));
        assert!(
            n == renamed || n == renamed + 1,
            "round {round}: rename {renamed} was acknowledged, the vault has {n}"
        );
        let next = account(&d, "bank").await.counter;
        assert!(
            next >= counted,
            "round {round}: code {} was handed out, the next counter is {next}",
            counted.saturating_sub(1)
        );
        renames += renamed;
        // The counter went up by one for each code handed out, all rounds.
        codes = counted;
    }
    let leftovers: Vec<_> = std::fs::read_dir(d.data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    println!(
        "figures: sigkill: {rounds} kills, {renames} acknowledged renames and {codes} HOTP codes, 0 lost"
    );
}

/// Each damaged vault file: the daemon says which file and why on every
/// call, serves on, and leaves the file exactly as it was.
#[tokio::test]
async fn damaged_vault_files_are_named_and_left_untouched() {
    let mut d = daemon_with_accounts(FAST_CONFIG).await;
    d.stop();
    let vault = d.data_dir().join("vault");
    let good = std::fs::read(&vault).unwrap();
    let mut flipped_header = good.clone();
    flipped_header[12] ^= 0x01;
    let mut flipped_body = good.clone();
    let last = flipped_body.len() - 20;
    flipped_body[last] ^= 0x80;
    let catalogue: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("cut in half", good[..good.len() / 2].to_vec()),
        ("cut by one byte", good[..good.len() - 1].to_vec()),
        ("a header byte changed", flipped_header),
        ("a body byte changed", flipped_body),
        (
            "random bytes",
            (0..good.len()).map(|_| rand::random()).collect(),
        ),
        ("text", b"not a vault\n".to_vec()),
        ("bytes appended", [&good[..], b"extra"].concat()),
    ];
    for (what, bytes) in &catalogue {
        std::fs::write(&vault, bytes).unwrap();
        d.restart();
        let e = d
            .vault()
            .await
            .status(pb::VaultStatusRequest {})
            .await
            .expect_err(what);
        assert_eq!(error_code(&e), "ERROR_CODE_VAULT_UNUSABLE", "{what}: {e:?}");
        assert!(e.message().contains("vault"), "{what}: {}", e.message());
        // Anything asked of it is refused the same way; nothing is written.
        let e = d
            .accounts()
            .await
            .rename(pb::RenameAccountRequest {
                account: "mail".into(),
                label: "x".into(),
            })
            .await
            .expect_err(what);
        assert_eq!(error_code(&e), "ERROR_CODE_VAULT_UNUSABLE", "{what}");
        d.stop();
        assert_eq!(
            &std::fs::read(&vault).unwrap(),
            bytes,
            "{what}: the file was changed"
        );
    }
    // The good file again: everything is there.
    std::fs::write(&vault, &good).unwrap();
    d.restart();
    unlock_now(&d).await;
    assert_eq!(account(&d, "mail").await.issuer, "Mail");
    println!(
        "figures: damaged vault files: {} kinds, all named, none changed",
        catalogue.len()
    );
}

/// A damaged wrong-PIN counter never gives free guesses: it costs one
/// delay (docs/security.md), which even the right PIN waits out. A damaged
/// settings file stops start-up naming the file.
#[tokio::test]
async fn damaged_counter_and_settings_files() {
    let mut d = daemon_with_accounts(FAST_CONFIG).await;
    d.stop();
    let counter = d.data_dir().join("pin-attempts");
    for bytes in [&b"garbage"[..], &[0xff; 64][..], &b""[..]] {
        std::fs::write(&counter, bytes).unwrap();
        d.restart();
        let s = vault_status(&mut d.vault().await).await;
        assert!(
            s.failed_attempts >= 1 && s.retry_after_seconds > 0,
            "{bytes:?}: {s:?}"
        );
        let e = unlock(&mut d.vault().await, PIN).await.unwrap_err();
        assert_eq!(error_code(&e), "ERROR_CODE_PIN_DELAYED", "{bytes:?}");
        d.stop();
    }

    for bytes in [
        &[0xff, 0xfe, 0x00][..],
        &b"[vault\nargon2_memory_kib = 64\n"[..],
    ] {
        std::fs::write(d.config_path(), bytes).unwrap();
        let out = d.command().output().unwrap();
        assert!(!out.status.success(), "{bytes:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(d.config_path().to_str().unwrap()),
            "{bytes:?}: {stderr}"
        );
    }
}

/// On a full disk (a 1 MiB tmpfs, as root) a save is refused saying so,
/// the vault file is unchanged, codes are still served, and once there is
/// room the same change works.
#[tokio::test]
async fn a_full_disk_refuses_saves_and_keeps_the_vault() {
    let mut d = Daemon::unstarted();
    let Some(mount) = Mount::tmpfs(&d.data_dir(), "1m") else {
        eprintln!("SKIPPED: needs root to mount a small tmpfs (CI runs as root)");
        return;
    };
    d.write_config(FAST_CONFIG);
    d.restart();
    activate_payload(&d, TOTP, PIN).await;
    let vault = d.data_dir().join("vault");
    let before = std::fs::read(&vault).unwrap();
    fill(&d.data_dir());

    let mut accounts = d.accounts().await;
    let rename = |label: &str| pb::RenameAccountRequest {
        account: "mail".into(),
        label: label.into(),
    };
    let e = accounts.rename(rename("full")).await.unwrap_err();
    assert!(
        e.message().contains("No space left on device"),
        "{}",
        e.message()
    );
    assert_eq!(
        std::fs::read(&vault).unwrap(),
        before,
        "the vault is unchanged"
    );
    let code = accounts
        .code(pb::AccountRef {
            account: "mail".into(),
        })
        .await
        .expect("codes are still served");
    assert_eq!(code.into_inner().code.len(), 6);
    assert_eq!(account(&d, "mail").await.label, "alice@example.com");

    std::fs::remove_file(d.data_dir().join("filler")).unwrap();
    accounts
        .rename(rename("room"))
        .await
        .expect("there is room again");
    d.restart();
    unlock_now(&d).await;
    assert_eq!(account(&d, "mail").await.label, "room");
    d.stop();
    drop(mount);
}

/// Many clients at once, each on its own connection, each asking for codes:
/// every call is answered, and the daemon serves on.
#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_clients_at_once_are_all_served() {
    let clients = knob("TESSERA_RELIABILITY_CLIENTS", 200);
    let d = daemon_with_accounts(FAST_CONFIG).await;
    let socket = d.socket();
    let started = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let socket = socket.clone();
        tasks.spawn(async move {
            let channel = tessera_testkit::daemon::connect(&socket).await;
            let mut accounts = pb::accounts_client::AccountsClient::new(channel);
            for _ in 0..5 {
                let list = accounts
                    .list_codes(pb::ListCodesRequest::default())
                    .await
                    .map_err(|e| e.to_string())?;
                assert_eq!(list.into_inner().codes.len(), 2);
            }
            Ok::<(), String>(())
        });
    }
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done.unwrap() {
            failures.push(e);
        }
    }
    let elapsed = started.elapsed();
    assert!(
        failures.is_empty(),
        "{} of {clients} failed: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    assert_eq!(account(&d, "mail").await.issuer, "Mail");
    println!(
        "figures: load: {clients} clients x 5 ListCodes = {} calls in {:.2} s, 0 failed",
        clients * 5,
        elapsed.as_secs_f64()
    );
}

/// Guessing the PIN: after the free attempts every guess waits, the count
/// survives SIGKILL, and the right PIN waits too.
#[tokio::test]
async fn pin_guesses_are_delayed_and_a_sigkill_does_not_reset_the_count() {
    let config = format!("{FAST_CONFIG}[pin]\nfree_attempts = 3\ndelay_seconds = 600\n");
    let mut d = daemon_with_accounts(&config).await;
    let mut vault = d.vault().await;
    vault.lock(pb::LockRequest {}).await.unwrap();
    for pin in ["000000", "111111", "222222"] {
        let e = unlock(&mut vault, pin).await.unwrap_err();
        assert_eq!(error_code(&e), "ERROR_CODE_WRONG_PIN");
    }
    let e = unlock(&mut vault, "333333").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PIN_DELAYED", "{e:?}");
    drop(vault);
    kill_9(&mut d);
    d.restart();
    let mut vault = d.vault().await;
    let s = vault_status(&mut vault).await;
    assert_eq!(s.failed_attempts, 3, "{s:?}");
    assert!(s.retry_after_seconds > 500, "{s:?}");
    let e = unlock(&mut vault, PIN).await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_PIN_DELAYED", "{e:?}");
}

/// A client that keeps its channel and calls right after Lock is served,
/// not cancelled: the daemon closes connections after a lock only once
/// they are idle.
#[tokio::test]
async fn calls_right_after_a_lock_are_served() {
    let d = daemon_with_accounts(FAST_CONFIG).await;
    let channel = d.channel().await;
    let mut vault = pb::vault_client::VaultClient::new(channel.clone());
    let mut accounts = pb::accounts_client::AccountsClient::new(channel);
    for round in 0..30 {
        vault.lock(pb::LockRequest {}).await.unwrap();
        let e = accounts
            .code(pb::AccountRef {
                account: "mail".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(
            error_code(&e),
            "ERROR_CODE_VAULT_LOCKED",
            "round {round}: {e:?}"
        );
        unlock(&mut vault, PIN)
            .await
            .unwrap_or_else(|e| panic!("round {round}: {e:?}"));
    }
}
