//! Turning the daemon's messages into JSON values and human text. Pure
//! functions, so that the output formats are unit-tested.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Value, json};

use crate::error::normalize_code;
use tessera_proto::v1::{
    Account, AccountKind, ActivationView, CodeResponse, DecodedCode, PluginInfo, PluginKind,
    PluginStatus, Protection, ScannerInput, VaultStatus, activation_state::Kind as State,
};

/// A JSON value whose objects keep their keys in insertion order (so that
/// `"state"` comes first), without turning on serde_json's `preserve_order`
/// for the whole workspace.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Plain(Value),
    Object(Vec<(String, Json)>),
    Array(Vec<Json>),
}

impl Json {
    pub fn object() -> Self {
        Json::Object(Vec::new())
    }

    /// Sets `key` (replacing an earlier value); a no-op on non-objects.
    pub fn set(&mut self, key: &str, value: impl Into<Json>) {
        if let Json::Object(fields) = self {
            let value = value.into();
            match fields.iter_mut().find(|(k, _)| k == key) {
                Some((_, v)) => *v = value,
                None => fields.push((key.to_owned(), value)),
            }
        }
    }

    /// The same value as a `serde_json::Value` (key order lost).
    #[cfg(test)]
    pub fn to_value(&self) -> Value {
        match self {
            Json::Plain(v) => v.clone(),
            Json::Object(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
            Json::Array(items) => Value::Array(items.iter().map(Json::to_value).collect()),
        }
    }
}

impl From<Value> for Json {
    fn from(v: Value) -> Self {
        Json::Plain(v)
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Plain(v) => v.serialize(serializer),
            Json::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (k, v) in fields {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
        }
    }
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| std::fmt::Error)?;
        f.write_str(&text)
    }
}

/// The snake_case name of a state, as in the JSON lines and the proto.
pub fn state_name(state: Option<&State>) -> &'static str {
    match state {
        None => "unknown",
        Some(State::Home(_)) => "home",
        Some(State::Scanning(_)) => "scanning",
        Some(State::DeviceCode(_)) => "device_code",
        Some(State::ChoosePin(_)) => "choose_pin",
        Some(State::ConfirmPin(_)) => "confirm_pin",
        Some(State::EnterPin(_)) => "enter_pin",
        Some(State::ChooseMethod(_)) => "choose_method",
        Some(State::BiometricPermission(_)) => "biometric_permission",
        Some(State::BiometricEnroll(_)) => "biometric_enroll",
        Some(State::FinalizeCode(_)) => "finalize_code",
        Some(State::NotificationPermission(_)) => "notification_permission",
        Some(State::Activated(_)) => "activated",
        Some(State::CancelConfirm(_)) => "cancel_confirm",
        Some(State::Failed(_)) => "failed",
    }
}

pub fn view_state(view: &ActivationView) -> Option<&State> {
    view.state.as_ref().and_then(|s| s.kind.as_ref())
}

/// "tessera", "totp", "hotp", "steam", "motp", "yandex" (or "unspecified").
pub fn kind_name(kind: i32) -> &'static str {
    match AccountKind::try_from(kind) {
        Ok(AccountKind::Tessera) => "tessera",
        Ok(AccountKind::Totp) => "totp",
        Ok(AccountKind::Hotp) => "hotp",
        Ok(AccountKind::Steam) => "steam",
        Ok(AccountKind::Motp) => "motp",
        Ok(AccountKind::Yandex) => "yandex",
        _ => "unspecified",
    }
}

pub fn protection_name(protection: i32) -> &'static str {
    match Protection::try_from(protection) {
        Ok(Protection::None) => "none",
        Ok(Protection::Pin) => "pin",
        Ok(Protection::Keyring) => "keyring",
        _ => "unspecified",
    }
}

fn set_nonempty(map: &mut Json, key: &str, value: &str) {
    if !value.is_empty() {
        map.set(key, json!(value));
    }
}

fn extra_json(extra: &std::collections::HashMap<String, String>) -> Json {
    let mut sorted: Vec<_> = extra.iter().collect();
    sorted.sort();
    Json::Object(
        sorted
            .into_iter()
            .map(|(k, v)| (k.clone(), Json::Plain(json!(v))))
            .collect(),
    )
}

/// An account: always id, label, issuer, kind; the rest when set.
pub fn account_json(a: &Account) -> Json {
    let mut m = Json::object();
    m.set("id", json!(a.id));
    m.set("label", json!(a.label));
    m.set("issuer", json!(a.issuer));
    m.set("kind", json!(kind_name(a.kind)));
    set_nonempty(&mut m, "otp_type", &a.otp_type);
    set_nonempty(&mut m, "algorithm", &a.algorithm);
    if a.digits > 0 {
        m.set("digits", json!(a.digits));
    }
    if a.period > 0 {
        m.set("period", json!(a.period));
    }
    if a.otp_type == "hotp" || a.counter > 0 {
        m.set("counter", json!(a.counter));
    }
    if a.created_unix != 0 {
        m.set("created_unix", json!(a.created_unix));
    }
    set_nonempty(&mut m, "serial", &a.serial);
    set_nonempty(&mut m, "user_id", &a.user_id);
    set_nonempty(&mut m, "ocra_suite", &a.ocra_suite);
    if a.notifications {
        m.set("notifications", json!(true));
    }
    if !a.extra.is_empty() {
        m.set("extra", extra_json(&a.extra));
    }
    m
}

