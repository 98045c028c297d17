//! Fleet policy in the service: putting reloaded settings in force, the
//! policy checks of an activation (otpauth allowed, OTP algorithms, the
//! most accounts), what `tessera config show` shows, and the report of a
//! vault that no longer complies (reported, never changed).

use std::collections::BTreeMap;
use std::path::Path;

use super::Service;
use super::plan::Plan;
use crate::account::AccountKind;
use crate::config::{Applies, BackupConfigExt, Config, KEYS, Layer, PinConfigExt, Problem};
use crate::error::{ErrorCode, ServiceError, ServiceResult};
use crate::vault::{BackupPolicy, Protection};

/// One effective key, as `tessera config show` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigEntry {
    /// `section.key`.
    pub key: String,
    /// TOML text; `None` when unset (`plugins.folders`, `plugins.allow`).
    pub value: Option<String>,
    /// Where the value came from: the layer, and the file and line unless
    /// it is the built-in default.
    pub layer: Layer,
    pub file: Option<String>,
    pub line: usize,
    /// `file:line` of the lock, when locked.
    pub locked_by: Option<String>,
    /// The key takes effect at restart only.
    pub restart_required: bool,
    /// For a restart-only key changed since start: the value in force.
    pub running: Option<Option<String>>,
}

/// The settings in force and what is not in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigReport {
    pub entries: Vec<ConfigEntry>,
    /// The files read, in order, with their layer.
    pub files: Vec<(Layer, String)>,
    /// Problems that did not stop loading (an ignored user file, refused
    /// values for locked keys).
    pub warnings: Vec<String>,
    pub compliance: Compliance,
}

/// How the vault and its accounts stand against the policy in force.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Compliance {
    /// Whether the accounts could be checked (the vault is open, or there
    /// is none); a locked vault is checked when it is next opened.
    pub accounts_checked: bool,
    /// One line per thing that does not comply.
    pub problems: Vec<String>,
}

fn policy(message: impl std::fmt::Display) -> ServiceError {
    ServiceError::new(ErrorCode::Policy, message)
}

/// Refuses a plan that policy does not allow: otpauth payloads when
/// `accounts.otpauth` is false, algorithms not in `accounts.algorithms`.
pub(crate) fn check_plan(config: &Config, plan: &Plan) -> ServiceResult<()> {
    let accounts = &config.accounts;
    for a in &plan.accounts {
        if a.kind == AccountKind::OtpAuth && !accounts.otpauth {
            return Err(policy(
                "otpauth:// codes are turned off by policy (accounts.otpauth = false); ask your administrator",
            ));
        }
        let algorithm = a.params.algorithm().name();
        if !accounts.allows_algorithm(algorithm) {
            return Err(policy(format!(
                "{:?} uses {algorithm}, which policy does not allow (accounts.algorithms = [{}])",
                a.label,
                accounts.algorithms.join(", ")
            )));
        }
    }
    Ok(())
}

/// The automatic backups `config` asks for, for the vault in `data_dir`.
/// A folder that cannot be used (`~/…` without `$HOME`) turns them off
/// with a warning rather than stopping the daemon.
/// Where the automatic copies go (and are looked for), also while they are
/// off; `None` when the setting cannot name a folder.
pub(crate) fn backup_folder(config: &Config, data_dir: &Path) -> Option<std::path::PathBuf> {
    use crate::config::BackupConfigExt;
    config.backup.folder_in(data_dir).ok()
}

pub(crate) fn backup_policy(config: &Config, data_dir: &Path) -> Option<BackupPolicy> {
    match config.backup.policy(data_dir) {
        Ok(policy) => policy,
        Err(e) => {
            tracing::warn!("automatic backups are off: {e}");
            None
        }
    }
}

