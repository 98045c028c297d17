//! The gRPC service implementations: decode, call the service, encode.

use std::pin::Pin;

use tessera_core::SecretString;
use tessera_proto::v1 as pb;
use tokio_stream::{Stream, StreamExt, wrappers::WatchStream};
use tonic::{Request, Response, Status};

use super::convert::{self, status};
use crate::service::Service;
use crate::service::import_ops::ImportRequest;

type Reply<T> = Result<Response<T>, Status>;

#[derive(Clone)]
pub struct Handlers {
    service: Service,
}

impl Handlers {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[tonic::async_trait]
impl pb::accounts_server::Accounts for Handlers {
    async fn list(&self, _: Request<pb::ListAccountsRequest>) -> Reply<pb::ListAccountsResponse> {
        let accounts = self.service.list_accounts().await.map_err(status)?;
        Ok(Response::new(pb::ListAccountsResponse {
            accounts: accounts.iter().map(convert::account).collect(),
        }))
    }

    async fn get(&self, r: Request<pb::AccountRef>) -> Reply<pb::Account> {
        let a = self
            .service
            .get_account(&r.get_ref().account)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::account(&a)))
    }

    async fn rename(&self, r: Request<pb::RenameAccountRequest>) -> Reply<pb::Account> {
        let r = r.into_inner();
        let a = self
            .service
            .rename_account(&r.account, &r.label)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::account(&a)))
    }

    async fn set_notifications(
        &self,
        r: Request<pb::SetNotificationsRequest>,
    ) -> Reply<pb::Account> {
        let r = r.into_inner();
        let a = self
            .service
            .set_account_notifications(&r.account, r.allowed)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::account(&a)))
    }

    async fn delete(&self, r: Request<pb::AccountRef>) -> Reply<pb::DeleteAccountResponse> {
        let a = self
            .service
            .delete_account(&r.get_ref().account)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::DeleteAccountResponse {
            deleted: Some(convert::account(&a)),
        }))
    }

    async fn code(&self, r: Request<pb::AccountRef>) -> Reply<pb::CodeResponse> {
        let c = self
            .service
            .code(&r.get_ref().account)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::code(c)))
    }

    async fn peek_code(&self, r: Request<pb::AccountRef>) -> Reply<pb::CodeResponse> {
        let c = self
            .service
            .peek_code(&r.get_ref().account)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::code(c)))
    }

    async fn commit_code(&self, r: Request<pb::CommitCodeRequest>) -> Reply<pb::CodeResponse> {
        let r = r.into_inner();
        let c = self
            .service
            .commit_code(&r.account, r.counter)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::code(c)))
    }

    async fn list_codes(&self, _: Request<pb::ListCodesRequest>) -> Reply<pb::ListCodesResponse> {
        let codes = self.service.list_codes().await.map_err(status)?;
        Ok(Response::new(pb::ListCodesResponse {
            codes: codes.into_iter().map(convert::code).collect(),
        }))
    }

    async fn respond(&self, r: Request<pb::RespondRequest>) -> Reply<pb::RespondResponse> {
        let r = r.into_inner();
        let (response, suite) = self
            .service
            .respond(&r.account, &r.challenge)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::RespondResponse { response, suite }))
    }

    async fn request_approval(
        &self,
        r: Request<pb::RequestApprovalRequest>,
    ) -> Reply<pb::RequestApprovalResponse> {
        let r = r.into_inner();
        let a = self
            .service
            .request_approval(&r.account, &r.message)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::approval(&a)))
    }
}

#[tonic::async_trait]
impl pb::vault_server::Vault for Handlers {
    async fn status(&self, _: Request<pb::VaultStatusRequest>) -> Reply<pb::VaultStatus> {
        let mut status = convert::vault_status(self.service.vault_status().await);
        status.log_destination = self.service.log_destination().to_owned();
        status.settings_warnings = self.service.settings_warnings();
        Ok(Response::new(status))
    }

    async fn lock(&self, _: Request<pb::LockRequest>) -> Reply<pb::VaultStatus> {
        Ok(Response::new(convert::vault_status(
            self.service.lock().await,
        )))
    }

