//! `vault.protection = "keyring"` against a real Secret Service: the real
//! daemon binary, gnome-keyring-daemon on a private session bus, and
//! `secret-tool` to look at (and spoil) the keyring item.
//!
//! Run with `scripts/test`, which runs the whole suite inside
//! `dbus-run-session` with `gnome-keyring-daemon --unlock` started. Without
//! a session bus these tests fail, saying so: they are not skipped.

mod common;

use std::process::Stdio;

use common::keyring::*;
use common::*;
use tessera_proto::v1 as pb;

const KEYRING_CONFIG: &str =
    "[vault]\nprotection = \"keyring\"\nargon2_memory_kib = 64\nargon2_iterations = 1\n";
const TOTP_SECRET_B32: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

type Client = pb::activation_client::ActivationClient<tonic::transport::Channel>;

async fn send(
    c: &mut Client,
    view: &pb::ActivationView,
    kind: pb::event::Kind,
) -> pb::ActivationView {
    c.send_event(pb::SendEventRequest {
        activation_id: view.id.clone(),
        revision: view.revision,
        event: event(kind),
    })
    .await
    .expect("event accepted")
    .into_inner()
}

/// Activates an otpauth account; with keyring protection there is no PIN
/// step: straight to the finalize code, then stored.
async fn activate(d: &Daemon, label: &str) -> pb::ActivationView {
    use pb::event::Kind as E;
    let mut c = d.activation().await;
    let uri = format!("otpauth://totp/Example:{label}?secret={TOTP_SECRET_B32}&issuer=Example");
    let v = c
        .start(pb::StartActivationRequest {
            source: Some(pb::start_activation_request::Source::Payload(uri)),
        })
        .await
        .expect("start")
        .into_inner();
    assert_eq!(state_name(&v), "finalize_code", "no PIN states: {v:?}");
    assert_eq!(shown_code(&v).len(), 6);
    send(&mut c, &v, E::Continue(pb::Empty {})).await
}

async fn code(d: &Daemon, account: &str) -> Result<pb::CodeResponse, tonic::Status> {
    d.accounts()
        .await
        .code(pb::AccountRef {
            account: account.into(),
        })
        .await
        .map(|r| r.into_inner())
}

