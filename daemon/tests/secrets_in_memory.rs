//! After Lock, the daemon's memory holds no copy of the PIN and no base32
//! text of a secret it was given: the test reads every readable mapping of
//! the running `tesserad` through `/proc/PID/mem` (which a parent process
//! may read) and searches it for both.

mod common;
mod dbus_bus;

use std::io::{Read, Seek, SeekFrom};

use common::*;
use tessera_proto::v1 as pb;
use tesserad::dbus::types::Status;

/// `len` random characters of `alphabet`: values no other part of the
/// daemon can hold by chance.
fn random_text(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[usize::from(rand::random::<u8>()) % alphabet.len()] as char)
        .collect()
}

/// Where `needle` occurs in the readable memory of process `pid`: the
/// mapping's address range and name for each hit.
fn find_in_memory(pid: u32, needle: &[u8]) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mut mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut hits = Vec::new();
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let name = fields.nth(3).unwrap_or("[anonymous]");
        // Readable, and not the kernel's vsyscall page (unreadable through mem).
        if !perms.starts_with('r') || name == "[vvar]" || name == "[vsyscall]" {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut region).is_err() {
            continue; // e.g. a guard page
        }
        if region.windows(needle.len()).any(|w| w == needle) {
            hits.push(format!("{range} {perms} {name}"));
        }
    }
    hits
}

/// The hits of the PIN and of the secret's text after a Lock. The daemon
/// closes each gRPC connection (whose buffers hold earlier requests) once
/// it is idle after the lock, so this looks again for up to 10 s before
/// it answers.
async fn hits_after_lock(pid: u32, pin: &str, secret: &str) -> (Vec<String>, Vec<String>) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let hits = (
            find_in_memory(pid, pin.as_bytes()),
            find_in_memory(pid, secret.as_bytes()),
        );
        if (hits.0.is_empty() && hits.1.is_empty()) || std::time::Instant::now() > deadline {
            return hits;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn after_lock_no_pin_and_no_secret_text_stay_in_the_daemons_memory() {
    let pin = random_text(b"0123456789", 10);
    let secret_b32 = random_text(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32);

    let d = Daemon::start(FAST_CONFIG);
    let pid = d.child.as_ref().unwrap().id();
    let uri = format!("otpauth://totp/Memory:alice?secret={secret_b32}&issuer=Memory");
    activate_payload(&d, &uri, &pin).await;

    // Codes, a lock and an unlock with the PIN, a code again: the usual day.
    let mut accounts = d.accounts().await;
    let mut vault = d.vault().await;
    let code = |accounts: &mut pb::accounts_client::AccountsClient<_>| {
        let mut accounts = accounts.clone();
        async move {
            accounts
                .code(pb::AccountRef {
                    account: "memory".into(),
                })
                .await
                .unwrap()
        }
    };
    code(&mut accounts).await;
    vault.lock(pb::LockRequest {}).await.unwrap();
    vault
        .unlock(pb::UnlockRequest {
            pin: pin.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    code(&mut accounts).await;

    // Before Lock the daemon holds the decrypted accounts; the search
    // finds what it looks for when it is there.
    let pin_hits_unlocked = find_in_memory(pid, pin.as_bytes());

    vault.lock(pb::LockRequest {}).await.unwrap();
    let status = vault
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    assert!(status.locked);

    let (pin_hits, secret_hits) = hits_after_lock(pid, &pin, &secret_b32).await;
    assert!(
        pin_hits.is_empty() && secret_hits.is_empty(),
        "after Lock, the PIN is in {pin_hits:?} and the secret's base32 text in \
         {secret_hits:?} (PIN found before Lock in {pin_hits_unlocked:?})"
    );

    // The search itself works: a value the daemon must hold (its vault's
    // file name in its data folder path) is found.
    let data_dir = d.data_dir();
    let path = data_dir.to_str().unwrap().as_bytes();
    assert!(!find_in_memory(pid, path).is_empty());
}

/// The same over D-Bus, whose connection to the bus stays open for the
/// daemon's life: the PIN and the otpauth text arrive in bus messages.
#[tokio::test]
async fn over_dbus_too_no_pin_and_no_secret_text_stay_after_lock() {
    let pin = random_text(b"0123456789", 10);
    let secret_b32 = random_text(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 32);
    let bus = dbus_bus::PrivateBus::start();
    let d = dbus_bus::daemon_on(&bus, FAST_CONFIG).await;
    let pid = d.child.as_ref().unwrap().id();
    let c = bus.connect().await;
    let p = zbus::Proxy::new(
        &c,
        tesserad::dbus::BUS_NAME,
        tesserad::dbus::PATH,
        tesserad::dbus::BUS_NAME,
    )
    .await
    .unwrap();

    let uri = format!("otpauth://totp/Memory:bob?secret={secret_b32}&issuer=Memory");
    dbus_bus::activate_with(&p, &uri, &pin, false).await;
    let _: Status = p.call("Lock", &()).await.unwrap();
    let _: Status = p.call("Unlock", &(pin.as_str(),)).await.unwrap();
    let status: Status = p.call("Lock", &()).await.unwrap();
    assert!(status.locked);

    let (pin_hits, secret_hits) = hits_after_lock(pid, &pin, &secret_b32).await;
    assert!(
        pin_hits.is_empty() && secret_hits.is_empty(),
        "after Lock, the PIN is in {pin_hits:?} and the secret's base32 text in {secret_hits:?}"
    );
}