    async fn unlock(&self, r: Request<pb::UnlockRequest>) -> Reply<pb::VaultStatus> {
        let r = r.into_inner();
        let method = convert::unlock_method(r.method).map_err(status)?;
        let pin = SecretString::new(r.pin);
        let s = self
            .service
            .unlock_with(method, pin)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::vault_status(s)))
    }

    async fn biometric_status(
        &self,
        _: Request<pb::BiometricStatusRequest>,
    ) -> Reply<pb::BiometricStatusResponse> {
        let s = self.service.biometric_status().await;
        Ok(Response::new(convert::biometric_status(s)))
    }

    async fn enable_biometrics(
        &self,
        r: Request<pb::EnableBiometricsRequest>,
    ) -> Reply<pb::BiometricStatusResponse> {
        let pin = Some(SecretString::new(r.into_inner().pin)).filter(|p| !p.expose().is_empty());
        let s = self.service.enable_biometrics(pin).await.map_err(status)?;
        Ok(Response::new(convert::biometric_status(s)))
    }

    async fn disable_biometrics(
        &self,
        r: Request<pb::DisableBiometricsRequest>,
    ) -> Reply<pb::BiometricStatusResponse> {
        let pin = Some(SecretString::new(r.into_inner().pin)).filter(|p| !p.expose().is_empty());
        let s = self.service.disable_biometrics(pin).await.map_err(status)?;
        Ok(Response::new(convert::biometric_status(s)))
    }

    async fn tpm_status(&self, _: Request<pb::TpmStatusRequest>) -> Reply<pb::TpmStatusResponse> {
        Ok(Response::new(convert::tpm_status(
            self.service.tpm_status().await,
        )))
    }

    async fn enroll_tpm(&self, r: Request<pb::EnrollTpmRequest>) -> Reply<pb::TpmStatusResponse> {
        let pin = SecretString::new(r.into_inner().pin);
        let s = self.service.enroll_tpm(pin).await.map_err(status)?;
        Ok(Response::new(convert::tpm_status(s)))
    }

    async fn remove_tpm(&self, r: Request<pb::RemoveTpmRequest>) -> Reply<pb::TpmStatusResponse> {
        let pin = SecretString::new(r.into_inner().pin);
        let s = self.service.remove_tpm(pin).await.map_err(status)?;
        Ok(Response::new(convert::tpm_status(s)))
    }

    async fn change_pin(&self, r: Request<pb::ChangePinRequest>) -> Reply<pb::VaultStatus> {
        let r = r.into_inner();
        let old = SecretString::new(r.old_pin);
        let s = if r.check_only {
            self.service.check_pin(old).await
        } else {
            self.service
                .change_pin(old, SecretString::new(r.new_pin))
                .await
        }
        .map_err(status)?;
        Ok(Response::new(convert::vault_status(s)))
    }
}

type ViewStream = Pin<Box<dyn Stream<Item = Result<pb::ActivationView, Status>> + Send>>;

#[tonic::async_trait]
impl pb::activation_server::Activation for Handlers {
    async fn start(&self, r: Request<pb::StartActivationRequest>) -> Reply<pb::ActivationView> {
        let client = super::client(&r);
        let source = convert::source(r.into_inner())?;
        let v = self
            .service
            .start_activation(client, source)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::view(&v)))
    }

    async fn send_event(&self, r: Request<pb::SendEventRequest>) -> Reply<pb::ActivationView> {
        let r = r.into_inner();
        let event = convert::event(r.event)?;
        let v = self
            .service
            .send_event(&r.activation_id, r.revision, event)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::view(&v)))
    }

    async fn get_preview_frame(
        &self,
        r: Request<pb::GetPreviewFrameRequest>,
    ) -> Reply<pb::PreviewFrame> {
        let preview = self
            .service
            .activation_preview(&r.get_ref().activation_id)
            .map_err(status)?;
        Ok(Response::new(convert::preview_frame(&preview)))
    }

    type WatchStream = ViewStream;

    async fn watch(&self, r: Request<pb::WatchActivationRequest>) -> Reply<ViewStream> {
        let rx = self
            .service
            .watch_activation(&r.get_ref().activation_id)
            .map_err(status)?;
        let stream = WatchStream::new(rx).map(|v| Ok(convert::view(&v)));
        Ok(Response::new(Box::pin(stream)))
    }
}

#[tonic::async_trait]
impl pb::plugins_server::Plugins for Handlers {
    async fn list(&self, _: Request<pb::ListPluginsRequest>) -> Reply<pb::ListPluginsResponse> {
        Ok(Response::new(pb::ListPluginsResponse {
            plugins: self.service.plugins().iter().map(convert::plugin).collect(),
        }))
    }
}

