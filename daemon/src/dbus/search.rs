//! GNOME Shell's search provider (`org.gnome.Shell.SearchProvider2`) at
//! `/org/tessera/Authenticator1/SearchProvider`, read by the shell through
//! `org.tessera.Authenticator.search-provider.ini`. Results are
//! `account:<id>`, or `unlock` while the vault is locked.

use std::collections::HashMap;

use zbus::message::Header;
use zbus::zvariant::Value;
use zbus::{Connection, interface};

use super::{Error, Peers};
use crate::account::AccountInfo;
use crate::error::{ErrorCode, ServiceError};
use crate::service::search::SearchResults;
use crate::service::{CodeInfo, Service};

/// The result id of "Unlock Tessera".
pub const UNLOCK_ID: &str = "unlock";
/// The prefix of an account's result id.
pub const ACCOUNT_PREFIX: &str = "account:";
pub const ICON: &str = "dialog-password";

/// One result as both shells show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub id: String,
    pub name: String,
    pub description: String,
}

/// "123 456 · Issuer": the code as the service shows it
/// ([`crate::service::accounts::display_code`]), and the issuer.
pub fn describe(account: &AccountInfo, code: Option<&CodeInfo>) -> String {
    let code = match code {
        Some(c) => c.display.clone(),
        None => "press Enter for the next code".into(),
    };
    match &account.issuer {
        Some(issuer) if !issuer.is_empty() => format!("{code} · {issuer}"),
        _ => code,
    }
}

/// The one result while the vault is locked.
fn unlock_hit() -> Hit {
    Hit {
        id: UNLOCK_ID.into(),
        name: "Unlock Tessera".into(),
        description: "The vault is locked: unlock it to see codes".into(),
    }
}

/// The results for `terms`, shared by GNOME Shell and KRunner.
pub async fn hits(service: &Service, terms: &[String]) -> Result<Vec<Hit>, Error> {
    Ok(match service.search(terms).await? {
        SearchResults::Locked => vec![unlock_hit()],
        SearchResults::Accounts(found) => found
            .iter()
            .map(|(a, code)| Hit {
                id: format!("{ACCOUNT_PREFIX}{}", a.id),
                name: a.label.clone(),
                description: describe(a, code.as_ref()),
            })
            .collect(),
    })
}

/// Carries out a chosen result: an account's code is shown in a
/// notification (a daemon has no clipboard of its own; the notification
/// lets the user read or copy it); "unlock" says how to unlock.
pub async fn activate(service: &Service, id: &str) -> Result<(), Error> {
    let notifier = service.notifier().ok_or_else(|| {
        Error::from(ServiceError::new(
            ErrorCode::Unsupported,
            "the daemon has no notification service to show the code in",
        ))
    })?;
    let (summary, body) = if id == UNLOCK_ID {
        (
            "Tessera is locked".to_owned(),
            "Unlock the vault with `tessera unlock`, then search again.".to_owned(),
        )
    } else if let Some(account) = id.strip_prefix(ACCOUNT_PREFIX) {
        let code = service.code(account).await?;
        let until = code
            .valid_until
            .map(|u| {
                let left = u.saturating_sub(crate::service::unix_now());
                format!(" (valid for {left} s)")
            })
            .unwrap_or_default();
        (
            code.account.label.clone(),
            format!("{}{until}", code.display),
        )
    } else {
        return Err(ServiceError::invalid_argument(format!("unknown result id {id:?}")).into());
    };
    notifier
        .show(&summary, &body)
        .await
        .map_err(|e| Error::from(ServiceError::new(ErrorCode::Unsupported, e)))?;
    Ok(())
}

pub struct SearchProvider {
    service: Service,
    peers: Peers,
}

impl SearchProvider {
    pub fn new(service: Service, peers: Peers) -> Self {
        Self { service, peers }
    }
}

#[interface(name = "org.gnome.Shell.SearchProvider2")]
impl SearchProvider {
    async fn get_initial_result_set(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        terms: Vec<String>,
    ) -> Result<Vec<String>, Error> {
        self.peers.admit(c, &h).await?;
        Ok(hits(&self.service, &terms)
            .await?
            .into_iter()
            .map(|h| h.id)
            .collect())
    }

    /// Searches again with the longer terms (a plain new search: it is as
    /// cheap, and the vault may have been locked or changed meanwhile).
    async fn get_subsearch_result_set(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        _previous_results: Vec<String>,
        terms: Vec<String>,
    ) -> Result<Vec<String>, Error> {
        self.peers.admit(c, &h).await?;
        Ok(hits(&self.service, &terms)
            .await?
            .into_iter()
            .map(|h| h.id)
            .collect())
    }

    async fn get_result_metas(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        identifiers: Vec<String>,
    ) -> Result<Vec<HashMap<String, Value<'static>>>, Error> {
        self.peers.admit(c, &h).await?;
        let ids: Vec<String> = identifiers
            .iter()
            .filter_map(|i| i.strip_prefix(ACCOUNT_PREFIX).map(str::to_owned))
            .collect();
        let found = match self.service.accounts_by_id(&ids).await? {
            SearchResults::Accounts(found) => found,
            SearchResults::Locked => Vec::new(),
        };
        let mut metas = Vec::new();
        for id in identifiers {
            let hit = if id == UNLOCK_ID {
                unlock_hit()
            } else if let Some((a, code)) = id
                .strip_prefix(ACCOUNT_PREFIX)
                .and_then(|wanted| found.iter().find(|(a, _)| a.id.as_str() == wanted))
            {
                Hit {
                    id: id.clone(),
                    name: a.label.clone(),
                    description: describe(a, code.as_ref()),
                }
            } else {
                // Gone since the search, or not ours: left out.
                continue;
            };
            let mut meta = HashMap::new();
            meta.insert("id".to_owned(), Value::from(hit.id));
            meta.insert("name".to_owned(), Value::from(hit.name));
            meta.insert("description".to_owned(), Value::from(hit.description));
            meta.insert("gicon".to_owned(), Value::from(ICON));
            metas.push(meta);
        }
        Ok(metas)
    }

    async fn activate_result(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        identifier: &str,
        _terms: Vec<String>,
        _timestamp: u32,
    ) -> Result<(), Error> {
        self.peers.admit(c, &h).await?;
        activate(&self.service, identifier).await
    }

    /// Clicking the provider's icon: says how to see every account.
    async fn launch_search(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        terms: Vec<String>,
        _timestamp: u32,
    ) -> Result<(), Error> {
        self.peers.admit(c, &h).await?;
        let found = hits(&self.service, &terms).await?;
        if let Some(notifier) = self.service.notifier() {
            let body = format!(
                "{} result(s) for {:?}; `tessera list` shows every account",
                found.len(),
                terms.join(" ")
            );
            notifier
                .show("Tessera", &body)
                .await
                .map_err(|e| Error::from(ServiceError::new(ErrorCode::Unsupported, e)))?;
        }
        Ok(())
    }
}