async fn status(d: &Daemon) -> pb::VaultStatus {
    d.vault()
        .await
        .status(pb::VaultStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_keyring_vault_opens_without_a_pin_and_survives_restarts() {
    require_secret_service("keyring");
    let mut d = Daemon::start(KEYRING_CONFIG);

    let v = activate(&d, "alice").await;
    assert_eq!(state_name(&v), "activated");
    let s = status(&d).await;
    assert!(s.exists && !s.locked);
    assert_eq!(s.protection, pb::Protection::Keyring as i32);

    // One item in the login keyring, named for this vault.
    let id = vault_id(&d);
    assert_eq!(id.len(), 32);
    assert_eq!(keyring_items_for(&id, None), 1);

    // A second activation, on the locked vault, opens it from the keyring
    // and adds to the same vault and the same item.
    d.vault().await.lock(pb::LockRequest {}).await.unwrap();
    let v = activate(&d, "bob").await;
    assert_eq!(state_name(&v), "activated");
    assert_eq!(keyring_items_for(&id, None), 1);

    // Locked: the next code opens it from the keyring.
    let first = code(&d, "alice").await.unwrap();
    d.vault().await.lock(pb::LockRequest {}).await.unwrap();
    assert!(status(&d).await.locked);
    let again = code(&d, "alice")
        .await
        .expect("auto-unlock from the keyring");
    assert_eq!(again.code.len(), 6);
    if again.valid_from_unix == first.valid_from_unix {
        assert_eq!(again.code, first.code);
    }
    assert!(!status(&d).await.locked);

    // Unlock needs no PIN either.
    d.vault().await.lock(pb::LockRequest {}).await.unwrap();
    let s = d
        .vault()
        .await
        .unlock(pb::UnlockRequest {
            pin: String::new(),
            ..Default::default()
        })
        .await
        .expect("unlock without a PIN")
        .into_inner();
    assert!(!s.locked);
    assert_eq!(s.account_count, 2);
    // So does `tessera unlock`, which asks for no PIN (stdin closed).
    d.vault().await.lock(pb::LockRequest {}).await.unwrap();
    let cli = std::path::Path::new(env!("CARGO_BIN_EXE_tesserad")).with_file_name("tessera");
    let out = std::process::Command::new(&cli)
        .arg("--socket")
        .arg(d.socket())
        .arg("unlock")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (cargo build --workspace builds it)", cli.display()));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Vault unlocked, 2 accounts.\n"
    );

    // A restart starts locked; codes work without a PIN.
    assert!(d.stop().unwrap().success());
    d.restart();
    assert!(status(&d).await.locked);
    let list = d
        .accounts()
        .await
        .list(pb::ListAccountsRequest {})
        .await
        .expect("list opens the vault from the keyring")
        .into_inner();
    assert_eq!(list.accounts.len(), 2);
    code(&d, "bob").await.expect("code after restart");

    // Without its keyring item, the locked vault says so and loses nothing.
    d.vault().await.lock(pb::LockRequest {}).await.unwrap();
    let before = std::fs::read(d.data_dir().join("vault")).unwrap();
    secret_tool(
        &["clear", "application", "tessera", "tessera-vault", &id],
        None,
    );
    assert_eq!(keyring_items_for(&id, None), 0);
    let e = code(&d, "alice").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_VAULT_LOCKED");
    assert!(e.message().contains("login keyring"), "{}", e.message());
    assert!(e.message().contains("missing"), "{}", e.message());
    let e = d
        .vault()
        .await
        .unlock(pb::UnlockRequest {
            pin: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.message().contains("login keyring"), "{}", e.message());
    assert!(status(&d).await.locked);
    assert_eq!(std::fs::read(d.data_dir().join("vault")).unwrap(), before);

    // An item that does not open this vault: a clear error, nothing changed.
    let wrong: String = (0..32)
        .map(|_| char::from(b'a' + rand::random::<u8>() % 26))
        .collect();
    secret_tool(
        &[
            "store",
            "--label=Tessera vault key",
            "application",
            "tessera",
            "tessera-vault",
            &id,
            "tessera-slot",
            "keyring",
        ],
        Some(wrong.as_bytes()),
    );
    assert_eq!(keyring_items_for(&id, None), 1);
    let e = code(&d, "alice").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_VAULT_LOCKED");
    assert!(
        e.message()
            .contains("the key in the login keyring does not open this vault"),
        "{}",
        e.message()
    );
    // Bytes of another length are the same mistake.
    secret_tool(
        &[
            "store",
            "--label=Tessera vault key",
            "application",
            "tessera",
            "tessera-vault",
            &id,
            "tessera-slot",
            "keyring",
        ],
        Some(b"short"),
    );
    let e = code(&d, "alice").await.unwrap_err();
    assert!(
        e.message()
            .contains("the key in the login keyring does not open this vault"),
        "{}",
        e.message()
    );
    assert!(status(&d).await.locked);
    assert_eq!(std::fs::read(d.data_dir().join("vault")).unwrap(), before);
    secret_tool(
        &["clear", "application", "tessera", "tessera-vault", &id],
        None,
    );
}

/// With no Secret Service to keep the key, a keyring activation stores
/// nothing and says what to do.
/// A keyring vault whose body turns out damaged: the code request that
/// opens it from the keyring says it is damaged and names the newest
/// automatic backup, as the PIN path does; the file stays as it is.
#[tokio::test]
async fn a_keyring_vault_found_damaged_names_the_newest_backup() {
    require_secret_service("keyring");
    let mut d = Daemon::start(KEYRING_CONFIG);
    activate(&d, "alice").await;
    let vault = d.data_dir().join("vault");
    let folder = d.data_dir().join("backups");
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let newest = loop {
        let mut copies: Vec<_> = std::fs::read_dir(&folder)
            .map(|r| r.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        // Finished copies only, not one being written (`.tmp`).
        copies.retain(|p| p.extension().is_some_and(|e| e == "tessera"));
        copies.sort();
        // The copy of the vault as it is now (the writer runs after the
        // save returns).
        if let Some(last) = copies.pop()
            && std::fs::read(&last).unwrap() == std::fs::read(&vault).unwrap()
        {
            break last;
        }
        assert!(
            std::time::Instant::now() < until,
            "no automatic backup of the vault"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    d.stop();
    let damaged = damage_vault_body(&vault);
    d.restart();
    let e = code(&d, "alice").await.unwrap_err();
    assert_eq!(error_code(&e), "ERROR_CODE_VAULT_UNUSABLE", "{e:?}");
    assert!(
        e.message().contains(&format!(
            "The newest automatic backup is {}",
            newest.display()
        )),
        "{} (the newest: {})",
        e.message(),
        newest.display()
    );
    assert!(status(&d).await.exists, "still serving");
    d.stop();
    assert_eq!(std::fs::read(&vault).unwrap(), damaged, "left as it is");
}

#[tokio::test]
async fn without_a_secret_service_nothing_is_created() {
    require_secret_service("keyring");
    use pb::event::Kind as E;
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::in_dir(dir);
    std::fs::write(d.config_path(), KEYRING_CONFIG).unwrap();
    let nowhere = d.dir.path().join("no-bus");
    let child = d
        .command()
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}", nowhere.display()),
        )
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    d.child = Some(child);
    d.wait_for_socket();

    let mut c = d.activation().await;
    let uri = format!("otpauth://totp/Example:carol?secret={TOTP_SECRET_B32}&issuer=Example");
    let v = c
        .start(pb::StartActivationRequest {
            source: Some(pb::start_activation_request::Source::Payload(uri)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(state_name(&v), "finalize_code");
    let e = c
        .send_event(pb::SendEventRequest {
            activation_id: v.id.clone(),
            revision: v.revision,
            event: event(E::Continue(pb::Empty {})),
        })
        .await;
    let message = match e {
        Err(status) => status.message().to_owned(),
        Ok(view) => format!("{:?}", view.into_inner()),
    };
    assert!(
        message.contains("the login keyring (Secret Service) is not available")
            && message.contains("vault.protection"),
        "{message}"
    );
    assert!(!d.data_dir().join("vault").exists(), "no vault was created");
    assert!(!status(&d).await.exists);
}
