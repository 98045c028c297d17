//! The `Config` gRPC service: `Service::config_report` as messages.

use tessera_proto::v1 as pb;
use tonic::{Request, Response, Status};

use crate::service::Service;
use crate::service::config_ops::ConfigReport;

#[derive(Clone)]
pub struct ConfigHandler {
    service: Service,
}

impl ConfigHandler {
    pub fn new(service: Service) -> Self {
        Self { service }
    }
}

#[tonic::async_trait]
impl pb::config_server::Config for ConfigHandler {
    async fn show(
        &self,
        _: Request<pb::ShowConfigRequest>,
    ) -> Result<Response<pb::ShowConfigResponse>, Status> {
        Ok(Response::new(report(self.service.config_report().await)))
    }
}

fn report(r: ConfigReport) -> pb::ShowConfigResponse {
    pb::ShowConfigResponse {
        entries: r
            .entries
            .into_iter()
            .map(|e| pb::ConfigEntry {
                key: e.key,
                is_set: e.value.is_some(),
                value: e.value.unwrap_or_default(),
                layer: e.layer.name().to_owned(),
                file: e.file.unwrap_or_default(),
                line: e.line as u32,
                locked_by: e.locked_by.unwrap_or_default(),
                restart_required: e.restart_required,
                restart_pending: e.running.is_some(),
                running_value: e.running.flatten().unwrap_or_default(),
            })
            .collect(),
        files: r
            .files
            .into_iter()
            .map(|(layer, path)| pb::ConfigFile {
                layer: layer.name().to_owned(),
                path,
            })
            .collect(),
        warnings: r.warnings,
        noncompliant: r.compliance.problems,
        accounts_checked: r.compliance.accounts_checked,
    }
}