impl Service {
    /// Puts reloaded settings in force. Calls already running keep the
    /// snapshot they took; the vault takes the new wrong-PIN delays; a vault
    /// that no longer complies is reported in the log (and by `config show`).
    pub async fn apply_config(&self, mut config: Config) {
        let old = self.config();
        carry_start_values(&old, &mut config);
        for key in KEYS.iter().filter(|k| k.applies == Applies::Restart) {
            if config.value_text(key.key) != old.value_text(key.key) {
                tracing::warn!(
                    key = key.key,
                    "configuration: {} changed; it takes effect when tesserad restarts",
                    key.key
                );
            }
        }
        let delays = config.pin.delay_policy();
        let mut vault = self.vault().lock().await;
        vault.set_pin_delay_policy(delays);
        let backups = backup_policy(&config, vault.dir());
        vault.set_backup_policy(backups);
        let folder = backup_folder(&config, vault.dir());
        vault.set_backup_folder(folder);
        vault.set_tpm(Some(crate::config::TpmConfigExt::tpm(&config)));
        drop(vault);
        self.replace_config(config);
        self.log_compliance().await;
    }

    /// Records the start-up values of the restart-only keys (call once,
    /// before serving).
    pub fn mark_config_started(&self) {
        let mut config = (*self.config()).clone();
        let values = start_values(&config);
        config.provenance.at_start = values;
        self.replace_config(config);
    }

    /// Logs what does not comply with the policy in force.
    pub async fn log_compliance(&self) {
        let c = self.compliance().await;
        for p in &c.problems {
            tracing::warn!("policy: {p}");
        }
    }

    /// Checks the vault and, when it is open, its accounts against the
    /// policy in force. Nothing is changed.
    pub async fn compliance(&self) -> Compliance {
        let config = self.config();
        let vault = self.vault().lock().await;
        let mut problems = Vec::new();
        if vault.protection() == Some(Protection::Keyring) && !config.vault.allow_keyring {
            problems.push(
                "the vault opens from the login keyring without a PIN, but policy requires a PIN \
                 (vault.allow_keyring = false): set up a new vault with a PIN"
                    .to_owned(),
            );
        }
        let accounts = match vault.accounts() {
            Ok(a) => Some(a),
            Err(_) if !vault.exists() => Some(&[][..]),
            Err(_) => None,
        };
        if let Some(accounts) = accounts {
            let policy = &config.accounts;
            for a in accounts {
                let algorithm = a.params.algorithm().name();
                if !policy.allows_algorithm(algorithm) {
                    problems.push(format!(
                        "account {:?} ({}) uses {algorithm}, which accounts.algorithms no longer allows; it is kept",
                        a.label, a.id
                    ));
                }
                if a.kind == AccountKind::OtpAuth && !policy.otpauth {
                    problems.push(format!(
                        "account {:?} ({}) is an otpauth account, which accounts.otpauth = false no longer allows; it is kept",
                        a.label, a.id
                    ));
                }
            }
            if policy.max > 0 && accounts.len() > policy.max as usize {
                problems.push(format!(
                    "the vault holds {} accounts, more than accounts.max = {}; none is deleted, no new one can be added",
                    accounts.len(),
                    policy.max
                ));
            }
        }
        Compliance {
            accounts_checked: accounts.is_some(),
            problems,
        }
    }

    /// Refuses `adding` more accounts when the vault would hold more than
    /// `accounts.max`. `require` makes a locked vault an error (at store
    /// time); otherwise a locked vault is not checked (yet).
    pub(crate) async fn check_account_limit(
        &self,
        adding: usize,
        require: bool,
    ) -> ServiceResult<()> {
        let max = self.config().accounts.max;
        if max == 0 {
            return Ok(());
        }
        if require {
            self.ensure_unlocked().await?;
        }
        let vault = self.vault().lock().await;
        let count = match vault.accounts() {
            Ok(a) => a.len(),
            Err(_) if !vault.exists() => 0,
            Err(e) if require => return Err(e.into()),
            Err(_) => return Ok(()),
        };
        if count + adding > max as usize {
            return Err(policy(format!(
                "the vault holds {count} accounts and policy allows at most {max} (accounts.max); \
                 delete one first or ask your administrator"
            )));
        }
        Ok(())
    }

    /// The problems found when the settings in force were loaded (a user
    /// file's dropped keys), one sentence each.
    pub fn settings_warnings(&self) -> Vec<String> {
        let config = self.config();
        config
            .provenance
            .warnings
            .iter()
            .map(Problem::to_string)
            .collect()
    }

