//! `org.tessera.Authenticator1` at `/org/tessera/Authenticator1`: the gRPC
//! API's operations on the session bus. Each method admits the caller,
//! makes one service call and translates the result (`types.rs`); the
//! documentation is in `daemon/dbus/org.tessera.Authenticator1.xml`.

use std::collections::HashMap;

use tessera_core::SecretString;
use zbus::message::Header;
use zbus::object_server::SignalEmitter;
use zbus::zvariant::OwnedValue;
use zbus::{Connection, interface};

use super::types::{
    self, Account, ApprovalResult, BiometricStatus, Code, Decoded, Plugin, ScanSourceInfo, Status,
    TpmStatus, View,
};
use super::{Error, Peers};
use crate::service::import_ops::ImportRequest;
use crate::service::{Client, Service};

type Result<T> = std::result::Result<T, Error>;

pub struct Authenticator {
    service: Service,
    peers: Peers,
}

impl Authenticator {
    pub fn new(service: Service, peers: Peers) -> Self {
        Self { service, peers }
    }
}

#[interface(name = "org.tessera.Authenticator1")]
impl Authenticator {
    /// Does nothing but admit the caller: the floor of a round trip.
    async fn ping(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<()> {
        self.peers.admit(c, &h).await
    }

    #[zbus(out_args("accounts"))]
    async fn list_accounts(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<Vec<Account>> {
        self.peers.admit(c, &h).await?;
        let accounts = self.service.list_accounts().await?;
        Ok(accounts.iter().map(types::account).collect())
    }

    #[zbus(out_args("account"))]
    async fn get_account(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        account: &str,
    ) -> Result<Account> {
        self.peers.admit(c, &h).await?;
        Ok(types::account(&self.service.get_account(account).await?))
    }

    #[zbus(out_args("account"))]
    async fn rename_account(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        account: &str,
        label: &str,
    ) -> Result<Account> {
        self.peers.admit(c, &h).await?;
        Ok(types::account(
            &self.service.rename_account(account, label).await?,
        ))
    }

    #[zbus(out_args("account"))]
    async fn set_notifications(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        account: &str,
        allowed: bool,
    ) -> Result<Account> {
        self.peers.admit(c, &h).await?;
        Ok(types::account(
            &self
                .service
                .set_account_notifications(account, allowed)
                .await?,
        ))
    }

    #[zbus(out_args("account"))]
    async fn delete_account(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        account: &str,
    ) -> Result<Account> {
        self.peers.admit(c, &h).await?;
        Ok(types::account(&self.service.delete_account(account).await?))
    }

    #[zbus(out_args("code"))]
    async fn get_code(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        account: &str,
    ) -> Result<Code> {
        self.peers.admit(c, &h).await?;
        Ok(types::code(&self.service.code(account).await?))
    }

    #[zbus(out_args("code"))]
    async fn peek_code(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        account: &str,
    ) -> Result<Code> {
        self.peers.admit(c, &h).await?;
        Ok(types::code(&self.service.peek_code(account).await?))
    }

    #[zbus(out_args("code"))]
    async fn commit_code(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        account: &str,
        counter: u64,
    ) -> Result<Code> {
        self.peers.admit(c, &h).await?;
        Ok(types::code(
            &self.service.commit_code(account, counter).await?,
        ))
    }

    #[zbus(out_args("codes"))]
    async fn list_codes(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<Vec<Code>> {
        self.peers.admit(c, &h).await?;
        let codes = self.service.list_codes().await?;
        Ok(codes.iter().map(types::code).collect())
    }

    #[zbus(out_args("response", "suite"))]
    async fn respond(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        account: &str,
        challenge: &str,
    ) -> Result<(String, String)> {
        self.peers.admit(c, &h).await?;
        Ok(self.service.respond(account, challenge).await?)
    }

    #[zbus(out_args("result"))]
    async fn request_approval(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        account: &str,
        message: &str,
    ) -> Result<ApprovalResult> {
        self.peers.admit(c, &h).await?;
        Ok(types::approval(
            &self.service.request_approval(account, message).await?,
        ))
    }

    #[zbus(out_args("status"))]
    async fn status(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<Status> {
        self.peers.admit(c, &h).await?;
        Ok(types::status(&self.service.vault_status().await))
    }

    #[zbus(out_args("status"))]
    async fn lock(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<Status> {
        self.peers.admit(c, &h).await?;
        Ok(types::status(&self.service.lock().await))
    }

    #[zbus(out_args("status"))]
    async fn unlock(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        pin: String,
    ) -> Result<Status> {
        self.peers.admit(c, &h).await?;
        let s = self
            .service
            .unlock_with(crate::service::UnlockMethod::Auto, SecretString::new(pin))
            .await?;
        Ok(types::status(&s))
    }

    #[zbus(out_args("status"))]
    async fn unlock_with(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        method: &str,
        pin: String,
    ) -> Result<Status> {
        self.peers.admit(c, &h).await?;
        let method = types::unlock_method(method)?;
        let s = self
            .service
            .unlock_with(method, SecretString::new(pin))
            .await?;
        Ok(types::status(&s))
    }

    #[zbus(out_args("status"))]
    async fn biometric_status(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<BiometricStatus> {
        self.peers.admit(c, &h).await?;
        Ok(types::biometric_status(
            &self.service.biometric_status().await,
        ))
    }

    #[zbus(out_args("status"))]
    async fn enable_biometrics(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        pin: String,
    ) -> Result<BiometricStatus> {
        self.peers.admit(c, &h).await?;
        let s = self
            .service
            .enable_biometrics(types::optional_pin(pin))
            .await?;
        Ok(types::biometric_status(&s))
    }

    #[zbus(out_args("status"))]
    async fn disable_biometrics(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        pin: String,
    ) -> Result<BiometricStatus> {
        self.peers.admit(c, &h).await?;
        let s = self
            .service
            .disable_biometrics(types::optional_pin(pin))
            .await?;
        Ok(types::biometric_status(&s))
    }

    #[zbus(out_args("status"))]
    async fn tpm_status(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<TpmStatus> {
        self.peers.admit(c, &h).await?;
        Ok(types::tpm_status(self.service.tpm_status().await))
    }

    #[zbus(out_args("status"))]
    async fn enroll_tpm(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        pin: String,
    ) -> Result<TpmStatus> {
        self.peers.admit(c, &h).await?;
        let s = self.service.enroll_tpm(SecretString::new(pin)).await?;
        Ok(types::tpm_status(s))
    }

    #[zbus(out_args("status"))]
    async fn remove_tpm(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        pin: String,
    ) -> Result<TpmStatus> {
        self.peers.admit(c, &h).await?;
        let s = self.service.remove_tpm(SecretString::new(pin)).await?;
        Ok(types::tpm_status(s))
    }

    #[zbus(out_args("status"))]
    async fn change_pin(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        old_pin: String,
        new_pin: String,
    ) -> Result<Status> {
        self.peers.admit(c, &h).await?;
        let s = self
            .service
            .change_pin(SecretString::new(old_pin), SecretString::new(new_pin))
            .await?;
        Ok(types::status(&s))
    }

    /// Another authenticator's backup file read and, with `apply`, its new
    /// accounts stored: Backup.Import.
    #[zbus(out_args("result"))]
    #[allow(clippy::too_many_arguments)]
    async fn import_file(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        format: String,
        file: Vec<u8>,
        password: String,
        new_pin: String,
        apply: bool,
    ) -> Result<types::ImportResult> {
        self.peers.admit(c, &h).await?;
        let plan = self
            .service
            .import_file(ImportRequest {
                format: (!format.is_empty()).then_some(format),
                bytes: file,
                password: types::optional_pin(password),
                new_pin: types::optional_pin(new_pin),
                apply,
            })
            .await?;
        Ok(types::import_result(&plan))
    }

    /// The backup folder and the automatic backups in it: Backup.List.
    #[zbus(out_args("folder", "backups"))]
    async fn list_backups(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<(String, Vec<(String, u64, i64)>)> {
        self.peers.admit(c, &h).await?;
        let (folder, list) = self.service.list_backups().await?;
        Ok((
            folder.display().to_string(),
            list.iter()
                .map(|b| (b.path.display().to_string(), b.bytes, b.modified_unix))
                .collect(),
        ))
    }

    /// A backup of the vault under a password of its own (and, with
    /// `with_pin`, the vault's PIN): Backup.Create. The caller writes it.
    #[zbus(out_args("file", "accounts"))]
    async fn create_backup(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        password: String,
        with_pin: bool,
    ) -> Result<(Vec<u8>, u32)> {
        self.peers.admit(c, &h).await?;
        let (file, accounts) = self
            .service
            .create_backup(types::optional_pin(password), with_pin)
            .await?;
        Ok((file, accounts as u32))
    }

    /// A backup's changes to the vault and, with `apply`, the restore:
    /// Backup.Restore. `mode` is "merge" or "replace".
    #[zbus(out_args("result"))]
    #[allow(clippy::too_many_arguments)]
    async fn restore_backup(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        name: String,
        file: Vec<u8>,
        pin: String,
        mode: String,
        apply: bool,
    ) -> Result<types::RestoreResult> {
        self.peers.admit(c, &h).await?;
        let mode = types::restore_mode(&mode)?;
        let plan = self
            .service
            .restore_backup(&name, file, SecretString::new(pin), mode, apply)
            .await?;
        Ok(types::restore_result(&plan))
    }

    /// The vault's otpauth accounts as a file another authenticator reads,
    /// confirmed with the vault's PIN: Backup.Export. The caller writes
    /// the file (0600).
    #[zbus(out_args("file", "result"))]
    async fn export_file(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        format: String,
        pin: String,
        password: String,
    ) -> Result<(Vec<u8>, types::ExportResult)> {
        self.peers.admit(c, &h).await?;
        let export = self
            .service
            .export(
                &format,
                types::optional_pin(pin),
                types::optional_pin(password),
            )
            .await?;
        Ok((export.file.to_vec(), types::export_result(&export)))
    }

    /// Reads a signing request and opens it for review: Signing.Start.
    /// `source` takes the keys of StartActivation's, the request's text
    /// under `payload`.
    #[zbus(out_args("view"))]
    async fn start_signing(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        source: HashMap<String, OwnedValue>,
    ) -> Result<types::SigningView> {
        self.peers.admit(c, &h).await?;
        let source = types::signing_source(&source)?;
        let view = self.service.start_signing(source).await?;
        Ok(types::signing(&view))
    }

    /// One signing as it is now: Signing.Get.
    #[zbus(out_args("view"))]
    async fn get_signing(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        id: String,
    ) -> Result<types::SigningView> {
        self.peers.admit(c, &h).await?;
        Ok(types::signing(&self.service.signing(&id)?))
    }

    /// Approves with the PIN, or a finger when `finger`; neither (an empty
    /// PIN, no finger) only for a vault without a PIN: Signing.Approve.
    #[zbus(out_args("view"))]
    async fn approve_signing(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        id: String,
        pin: String,
        finger: bool,
    ) -> Result<types::SigningView> {
        self.peers.admit(c, &h).await?;
        use crate::service::signing::Confirmation;
        let confirmation = match (types::optional_pin(pin), finger) {
            (Some(_), true) => {
                return Err(crate::error::ServiceError::invalid_argument(
                    "give the PIN or finger = true, not both",
                )
                .into());
            }
            (Some(pin), false) => Confirmation::Pin(pin),
            (None, true) => Confirmation::Finger,
            (None, false) => Confirmation::Session,
        };
        let view = self.service.approve_signing(&id, confirmation).await?;
        Ok(types::signing(&view))
    }

    /// Declines: nothing is signed. Signing.Decline.
    #[zbus(out_args("view"))]
    async fn decline_signing(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        id: String,
    ) -> Result<types::SigningView> {
        self.peers.admit(c, &h).await?;
        Ok(types::signing(&self.service.decline_signing(&id)?))
    }

    #[zbus(out_args("view"))]
    async fn start_activation(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        source: HashMap<String, OwnedValue>,
    ) -> Result<View> {
        self.peers.admit(c, &h).await?;
        let source = types::source(&source)?;
        let client = Client::bus(h.sender().map_or("?", |s| s.as_str()));
        Ok(types::view(
            &self.service.start_activation(client, source).await?,
        ))
    }

    #[zbus(out_args("view"))]
    async fn send_event(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        activation_id: &str,
        revision: u64,
        event: &str,
        argument: String,
    ) -> Result<View> {
        self.peers.admit(c, &h).await?;
        let event = types::event(event, argument)?;
        let v = self
            .service
            .send_event(activation_id, revision, event)
            .await?;
        Ok(types::view(&v))
    }

    /// A new scan from `home` (after "Start over") from any source: the
    /// D-Bus form of gRPC's `Scan` event, which `SendEvent`'s string
    /// argument cannot carry (an image is bytes).
    #[zbus(out_args("view"))]
    async fn rescan(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        activation_id: &str,
        revision: u64,
        source: HashMap<String, OwnedValue>,
    ) -> Result<View> {
        self.peers.admit(c, &h).await?;
        let source = types::source(&source)?;
        let v = self
            .service
            .send_event(
                activation_id,
                revision,
                crate::activation::Event::Scan(source),
            )
            .await?;
        Ok(types::view(&v))
    }

    /// The newest frame of the camera's live preview while the activation
    /// scans with the camera: grey, one byte per pixel. `sequence` 0 and no
    /// pixels: no frame (yet, or any more, or not a camera scan).
    #[zbus(out_args("sequence", "width", "height", "pixels"))]
    async fn preview_frame(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        activation_id: &str,
    ) -> Result<(u64, u32, u32, Vec<u8>)> {
        self.peers.admit(c, &h).await?;
        let preview = self.service.activation_preview(activation_id)?;
        Ok(match preview.frame {
            Some(f) => (preview.sequence, f.width, f.height, f.pixels.clone()),
            None => (preview.sequence, 0, 0, Vec::new()),
        })
    }

    #[zbus(out_args("view"))]
    async fn get_activation(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        activation_id: &str,
    ) -> Result<View> {
        self.peers.admit(c, &h).await?;
        let view = self
            .service
            .watch_activation(activation_id)?
            .borrow()
            .clone();
        Ok(types::view(&self.service.activation_view_shown(view).await))
    }

    #[zbus(out_args("codes"))]
    async fn scan(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        source: HashMap<String, OwnedValue>,
        raw: bool,
    ) -> Result<Vec<Decoded>> {
        self.peers.admit(c, &h).await?;
        let source = types::scan_source(&source)?;
        let codes = self.service.scan(source).await?;
        Ok(codes.iter().map(|d| types::decoded(d, raw)).collect())
    }

    #[zbus(out_args("sources"))]
    async fn scan_sources(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<Vec<ScanSourceInfo>> {
        self.peers.admit(c, &h).await?;
        Ok(self
            .service
            .scan_sources()
            .iter()
            .map(types::source_info)
            .collect())
    }

    #[zbus(out_args("plugins"))]
    async fn list_plugins(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<Vec<Plugin>> {
        self.peers.admit(c, &h).await?;
        Ok(self.service.plugins().iter().map(types::plugin).collect())
    }

    #[zbus(out_args("report"))]
    async fn show_config(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<types::ConfigReport> {
        self.peers.admit(c, &h).await?;
        Ok(types::config_report(self.service.config_report().await))
    }

    /// The running activations by id (invalidated on every change).
    #[zbus(property(emits_changed_signal = "invalidates"))]
    async fn activations(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Option<Header<'_>>,
    ) -> zbus::fdo::Result<HashMap<String, View>> {
        if let Some(h) = h {
            self.peers
                .admit(c, &h)
                .await
                .map_err(|e| zbus::fdo::Error::AccessDenied(e.to_string()))?;
        }
        Ok(self
            .service
            .activation_views_shown()
            .await
            .iter()
            .map(|v| (v.id.clone(), types::view(v)))
            .collect())
    }

    /// An activation changed (any client's: gRPC or D-Bus).
    #[zbus(signal)]
    pub async fn activation_changed(
        emitter: &SignalEmitter<'_>,
        activation_id: &str,
        view: View,
    ) -> zbus::Result<()>;
}
