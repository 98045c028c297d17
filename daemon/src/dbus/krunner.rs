//! KRunner's D-Bus runner (`org.kde.krunner1`) at
//! `/org/tessera/Authenticator1/KRunner`, read by Plasma through
//! `org.tessera.Authenticator.krunner.desktop`. The same results as the
//! GNOME search provider (`search.rs`).

use std::collections::HashMap;

use zbus::message::Header;
use zbus::zvariant::Value;
use zbus::{Connection, interface};

use super::search::{self, ICON};
use super::{Error, Peers};
use crate::service::Service;

/// KRunner's match types (`KRunner::QueryMatch::Type`).
const EXACT_MATCH: i32 = 100;
const POSSIBLE_MATCH: i32 = 30;

/// The one action: show the code (in a notification).
pub const SHOW_ACTION: &str = "show";

/// `(id, text, icon, type, relevance, properties)`.
pub type Match = (
    String,
    String,
    String,
    i32,
    f64,
    HashMap<String, Value<'static>>,
);

pub struct KRunner {
    service: Service,
    peers: Peers,
}

impl KRunner {
    pub fn new(service: Service, peers: Peers) -> Self {
        Self { service, peers }
    }
}

#[interface(name = "org.kde.krunner1")]
impl KRunner {
    #[zbus(out_args("matches"))]
    async fn actions(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
    ) -> Result<Vec<(String, String, String)>, Error> {
        self.peers.admit(c, &h).await?;
        Ok(vec![(
            SHOW_ACTION.into(),
            "Show the code".into(),
            ICON.into(),
        )])
    }

    #[zbus(out_args("matches"))]
    async fn r#match(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        query: String,
    ) -> Result<Vec<Match>, Error> {
        self.peers.admit(c, &h).await?;
        let terms: Vec<String> = query.split_whitespace().map(str::to_owned).collect();
        let query = query.trim().to_lowercase();
        Ok(search::hits(&self.service, &terms)
            .await?
            .into_iter()
            .map(|hit| {
                let (kind, relevance) = if hit.name.to_lowercase() == query {
                    (EXACT_MATCH, 1.0)
                } else {
                    (POSSIBLE_MATCH, 0.7)
                };
                let mut props = HashMap::new();
                props.insert("subtext".to_owned(), Value::from(hit.description));
                (hit.id, hit.name, ICON.to_owned(), kind, relevance, props)
            })
            .collect())
    }

    async fn run(
        &self,
        #[zbus(connection)] c: &Connection,
        #[zbus(header)] h: Header<'_>,
        match_id: &str,
        _action_id: &str,
    ) -> Result<(), Error> {
        self.peers.admit(c, &h).await?;
        search::activate(&self.service, match_id).await
    }
}