    /// Every effective key with its value and origin, the files read, the
    /// warnings of loading and the compliance of the vault.
    pub async fn config_report(&self) -> ConfigReport {
        let config = self.config();
        let p = &config.provenance;
        let at_start = &p.at_start;
        let entries = KEYS
            .iter()
            .map(|k| {
                let value = config.value_text(k.key);
                let origin = p.origins.get(k.key);
                let restart_required = k.applies == Applies::Restart;
                let running = at_start
                    .get(k.key)
                    .filter(|v| restart_required && **v != value)
                    .cloned();
                ConfigEntry {
                    key: k.key.to_owned(),
                    value,
                    layer: origin.map_or(Layer::Default, |o| o.layer),
                    file: origin.map(|o| o.path.display().to_string()),
                    line: origin.map_or(0, |o| o.line),
                    locked_by: p.locks.get(k.key).map(ToString::to_string),
                    restart_required,
                    running,
                }
            })
            .collect();
        ConfigReport {
            entries,
            files: p
                .files
                .iter()
                .map(|(l, f)| (*l, f.display().to_string()))
                .collect(),
            warnings: self.settings_warnings(),
            compliance: self.compliance().await,
        }
    }
}

fn start_values(config: &Config) -> BTreeMap<String, Option<String>> {
    KEYS.iter()
        .filter(|k| k.applies == Applies::Restart)
        .map(|k| (k.key.to_owned(), config.value_text(k.key)))
        .collect()
}

fn carry_start_values(old: &Config, new: &mut Config) {
    new.provenance.at_start = if old.provenance.at_start.is_empty() {
        start_values(old)
    } else {
        old.provenance.at_start.clone()
    };
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tessera_plugin_host::PluginHost;

    use super::*;
    use crate::activation::{Source, State};
    use crate::service::Client;
    use crate::vault::Vault;

    const OTPAUTH: &str = "otpauth://totp/Example:alice?secret=JBSWY3DPEHPK3PXP&issuer=Example";

    fn config(text: &str) -> Config {
        Config::parse(text).unwrap()
    }

    /// `activation.timeout_minutes` bounds an idle activation, and a reload
    /// changes it for the activations that see an event afterwards.
    #[tokio::test(start_paused = true)]
    async fn the_activation_timeout_follows_the_policy_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let s = Service::new(
            Vault::open(dir.path()).unwrap(),
            config("[activation]\ntimeout_minutes = 1\n"),
            Arc::new(PluginHost::empty()),
        );
        let view = s
            .start_activation(Client::internal(), Source::Text(OTPAUTH.into()))
            .await
            .unwrap();
        let mut watch = s.watch_activation(&view.id).unwrap();
        tokio::time::sleep(Duration::from_secs(61)).await;
        watch.changed().await.unwrap();
        assert!(matches!(watch.borrow().state, State::Failed { .. }));

        s.apply_config(config("[activation]\ntimeout_minutes = 30\n"))
            .await;
        let view = s
            .start_activation(Client::internal(), Source::Text(OTPAUTH.into()))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(29 * 60)).await;
        let watch = s.watch_activation(&view.id).unwrap();
        assert_eq!(watch.borrow().state.name(), "choose_pin");
    }

    #[test]
    fn plans_are_checked_against_the_accounts_policy() {
        let plan = |text: &str| {
            Plan::new(
                tessera_core::payload::parse(text).unwrap(),
                1,
                &Default::default(),
            )
            .unwrap()
        };
        let sha1 = plan(OTPAUTH);
        let sha512 = plan(&format!("{OTPAUTH}&algorithm=SHA512"));
        assert!(check_plan(&Config::default(), &sha1).is_ok());
        let no_sha1 = config("[accounts]\nalgorithms = [\"SHA256\", \"SHA512\"]\n");
        let e = check_plan(&no_sha1, &sha1).unwrap_err();
        assert_eq!(e.code, ErrorCode::Policy);
        assert!(e.message.contains("SHA1"), "{}", e.message);
        assert!(check_plan(&no_sha1, &sha512).is_ok());
        let e = check_plan(&config("[accounts]\notpauth = false\n"), &sha512).unwrap_err();
        assert!(
            e.message.contains("accounts.otpauth = false"),
            "{}",
            e.message
        );
    }
}
