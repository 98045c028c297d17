//! The gRPC adapter: serves the service layer on a Unix socket. It only
//! translates (see [`convert`]); every decision is in [`crate::service`],
//! and callers are admitted by [`crate::peer`].

mod config;
mod connections;
mod convert;
mod decode_errors;
mod handlers;

use std::future::Future;

use tokio::net::UnixListener;
use tonic::service::Routes;
use tonic::transport::server::UdsConnectInfo;
use tonic::{Request, Status};

use tessera_proto::v1::accounts_server::AccountsServer;
use tessera_proto::v1::activation_server::ActivationServer;
use tessera_proto::v1::backup_server::BackupServer;
use tessera_proto::v1::config_server::ConfigServer;
use tessera_proto::v1::plugins_server::PluginsServer;
use tessera_proto::v1::scanner_server::ScannerServer;
use tessera_proto::v1::signing_server::SigningServer;
use tessera_proto::v1::vault_server::VaultServer;

use crate::service::Service;
use tessera_scan::MAX_IMAGE_BYTES;

pub use convert::status;

/// Checks every call's peer uid before it reaches a handler.
#[allow(clippy::result_large_err)] // tonic's interceptor signature
fn admit(request: Request<()>) -> Result<Request<()>, Status> {
    let uid = request
        .extensions()
        .get::<UdsConnectInfo>()
        .and_then(|info| info.peer_cred)
        .map(|cred| cred.uid());
    crate::peer::admit(uid).map_err(status)?;
    Ok(request)
}

/// Who sent `request`, for the service's per-client limits: the socket
/// peer's pid.
fn client<T>(request: &Request<T>) -> crate::service::Client {
    let pid = request
        .extensions()
        .get::<UdsConnectInfo>()
        .and_then(|info| info.peer_cred)
        .and_then(|cred| cred.pid());
    crate::service::Client::process(pid)
}

/// Serves until `shutdown` completes; closes every connection when the
/// vault is locked (see [`connections`]).
pub async fn serve(
    service: Service,
    listener: UnixListener,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let locks = service.lock_events();
    let config_handler = config::ConfigHandler::new(service.clone());
    let handlers = handlers::Handlers::new(service);
    // Room for the largest image accepted, plus the message framing.
    let max_message = MAX_IMAGE_BYTES + 64 * 1024;
    // Room for the largest vault file (a backup to restore).
    let max_backup = tessera_files::Kind::Vault.limit() as usize + 64 * 1024;
    let routes = Routes::default()
        .add_service(AccountsServer::with_interceptor(handlers.clone(), admit))
        .add_service(VaultServer::with_interceptor(handlers.clone(), admit))
        .add_service(PluginsServer::with_interceptor(handlers.clone(), admit))
        .add_service(ConfigServer::with_interceptor(config_handler, admit))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            ScannerServer::new(handlers.clone()).max_decoding_message_size(max_message),
            admit,
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            BackupServer::new(handlers.clone()).max_decoding_message_size(max_backup),
            admit,
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            SigningServer::new(handlers.clone()).max_decoding_message_size(max_message),
            admit,
        ))
        .add_service(tonic::service::interceptor::InterceptedService::new(
            ActivationServer::new(handlers).max_decoding_message_size(max_message),
            admit,
        ))
        .prepare();
    let routes = tower::ServiceBuilder::new()
        .layer(decode_errors::DecodeErrorsLayer)
        .service(routes);
    connections::serve(listener, routes, locks, shutdown).await
}