#[tonic::async_trait]
impl pb::scanner_server::Scanner for Handlers {
    async fn sources(&self, _: Request<pb::ListSourcesRequest>) -> Reply<pb::ListSourcesResponse> {
        Ok(Response::new(pb::ListSourcesResponse {
            sources: self
                .service
                .scan_sources()
                .iter()
                .map(convert::source_info)
                .collect(),
        }))
    }

    async fn scan(&self, r: Request<pb::ScanRequest>) -> Reply<pb::ScanResponse> {
        let r = r.into_inner();
        let raw = r.raw;
        let source = convert::scan_source(r)?;
        let codes = self.service.scan(source).await.map_err(status)?;
        Ok(Response::new(pb::ScanResponse {
            codes: codes.iter().map(|c| convert::decoded(c, raw)).collect(),
        }))
    }
}

#[tonic::async_trait]
impl pb::signing_server::Signing for Handlers {
    async fn start(&self, r: Request<pb::StartSigningRequest>) -> Reply<pb::SigningView> {
        let source = convert::signing_source(r.into_inner())?;
        let view = self.service.start_signing(source).await.map_err(status)?;
        Ok(Response::new(convert::signing(&view)))
    }

    async fn get(&self, r: Request<pb::SigningId>) -> Reply<pb::SigningView> {
        let view = self.service.signing(&r.into_inner().id).map_err(status)?;
        Ok(Response::new(convert::signing(&view)))
    }

    async fn approve(&self, r: Request<pb::ApproveSigningRequest>) -> Reply<pb::SigningView> {
        let r = r.into_inner();
        let id = r.id.clone();
        let confirmation = convert::confirmation(r)?;
        let view = self
            .service
            .approve_signing(&id, confirmation)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::signing(&view)))
    }

    async fn decline(&self, r: Request<pb::SigningId>) -> Reply<pb::SigningView> {
        let view = self
            .service
            .decline_signing(&r.into_inner().id)
            .map_err(status)?;
        Ok(Response::new(convert::signing(&view)))
    }
}

#[tonic::async_trait]
impl pb::backup_server::Backup for Handlers {
    async fn list(&self, _: Request<pb::ListBackupsRequest>) -> Reply<pb::ListBackupsResponse> {
        let (folder, backups) = self.service.list_backups().await.map_err(status)?;
        Ok(Response::new(convert::backups(&folder, &backups)))
    }

    async fn restore(
        &self,
        r: Request<pb::RestoreBackupRequest>,
    ) -> Reply<pb::RestoreBackupResponse> {
        let r = r.into_inner();
        let mode = convert::restore_mode(r.mode)?;
        let pin = SecretString::new(r.pin);
        let plan = self
            .service
            .restore_backup(&r.name, r.file, pin, mode, r.apply)
            .await
            .map_err(status)?;
        Ok(Response::new(convert::restore_plan(&plan)))
    }

    async fn create(&self, r: Request<pb::CreateBackupRequest>) -> Reply<pb::CreateBackupResponse> {
        let r = r.into_inner();
        let password = (!r.password.is_empty()).then(|| SecretString::new(r.password));
        let (file, accounts) = self
            .service
            .create_backup(password, r.with_pin)
            .await
            .map_err(status)?;
        Ok(Response::new(pb::CreateBackupResponse {
            file,
            accounts: accounts as u32,
        }))
    }

    async fn import(&self, r: Request<pb::ImportRequest>) -> Reply<pb::ImportResponse> {
        let r = r.into_inner();
        let secret = |s: String| (!s.is_empty()).then(|| SecretString::new(s));
        let plan = self
            .service
            .import_file(ImportRequest {
                format: (!r.format.is_empty()).then_some(r.format),
                bytes: r.file,
                password: secret(r.password),
                new_pin: secret(r.new_pin),
                apply: r.apply,
            })
            .await
            .map_err(status)?;
        Ok(Response::new(convert::import_plan(&plan)))
    }

    async fn export(&self, r: Request<pb::ExportRequest>) -> Reply<pb::ExportResponse> {
        let r = r.into_inner();
        let secret = |s: String| (!s.is_empty()).then(|| SecretString::new(s));
        let export = self
            .service
            .export(&r.format, secret(r.pin), secret(r.password))
            .await
            .map_err(status)?;
        Ok(Response::new(convert::export(export)))
    }
}
