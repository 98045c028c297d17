//! Automatic backups through the real daemon (docs/backup.md): every change
//! leaves a copy of the vault file in the backup folder, the oldest beyond
//! `backup.keep` go, the newest copy on a fresh machine gives the same
//! codes, a damaged vault at start-up is left alone and the daemon names
//! the newest copy, and the folder and the feature follow the settings.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use tessera_proto::v1 as pb;

const PIN: &str = "482915";
const MAIL: &str = "otpauth://totp/Example:mail@example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example";

/// The copies in `folder`, oldest first.
fn copies(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "tessera"));
    files.sort();
    files
}

/// Waits (20 s at most) until the newest copy in `folder` is the vault file
/// as it is now: the backup thread writes after the save returns.
fn wait_for_copy_of(vault: &Path, folder: &Path) -> PathBuf {
    let want = std::fs::read(vault).unwrap();
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(newest) = copies(folder).pop()
            && std::fs::read(&newest).unwrap() == want
        {
            return newest;
        }
        assert!(
            Instant::now() < until,
            "no copy of the vault in {}",
            folder.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn rename(d: &Daemon, label: &str) {
    d.accounts()
        .await
        .rename(pb::RenameAccountRequest {
            account: "Example".into(),
            label: label.into(),
        })
        .await
        .unwrap();
}

/// The current code of the one account, read in one TOTP window.
async fn code(d: &Daemon) -> (String, i64) {
    let c = d
        .accounts()
        .await
        .code(pb::AccountRef {
            account: "Example".into(),
        })
        .await
        .unwrap()
        .into_inner();
    (c.code, c.valid_from_unix)
}

#[tokio::test]
async fn every_change_is_copied_and_the_newest_copy_restores_the_same_codes() {
    let d = Daemon::start(&format!("{FAST_CONFIG}[backup]\nkeep = 3\n"));
    let folder = d.data_dir().join("backups");
    let vault = d.data_dir().join("vault");
    activate_payload(&d, MAIL, PIN).await;
    wait_for_copy_of(&vault, &folder);
    for label in ["one", "two", "three", "mail"] {
        rename(&d, label).await;
        wait_for_copy_of(&vault, &folder);
    }
    // The oldest go right after the newest is written.
    let until = Instant::now() + Duration::from_secs(20);
    while copies(&folder).len() > 3 && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(20));
    }
    let kept = copies(&folder);
    assert_eq!(kept.len(), 3, "backup.keep: {kept:?}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert!(kept.iter().all(|p| mode(p) == 0o600), "copies are 0600");
    assert_eq!(mode(&folder), 0o700);

    // A fresh machine: the newest copy as its vault, the same PIN.
    let newest = kept.last().unwrap().clone();
    let fresh = Daemon::unstarted();
    std::fs::create_dir_all(fresh.data_dir()).unwrap();
    std::fs::set_permissions(fresh.data_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::copy(&newest, fresh.data_dir().join("vault")).unwrap();
    let mut fresh = fresh;
    fresh.write_config(FAST_CONFIG);
    fresh.restart();
    unlock(&mut fresh.vault().await, PIN).await.unwrap();
    for _ in 0..3 {
        let (a, b) = (code(&d).await, code(&fresh).await);
        if a.1 == b.1 {
            assert_eq!(a.0, b.0, "the same code from the restored copy");
            return;
        }
    }
    panic!("the two daemons never answered in the same TOTP window");
}

#[tokio::test]
async fn a_damaged_vault_is_left_alone_and_the_newest_copy_is_named() {
    let mut d = Daemon::start(FAST_CONFIG);
    let folder = d.data_dir().join("backups");
    let vault = d.data_dir().join("vault");
    activate_payload(&d, MAIL, PIN).await;
    let newest = wait_for_copy_of(&vault, &folder);
    d.stop();
    let good = std::fs::read(&vault).unwrap();
    let damaged = good[..good.len() / 2].to_vec();
    std::fs::write(&vault, &damaged).unwrap();
    d.restart();
    let e = d
        .vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_VAULT_UNUSABLE");
    assert!(
        e.message().contains(&format!(
            "The newest automatic backup is {}",
            newest.display()
        )),
        "{}",
        e.message()
    );
    d.stop();
    assert_eq!(std::fs::read(&vault).unwrap(), damaged, "left as it is");
    assert_eq!(
        copies(&folder),
        std::slice::from_ref(&newest),
        "no copy was made of the damaged file"
    );

    // The way back the message gives: the copy in the vault's place.
    std::fs::copy(&newest, &vault).unwrap();
    d.restart();
    unlock(&mut d.vault().await, PIN).await.unwrap();
    assert_eq!(code(&d).await.0.len(), 6);
}

/// A vault whose header and checksum read but whose body is damaged (a
/// changed byte of the ciphertext, the checksum written again) starts,
/// locked; unlocking it says it is damaged and
/// names the newest copy, touches nothing, and the daemon keeps serving.
#[tokio::test]
async fn a_vault_found_damaged_at_unlock_names_the_newest_copy() {
    let mut d = Daemon::start(FAST_CONFIG);
    let folder = d.data_dir().join("backups");
    let vault = d.data_dir().join("vault");
    activate_payload(&d, MAIL, PIN).await;
    let newest = wait_for_copy_of(&vault, &folder);
    d.stop();
    let damaged = damage_vault_body(&vault);
    d.restart();
    let e = unlock(&mut d.vault().await, PIN).await.unwrap_err();
    assert_eq!(
        error_code(&e),
        "ERROR_CODE_VAULT_UNUSABLE",
        "{}",
        e.message()
    );
    assert!(e.message().contains("is damaged"), "{}", e.message());
    assert!(
        e.message().contains(&format!(
            "The newest automatic backup is {}",
            newest.display()
        )),
        "{}",
        e.message()
    );
    // Still serving, the file as it was, no copy made of it.
    d.vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap();
    assert_eq!(std::fs::read(&vault).unwrap(), damaged, "left as it is");
    assert_eq!(copies(&folder), std::slice::from_ref(&newest));
}

#[tokio::test]
async fn the_folder_and_the_feature_follow_the_settings() {
    let elsewhere = tempfile::tempdir().unwrap();
    let folder = elsewhere.path().join("tessera");
    let d = Daemon::start(&format!(
        "{FAST_CONFIG}[backup]\nfolder = {:?}\n",
        folder.to_str().unwrap()
    ));
    let vault = d.data_dir().join("vault");
    activate_payload(&d, MAIL, PIN).await;
    wait_for_copy_of(&vault, &folder);
    assert!(!d.data_dir().join("backups").exists());

    let off = Daemon::start(&format!("{FAST_CONFIG}[backup]\nautomatic = false\n"));
    activate_payload(&off, MAIL, PIN).await;
    rename(&off, "renamed").await;
    // Stopping waits for a queued copy: none may have been queued.
    let mut off = off;
    off.stop();
    assert!(copies(&off.data_dir().join("backups")).is_empty());
}