/// The state's own fields, without the "state" key.
fn state_fields(state: &State, m: &mut Json) {
    match state {
        State::Home(_)
        | State::Scanning(_)
        | State::BiometricPermission(_)
        | State::NotificationPermission(_) => {}
        State::DeviceCode(c) | State::FinalizeCode(c) => {
            m.set("code", json!(c.code));
            m.set("grouped", json!(c.grouped));
            // A TOTP code: when it stops being valid (Watch has the next).
            if c.valid_until_unix > 0 {
                m.set("valid_until_unix", json!(c.valid_until_unix));
            }
        }
        State::ChoosePin(p) | State::ConfirmPin(p) | State::EnterPin(p) => {
            set_nonempty(m, "reason", &p.reason);
            if p.min_length > 0 {
                m.set("min_length", json!(p.min_length));
            }
            if p.digits_only {
                m.set("digits_only", json!(true));
            }
        }
        State::ChooseMethod(c) => {
            m.set("biometric_available", json!(c.biometric_available));
            set_nonempty(
                m,
                "biometric_unavailable_reason",
                &c.biometric_unavailable_reason,
            );
        }
        State::BiometricEnroll(p) => {
            m.set("stage", json!(p.stage));
            m.set("stages", json!(p.stages));
            set_nonempty(m, "message", &p.message);
        }
        State::Activated(a) => {
            if let Some(first) = a.accounts.first() {
                m.set("account", account_json(first));
            }
            if a.accounts.len() > 1 {
                m.set(
                    "accounts",
                    Json::Array(a.accounts.iter().map(account_json).collect()),
                );
            }
        }
        State::CancelConfirm(c) => {
            let previous = c.previous.as_deref().and_then(|s| s.kind.as_ref());
            m.set("previous", json!(state_name(previous)));
        }
        State::Failed(f) => {
            let (code, message) = f
                .error
                .as_ref()
                .map(|e| (e.code.as_str(), e.message.as_str()))
                .unwrap_or(("ERROR_CODE_UNSPECIFIED", "the activation failed"));
            m.set(
                "error",
                json!({ "code": normalize_code(code), "message": message }),
            );
        }
    }
}

/// One JSON line of `tessera activate --json`:
/// `{"state":"device_code","code":"…","grouped":"…"}`, `{"state":"choose_pin"}`, …
/// Never holds a PIN (no state carries one).
pub fn view_json(view: &ActivationView) -> Json {
    let state = view_state(view);
    let mut m = Json::object();
    m.set("state", json!(state_name(state)));
    if let Some(state) = state {
        state_fields(state, &mut m);
    }
    m
}

/// The first 8 characters of an id, for tables.
pub fn short_id(id: &str) -> &str {
    match id.char_indices().nth(8) {
        Some((i, _)) => &id[..i],
        None => id,
    }
}

pub fn describe_account(label: &str, issuer: &str) -> String {
    if issuer.is_empty() || issuer == label {
        label.to_owned()
    } else {
        format!("{label} ({issuer})")
    }
}

/// The accounts an activation will add, one line each (label, issuer,
/// kind), shown once before the first question (the PIN's included).
pub fn pending_text(accounts: &[tessera_proto::v1::PendingAccount]) -> String {
    accounts
        .iter()
        .map(|a| {
            format!(
                "Activating {} [{}]{}",
                describe_account(&a.label, &a.issuer),
                kind_label(a.kind),
                if a.issuer_verified {
                    " — issuer verified"
                } else {
                    ""
                }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// "Tessera", "TOTP", "HOTP", "Steam Guard", "mOTP", "Yandex Key" for people.
pub fn kind_label(kind: i32) -> &'static str {
    match AccountKind::try_from(kind) {
        Ok(AccountKind::Tessera) => "Tessera",
        Ok(AccountKind::Totp) => "TOTP",
        Ok(AccountKind::Hotp) => "HOTP",
        Ok(AccountKind::Steam) => "Steam Guard",
        Ok(AccountKind::Motp) => "mOTP",
        Ok(AccountKind::Yandex) => "Yandex Key",
        _ => "unknown kind",
    }
}

/// Human text shown when the activation enters a state (the questions are the
/// prompter's). Empty when there is nothing to show.
pub fn view_text(view: &ActivationView) -> String {
    let tessera = view
        .accounts
        .first()
        .is_none_or(|a| a.kind == AccountKind::Tessera as i32);
    match view_state(view) {
        None => String::new(),
        Some(State::Home(_)) => String::new(),
        Some(State::Scanning(_)) => "Reading the activation image…".into(),
        Some(State::DeviceCode(c)) => format!(
            "\n    Device code:  {}\n\nType this code into the issuer's app or page.",
            display_code(c)
        ),
        Some(State::ChoosePin(p)) => {
            let mut s = String::new();
            if !p.reason.is_empty() {
                s += &format!("{}\n", p.reason);
            }
            s += "Choose a PIN for your Tessera vault";
            if p.min_length > 0 {
                // Worded as policy is: "digits" only when it wants digits.
                s += &format!(" (at least {})", crate::prompt::pin_rule(p));
            } else if p.digits_only {
                s += " (digits only)";
            }
            s += ".";
            s
        }
        Some(State::ConfirmPin(p)) | Some(State::EnterPin(p)) => p.reason.clone(),
        Some(State::ChooseMethod(_)) => String::new(),
        Some(State::BiometricPermission(_)) => String::new(),
        Some(State::BiometricEnroll(p)) => {
            let mut s = format!("Enrolling biometrics: step {} of {}", p.stage, p.stages);
            if !p.message.is_empty() {
                s += &format!(": {}", p.message);
            }
            s
        }
        Some(State::FinalizeCode(c)) => {
            if tessera {
                format!(
                    "\n    Finalize code:  {}\n\nType this code into the issuer's page to finish.",
                    display_code(c)
                )
            } else {
                format!(
                    "\n    Current code:  {}\n\nCheck that the site accepts this code.",
                    display_code(c)
                )
            }
        }
        Some(State::NotificationPermission(_)) => String::new(),
        Some(State::Activated(a)) => a
            .accounts
            .iter()
            .map(|a| {
                format!(
                    "Activated {} [{}], id {}.",
                    describe_account(&a.label, &a.issuer),
                    kind_name(a.kind),
                    short_id(&a.id)
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Some(State::CancelConfirm(_)) => String::new(),
        Some(State::Failed(_)) => String::new(),
    }
}

fn display_code(c: &tessera_proto::v1::CodeShown) -> &str {
    if c.grouped.is_empty() {
        &c.code
    } else {
        &c.grouped
    }
}

/// `tessera list`: a table of label, issuer, kind, short id.
pub fn accounts_table(accounts: &[Account]) -> String {
    if accounts.is_empty() {
        return "No accounts yet. Add one with `tessera activate --image FILE`.".into();
    }
    let rows: Vec<[String; 4]> = accounts
        .iter()
        .map(|a| {
            [
                a.label.clone(),
                a.issuer.clone(),
                kind_name(a.kind).to_owned(),
                short_id(&a.id).to_owned(),
            ]
        })
        .collect();
    table(["LABEL", "ISSUER", "KIND", "ID"], &rows)
}

/// Columns aligned with two spaces between them; the last one is not padded.
fn table<const N: usize>(headers: [&str; N], rows: &[[String; N]]) -> String {
    let mut widths = headers.map(|h| h.chars().count());
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; N]| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s += cell;
            } else {
                s += cell;
                s += &" ".repeat(widths[i] - cell.chars().count() + 2);
            }
        }
        s
    };
    let mut out = vec![line(headers)];
    for row in rows {
        out.push(line(row.each_ref().map(String::as_str)));
    }
    out.join("\n")
}

/// "scanner", "biometric", or `None` for a plugin that never loaded.
pub fn plugin_kind_name(kind: i32) -> Option<&'static str> {
    match PluginKind::try_from(kind) {
        Ok(PluginKind::Scanner) => Some("scanner"),
        Ok(PluginKind::Biometric) => Some("biometric"),
        _ => None,
    }
}

fn plugin_loaded(p: &PluginInfo) -> bool {
    PluginStatus::try_from(p.status) == Ok(PluginStatus::Loaded)
}

/// `tessera plugins`: NAME KIND VERSION STATUS; a failed plugin's status is
/// `failed: REASON`.
pub fn plugins_table(plugins: &[PluginInfo]) -> String {
    if plugins.is_empty() {
        return "No plugins found. Images are decoded by tesserad itself; \
                docs/plugins.md says where plugins are looked for."
            .into();
    }
    let rows: Vec<[String; 4]> = plugins
        .iter()
        .map(|p| {
            let or_dash = |s: &str| {
                if s.is_empty() {
                    "-".to_owned()
                } else {
                    s.to_owned()
                }
            };
            [
                p.name.clone(),
                plugin_kind_name(p.kind).unwrap_or("-").to_owned(),
                or_dash(&p.version),
                if plugin_loaded(p) {
                    "loaded".to_owned()
                } else {
                    format!("failed: {}", p.reason)
                },
            ]
        })
        .collect();
    table(["NAME", "KIND", "VERSION", "STATUS"], &rows)
}

/// `tessera plugins --json`: `{"plugins":[…]}`, each
/// `{"name","kind","version","input","path","status":{"state":"loaded"}}`
/// (`kind`, `version`, `input` null when unknown; a failed status is
/// `{"state":"failed","reason":"…"}`), as `tessera-plugin-host` serializes
/// its `PluginInfo`.
pub fn plugins_json(plugins: &[PluginInfo]) -> Json {
    let items = plugins
        .iter()
        .map(|p| {
            let mut m = Json::object();
            m.set("name", json!(p.name));
            m.set("kind", json!(plugin_kind_name(p.kind)));
            m.set(
                "version",
                if p.version.is_empty() {
                    Value::Null
                } else {
                    json!(p.version)
                },
            );
            m.set(
                "input",
                json!(match ScannerInput::try_from(p.input) {
                    Ok(ScannerInput::Image) => Some("image"),
                    Ok(ScannerInput::Capture) => Some("capture"),
                    _ => None,
                }),
            );
            m.set("path", json!(p.path));
            let mut status = Json::object();
            if plugin_loaded(p) {
                status.set("state", json!("loaded"));
            } else {
                status.set("state", json!("failed"));
                status.set("reason", json!(p.reason));
            }
            m.set("status", status);
            m
        })
        .collect();
    let mut m = Json::object();
    m.set("plugins", Json::Array(items));
    m
}

/// One decoded code as JSON: `kind`, then the fields that are set; `text`
/// only with `raw`.
fn decoded_json(c: &DecodedCode, raw: bool) -> Json {
    let mut m = Json::object();
    if raw {
        m.set("text", json!(c.text));
    }
    m.set("kind", json!(c.kind));
    set_nonempty(&mut m, "error", &c.error);
    set_nonempty(&mut m, "serial", &c.serial);
    set_nonempty(&mut m, "label", &c.label);
    set_nonempty(&mut m, "issuer", &c.issuer);
    set_nonempty(&mut m, "user_id", &c.user_id);
    set_nonempty(&mut m, "otp", &c.otp);
    if c.otp.starts_with("hotp") {
        m.set("counter", json!(c.counter));
    }
    if c.kind == "tessera" && c.error.is_empty() {
        m.set("signed", json!(c.signed));
        m.set("issuer_verified", json!(c.issuer_verified));
    }
    if !c.extra.is_empty() {
        m.set("extra", extra_json(&c.extra));
    }
    if c.kind == "otpauth-migration" && c.error.is_empty() {
        m.set("account_count", json!(c.account_count));
        m.set(
            "accounts",
            Json::Array(
                c.accounts
                    .iter()
                    .map(|a| {
                        let mut m = Json::object();
                        m.set("label", json!(a.label));
                        set_nonempty(&mut m, "issuer", &a.issuer);
                        m.set("otp", json!(a.otp));
                        if a.otp.starts_with("hotp") {
                            m.set("counter", json!(a.counter));
                        }
                        m
                    })
                    .collect(),
            ),
        );
        if c.batch_size > 1 {
            m.set("batch_index", json!(c.batch_index));
            m.set("batch_size", json!(c.batch_size));
        }
    }
    m
}

/// `tessera scan --json`: `{"codes":[…]}`.
pub fn scan_json(codes: &[DecodedCode], raw: bool) -> Json {
    let mut m = Json::object();
    m.set(
        "codes",
        Json::Array(codes.iter().map(|c| decoded_json(c, raw)).collect()),
    );
    m
}

/// `tessera scan`: each code's kind and fields; never its secret.
pub fn scan_text(codes: &[DecodedCode]) -> String {
    let mut out = Vec::new();
    let many = codes.len() > 1;
    for (i, c) in codes.iter().enumerate() {
        let what = match c.kind.as_str() {
            "tessera" => "a Tessera activation".to_owned(),
            "otpauth" => format!(
                "an otpauth account ({})",
                c.otp.split(':').next().unwrap_or("otp").to_uppercase()
            ),
            "otpauth-migration" => format!(
                "an otpauth-migration export of {} account{}",
                c.account_count,
                if c.account_count == 1 { "" } else { "s" }
            ),
            _ => "not an activation payload".to_owned(),
        };
        let head = if many {
            format!("Code {} of {}: {what}", i + 1, codes.len())
        } else {
            format!("Code: {what}")
        };
        let mut lines = vec![head];
        let mut field = |name: &str, value: &str| {
            if !value.is_empty() {
                lines.push(format!("  {:<10}{value}", format!("{name}:")));
            }
        };
        if !c.error.is_empty() {
            field(
                if c.kind == "unknown" {
                    "Note"
                } else {
                    "Invalid"
                },
                &c.error,
            );
        }
        field("Serial", &c.serial);
        field("Label", &c.label);
        field("Issuer", &c.issuer);
        field("User id", &c.user_id);
        field("OTP", &c.otp);
        if c.otp.starts_with("hotp") {
            field("Counter", &c.counter.to_string());
        }
        if c.kind == "tessera" && c.error.is_empty() {
            field(
                "Signed",
                match (c.signed, c.issuer_verified) {
                    (true, true) => "yes, by a trusted issuer",
                    (true, false) => "yes, by an issuer this daemon does not trust",
                    (false, _) => "no",
                },
            );
        }
        let mut extra: Vec<_> = c.extra.iter().collect();
        extra.sort();
        for (k, v) in extra {
            field(k, v);
        }
        if c.batch_size > 1 {
            field(
                "Batch",
                &format!("{} of {}", c.batch_index + 1, c.batch_size),
            );
        }
        for a in &c.accounts {
            lines.push(format!(
                "  - {} [{}]{}",
                describe_account(&a.label, &a.issuer),
                a.otp,
                if a.otp.starts_with("hotp") {
                    format!(", counter {}", a.counter)
                } else {
                    String::new()
                }
            ));
        }
        out.push(lines.join("\n"));
    }
    let hidden = match codes
        .iter()
        .find(|c| c.error.is_empty())
        .map(|c| c.kind.as_str())
    {
        Some("tessera") => "The activation code is not shown",
        Some(_) => "Secrets are not shown",
        None => "The text is not shown",
    };
    out.push(format!(
        "({hidden}; `tessera scan --raw` prints the decoded text.)"
    ));
    out.join("\n")
}

pub fn list_json(accounts: &[Account]) -> Json {
    let mut m = Json::object();
    m.set(
        "accounts",
        Json::Array(accounts.iter().map(account_json).collect()),
    );
    m
}

/// Whether the code's account is an HOTP one (its codes use up a counter).
pub fn is_hotp(c: &CodeResponse) -> bool {
    c.account
        .as_ref()
        .is_some_and(|a| a.otp_type == "hotp" || a.kind == AccountKind::Hotp as i32)
}

/// How a person reads a code: the daemon's grouped form (`123 456`; one
/// rule, the daemon's), or the digits from an older daemon.
pub fn shown_code(c: &CodeResponse) -> &str {
    if c.display.is_empty() {
        &c.code
    } else {
        &c.display
    }
}

/// An account as `tessera code` and the query rule name it: `issuer:label`,
/// or the label alone.
pub fn query_name(a: &Account) -> String {
    if a.issuer.is_empty() {
        a.label.clone()
    } else {
        format!("{}:{}", a.issuer, a.label)
    }
}

/// `tessera code` without a query: every account and its current code;
/// an HOTP account shows how to get its next code (making one would use up
/// the counter): `[HOTP: tessera code 1a2b3c4d]`. `grouped`: codes as
/// people read them (a terminal), else the digits.
pub fn codes_table(codes: &[CodeResponse], now_unix: i64, grouped: bool) -> String {
    if codes.is_empty() {
        return "No accounts yet. Add one with `tessera activate --image FILE`.".into();
    }
    let rows: Vec<[String; 2]> = codes
        .iter()
        .map(|c| {
            let (name, id) = c
                .account
                .as_ref()
                .map(|a| (query_name(a), short_id(&a.id).to_owned()))
                .unwrap_or_default();
            let code = if c.code.is_empty() {
                format!("[HOTP: tessera code {id}]")
            } else {
                let digits = if grouped { shown_code(c) } else { &c.code };
                format!("{digits}  ({})", code_hint(c, now_unix))
            };
            [name, code]
        })
        .collect();
    table(["ACCOUNT", "CODE"], &rows)
}

/// `tessera code --json` without a query: `{"codes":[…]}`, each as
/// [`code_json`]; an HOTP account has `"code": null` (no code was made).
pub fn codes_json(codes: &[CodeResponse], now_unix: i64) -> Json {
    let mut m = Json::object();
    m.set(
        "codes",
        Json::Array(
            codes
                .iter()
                .map(|c| {
                    let mut j = code_json(c, now_unix);
                    if c.code.is_empty() {
                        j.set("code", Value::Null);
                    }
                    j
                })
                .collect(),
        ),
    );
    m
}

/// `tessera code --json`.
pub fn code_json(c: &CodeResponse, now_unix: i64) -> Json {
    let mut m = Json::object();
    m.set("code", json!(c.code));
    set_nonempty(&mut m, "display", &c.display);
    if c.valid_until_unix != 0 {
        m.set("valid_from_unix", json!(c.valid_from_unix));
        m.set("valid_until_unix", json!(c.valid_until_unix));
        m.set(
            "seconds_left",
            json!((c.valid_until_unix - now_unix).max(0)),
        );
    }
    if is_hotp(c) || c.counter != 0 {
        m.set("counter", json!(c.counter));
    }
    if let Some(a) = &c.account {
        m.set("account", account_json(a));
    }
    m
}

/// The hint beside a code: "valid for 17 s" or "counter 5".
pub fn code_hint(c: &CodeResponse, now_unix: i64) -> String {
    if c.valid_until_unix != 0 {
        format!("valid for {} s", (c.valid_until_unix - now_unix).max(0))
    } else {
        format!("counter {}", c.counter)
    }
}

pub fn status_json(s: &VaultStatus) -> Json {
    let mut m = Json::object();
    m.set("exists", json!(s.exists));
    m.set("locked", json!(s.locked));
    m.set("protection", json!(protection_name(s.protection)));
    m.set("failed_attempts", json!(s.failed_attempts));
    m.set("retry_after_seconds", json!(s.retry_after_seconds));
    m.set("account_count", json!(s.account_count));
    m.set("auto_lock_minutes", json!(s.auto_lock_minutes));
    if !s.pin_counter_warning.is_empty() {
        m.set("pin_counter_warning", json!(s.pin_counter_warning));
    }
    if s.already_unlocked {
        m.set("already_unlocked", json!(true));
    }
    if s.tpm_slot {
        m.set("tpm_slot", json!(true));
    }
    if !s.tpm_warning.is_empty() {
        m.set("tpm_warning", json!(s.tpm_warning));
    }
    m
}

pub fn status_text(s: &VaultStatus) -> String {
    if !s.exists {
        return "Vault:       none yet (activate an account with `tessera activate`)".into();
    }
    let mut lines = Vec::new();
    lines.push(if s.locked {
        "Vault:       locked (unlock it with `tessera unlock`)".to_owned()
    } else {
        format!(
            "Vault:       unlocked, {} account{}",
            s.account_count,
            if s.account_count == 1 { "" } else { "s" }
        )
    });
    lines.push(format!(
        "Protection:  {}",
        match Protection::try_from(s.protection) {
            Ok(Protection::Pin) if s.tpm_slot => "PIN, sealed to this machine's TPM",
            Ok(Protection::Pin) => "PIN",
            Ok(Protection::Keyring) => "login keyring (no PIN)",
            Ok(Protection::None) => "none",
            _ => "unknown",
        }
    ));
    lines.push(format!(
        "Auto-lock:   {}",
        if s.auto_lock_minutes == 0 {
            "never".to_owned()
        } else {
            format!("after {} min without use", s.auto_lock_minutes)
        }
    ));
    if s.failed_attempts > 0 {
        lines.push(format!("Wrong PINs:  {}", s.failed_attempts));
    }
    if s.retry_after_seconds > 0 {
        lines.push(format!("Next try:    in {} s", s.retry_after_seconds));
    }
    if !s.pin_counter_warning.is_empty() {
        lines.push(format!("Warning:     {}", s.pin_counter_warning));
    }
    if !s.tpm_warning.is_empty() {
        lines.push(format!("TPM warning: {}", s.tpm_warning));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::v1::{
        self as pb, ActivationState, CodeShown, EnrollProgress, ErrorCodeMessage, PendingAccount,
        PinPrompt,
    };

    fn view(state: State) -> ActivationView {
        ActivationView {
            id: "act-1".into(),
            revision: 3,
            state: Some(ActivationState { kind: Some(state) }),
            accounts: vec![],
            biometric_unavailable_reason: String::new(),
        }
    }

    fn account(id: &str, label: &str, issuer: &str) -> Account {
        Account {
            id: id.into(),
            label: label.into(),
            issuer: issuer.into(),
            kind: AccountKind::Tessera as i32,
            ..Default::default()
        }
    }

    #[test]
    fn device_code_line() {
        let v = view(State::DeviceCode(CodeShown {
            code: "012345678998".into(),
            grouped: "0123 4567 8998".into(),
            ..Default::default()
        }));
        assert_eq!(
            view_json(&v).to_string(),
            r#"{"state":"device_code","code":"012345678998","grouped":"0123 4567 8998"}"#
        );
    }

    #[test]
    fn finalize_code_line() {
        let v = view(State::FinalizeCode(CodeShown {
            code: "12345678".into(),
            grouped: "1234-5678".into(),
            ..Default::default()
        }));
        assert_eq!(
            view_json(&v).to_value(),
            json!({"state":"finalize_code","code":"12345678","grouped":"1234-5678"})
        );
    }

    #[test]
    fn plain_states() {
        assert_eq!(
            view_json(&view(State::ChoosePin(PinPrompt::default()))).to_string(),
            r#"{"state":"choose_pin"}"#
        );
        assert_eq!(
            view_json(&view(State::BiometricPermission(pb::Empty {}))).to_value(),
            json!({"state":"biometric_permission"})
        );
        assert_eq!(
            view_json(&view(State::ConfirmPin(PinPrompt {
                reason: "The PINs did not match.".into(),
                min_length: 6,
                ..Default::default()
            })))
            .to_value(),
            json!({"state":"confirm_pin","reason":"The PINs did not match.","min_length":6})
        );
        assert_eq!(
            view_json(&view(State::BiometricEnroll(EnrollProgress {
                stage: 2,
                stages: 5,
                message: "Touch the reader".into()
            })))
            .to_value(),
            json!({"state":"biometric_enroll","stage":2,"stages":5,"message":"Touch the reader"})
        );
        assert_eq!(
            view_json(&ActivationView::default()).to_value(),
            json!({"state":"unknown"})
        );
    }

    #[test]
    fn activated_one_account() {
        let v = view(State::Activated(pb::Activated {
            accounts: vec![account("a1", "alice", "Bank")],
        }));
        assert_eq!(
            view_json(&v).to_value(),
            json!({"state":"activated","account":{"id":"a1","label":"alice","issuer":"Bank","kind":"tessera"}})
        );
    }

    #[test]
    fn activated_several_accounts() {
        let v = view(State::Activated(pb::Activated {
            accounts: vec![account("a1", "one", "X"), account("a2", "two", "Y")],
        }));
        let j = view_json(&v).to_value();
        assert_eq!(j["account"]["id"], "a1");
        assert_eq!(j["accounts"].as_array().unwrap().len(), 2);
        assert_eq!(j["accounts"][1]["label"], "two");
    }

    #[test]
    fn failed_and_cancel_confirm() {
        let v = view(State::Failed(pb::Failed {
            error: Some(ErrorCodeMessage {
                code: "ERROR_CODE_ACTIVATION_ENDED".into(),
                message: "The activation timed out; start again.".into(),
            }),
        }));
        assert_eq!(
            view_json(&v).to_value(),
            json!({"state":"failed","error":{"code":"ERROR_CODE_ACTIVATION_ENDED","message":"The activation timed out; start again."}})
        );
        let v = view(State::CancelConfirm(Box::new(pb::CancelConfirm {
            previous: Some(Box::new(ActivationState {
                kind: Some(State::ChoosePin(PinPrompt::default())),
            })),
        })));
        assert_eq!(
            view_json(&v).to_value(),
            json!({"state":"cancel_confirm","previous":"choose_pin"})
        );
    }

    #[test]
    fn pending_accounts_are_shown_in_text_only() {
        let mut v = view(State::DeviceCode(CodeShown {
            code: "1".into(),
            grouped: "1".into(),
            ..Default::default()
        }));
        v.accounts.push(PendingAccount {
            label: "alice".into(),
            issuer: "Bank".into(),
            kind: AccountKind::Tessera as i32,
            issuer_verified: true,
            ..Default::default()
        });
        // The JSON line stays exactly {"state","code","grouped"}.
        assert_eq!(
            view_json(&v).to_value(),
            json!({"state":"device_code","code":"1","grouped":"1"})
        );
        assert_eq!(
            pending_text(&v.accounts),
            "Activating alice (Bank) [Tessera] — issuer verified"
        );
        assert!(view_text(&v).contains("Device code:  1"));
    }

    /// States the daemon shows while it works (no biometric plugin exists
    /// yet, so the enrolment is only checked here, not end to end).
    #[test]
    fn waiting_states_text_and_json() {
        let v = view(State::Scanning(pb::Empty {}));
        assert_eq!(view_text(&v), "Reading the activation image…");
        assert_eq!(view_json(&v).to_string(), r#"{"state":"scanning"}"#);
        let v = view(State::BiometricEnroll(EnrollProgress {
            stage: 1,
            stages: 3,
            message: "Touch the fingerprint reader".into(),
        }));
        assert_eq!(
            view_text(&v),
            "Enrolling biometrics: step 1 of 3: Touch the fingerprint reader"
        );
        assert_eq!(
            view_json(&v).to_string(),
            r#"{"state":"biometric_enroll","stage":1,"stages":3,"message":"Touch the fingerprint reader"}"#
        );
        let v = view(State::ChooseMethod(pb::MethodChoice {
            biometric_available: false,
            biometric_unavailable_reason: "no biometric device is available".into(),
        }));
        assert_eq!(
            view_json(&v).to_string(),
            r#"{"state":"choose_method","biometric_available":false,"biometric_unavailable_reason":"no biometric device is available"}"#
        );
    }

    #[test]
    fn account_json_fields() {
        let mut a = account("abc", "bob", "Site");
        a.kind = AccountKind::Hotp as i32;
        a.otp_type = "hotp".into();
        a.algorithm = "SHA1".into();
        a.digits = 6;
        a.counter = 0;
        assert_eq!(
            account_json(&a).to_value(),
            json!({"id":"abc","label":"bob","issuer":"Site","kind":"hotp","otp_type":"hotp","algorithm":"SHA1","digits":6,"counter":0})
        );
    }

    #[test]
    fn code_json_totp_and_hotp() {
        let totp = CodeResponse {
            code: "123456".into(),
            valid_from_unix: 990,
            valid_until_unix: 1020,
            counter: 0,
            account: Some(account("x", "l", "i")),
            display: "123 456".into(),
        };
        let j = code_json(&totp, 1000).to_value();
        assert_eq!(j["code"], "123456");
        assert_eq!(j["display"], "123 456");
        assert_eq!(j["valid_until_unix"], 1020);
        assert_eq!(j["seconds_left"], 20);
        assert!(j.get("counter").is_none());
        assert_eq!(code_hint(&totp, 1000), "valid for 20 s");

        let mut acc = account("y", "h", "i");
        acc.otp_type = "hotp".into();
        let hotp = CodeResponse {
            code: "654321".into(),
            counter: 7,
            account: Some(acc),
            ..Default::default()
        };
        let j = code_json(&hotp, 1000).to_value();
        assert_eq!(j["counter"], 7);
        assert!(j.get("valid_until_unix").is_none());
        assert_eq!(code_hint(&hotp, 1000), "counter 7");
    }

    #[test]
    fn codes_table_groups_totp_and_names_the_hotp_command() {
        let totp = CodeResponse {
            code: "123456".into(),
            display: "123 456".into(),
            valid_from_unix: 990,
            valid_until_unix: 1020,
            account: Some(account("0123456789abcdef", "alice", "GitHub")),
            ..Default::default()
        };
        let mut acc = account("fedcba9876543210", "bank", "");
        acc.otp_type = "hotp".into();
        let hotp = CodeResponse {
            counter: 3,
            account: Some(acc),
            ..Default::default()
        };
        let both = [totp, hotp];
        let t = codes_table(&both, 1000, true);
        let lines: Vec<_> = t.lines().collect();
        assert_eq!(lines[0], "ACCOUNT       CODE");
        assert_eq!(lines[1], "GitHub:alice  123 456  (valid for 20 s)");
        assert_eq!(lines[2], "bank          [HOTP: tessera code fedcba98]");
        assert!(codes_table(&both, 1000, false).contains("GitHub:alice  123456  (valid"));
        let j = codes_json(&both, 1000).to_value();
        assert_eq!(j["codes"][0]["code"], "123456");
        assert_eq!(j["codes"][0]["display"], "123 456");
        assert_eq!(j["codes"][1]["code"], Value::Null);
        assert_eq!(j["codes"][1]["counter"], 3);
    }

    #[test]
    fn table_aligns_columns() {
        let t = accounts_table(&[
            account("0123456789abcdef", "alice", "Bank"),
            account("fedcba", "b", "A longer issuer"),
        ]);
        let lines: Vec<_> = t.lines().collect();
        assert_eq!(lines[0], "LABEL  ISSUER           KIND     ID");
        assert_eq!(lines[1], "alice  Bank             tessera  01234567");
        assert_eq!(lines[2], "b      A longer issuer  tessera  fedcba");
    }

    #[test]
    fn status_shapes() {
        let s = VaultStatus {
            exists: true,
            locked: false,
            protection: Protection::Pin as i32,
            failed_attempts: 0,
            retry_after_seconds: 0,
            account_count: 2,
            auto_lock_minutes: 15,
            ..Default::default()
        };
        assert_eq!(
            status_json(&s).to_value(),
            json!({"exists":true,"locked":false,"protection":"pin","failed_attempts":0,
                   "retry_after_seconds":0,"account_count":2,"auto_lock_minutes":15})
        );
        assert!(status_text(&s).contains("unlocked, 2 accounts"));
        assert!(status_text(&VaultStatus::default()).contains("none yet"));
    }

    fn plugin(name: &str, loaded: bool) -> PluginInfo {
        PluginInfo {
            name: name.into(),
            kind: if loaded {
                PluginKind::Scanner as i32
            } else {
                PluginKind::Unspecified as i32
            },
            version: if loaded {
                "0.1.0".into()
            } else {
                String::new()
            },
            path: format!("/p/lib{name}.so"),
            status: if loaded {
                PluginStatus::Loaded as i32
            } else {
                PluginStatus::Failed as i32
            },
            reason: if loaded {
                String::new()
            } else {
                format!("refused /p/lib{name}.so: it is writable by others (mode 0666)")
            },
            input: if loaded {
                ScannerInput::Image as i32
            } else {
                ScannerInput::Unspecified as i32
            },
        }
    }

    #[test]
    fn plugins_table_and_json() {
        let list = [plugin("image", true), plugin("bad", false)];
        let t = plugins_table(&list);
        let lines: Vec<_> = t.lines().collect();
        assert_eq!(lines[0], "NAME   KIND     VERSION  STATUS");
        assert_eq!(lines[1], "image  scanner  0.1.0    loaded");
        assert_eq!(
            lines[2],
            "bad    -        -        failed: refused /p/libbad.so: it is writable by others (mode 0666)"
        );
        assert_eq!(
            plugins_json(&list).to_value(),
            json!({"plugins":[
                {"name":"image","kind":"scanner","version":"0.1.0","input":"image","path":"/p/libimage.so","status":{"state":"loaded"}},
                {"name":"bad","kind":null,"version":null,"input":null,"path":"/p/libbad.so",
                 "status":{"state":"failed","reason":"refused /p/libbad.so: it is writable by others (mode 0666)"}}
            ]})
        );
        assert!(plugins_table(&[]).starts_with("No plugins found."));
    }

    #[test]
    fn scan_output_never_holds_the_text_unless_raw() {
        let tessera = DecodedCode {
            text: "<QRCode><SN>TSR0000001</SN><AC>SECRET</AC></QRCode>".into(),
            kind: "tessera".into(),
            serial: "TSR0000001".into(),
            label: "alice".into(),
            otp: "totp:SHA1:6:30".into(),
            ..Default::default()
        };
        let text = scan_text(std::slice::from_ref(&tessera));
        assert_eq!(
            text,
            "Code: a Tessera activation\n  Serial:   TSR0000001\n  Label:    alice\n  \
             OTP:      totp:SHA1:6:30\n  Signed:   no\n\
             (The activation code is not shown; `tessera scan --raw` prints the decoded text.)"
        );
        let j = scan_json(std::slice::from_ref(&tessera), false).to_value();
        assert_eq!(
            j,
            json!({"codes":[{"kind":"tessera","serial":"TSR0000001","label":"alice","otp":"totp:SHA1:6:30","signed":false,"issuer_verified":false}]})
        );
        assert!(!j.to_string().contains("SECRET"));
        let j = scan_json(std::slice::from_ref(&tessera), true).to_value();
        assert_eq!(j["codes"][0]["text"], tessera.text);

        let export = DecodedCode {
            kind: "otpauth-migration".into(),
            account_count: 2,
            accounts: vec![
                pb::DecodedAccount {
                    label: "a".into(),
                    issuer: "X".into(),
                    otp: "totp:SHA1:6:30".into(),
                    counter: 0,
                },
                pb::DecodedAccount {
                    label: "b".into(),
                    issuer: String::new(),
                    otp: "hotp:SHA1:6".into(),
                    counter: 3,
                },
            ],
            ..Default::default()
        };
        let unknown = DecodedCode {
            kind: "unknown".into(),
            error: "payload: not a known format".into(),
            ..Default::default()
        };
        let text = scan_text(&[export, unknown]);
        assert_eq!(
            text,
            "Code 1 of 2: an otpauth-migration export of 2 accounts\n  - a (X) [totp:SHA1:6:30]\n  \
             - b [hotp:SHA1:6], counter 3\nCode 2 of 2: not an activation payload\n  \
             Note:     payload: not a known format\n\
             (Secrets are not shown; `tessera scan --raw` prints the decoded text.)"
        );
    }
}
