//! What the daemon sends, read out of its D-Bus dictionaries (`a{sv}`,
//! docs/dbus.md "Dictionaries"), and the screen an activation view asks
//! for. Pure: no widgets, no bus; the tests build the dictionaries the
//! daemon sends.
//!
//! Every key is always present in the daemon's dictionaries; a missing or
//! mistyped one reads as empty, so a newer daemon with more keys (or an
//! older one with fewer) still renders.

use gtk::glib::{Variant, VariantDict};
use gtk::prelude::FromVariant;
use zeroize::Zeroizing;

fn get<T: FromVariant + Default>(d: &VariantDict, key: &str) -> T {
    d.lookup::<T>(key).ok().flatten().unwrap_or_default()
}

fn dicts(d: &VariantDict, key: &str) -> Vec<Variant> {
    d.lookup_value(key, None)
        .map(|list| list.iter().collect())
        .unwrap_or_default()
}

/// An account as the daemon shows it (never its secret).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub label: String,
    pub issuer: String,
    /// "tessera", "totp", "hotp", "steam" (time-based, 5 characters) or
    /// "motp" (time-based, 10 s, 6 hex digits) or "yandex" (30 s, 8 letters).
    pub kind: String,
    /// For Tessera accounts: "totp" or "hotp".
    pub otp_type: String,
    pub digits: u32,
    pub period: u32,
    pub counter: u64,
    /// Non-empty when the account answers OCRA challenges.
    pub ocra_suite: String,
    pub notifications: bool,
}

impl Account {
    pub fn from_variant(v: &Variant) -> Self {
        let d = VariantDict::new(Some(v));
        Account {
            id: get(&d, "id"),
            label: get(&d, "label"),
            issuer: get(&d, "issuer"),
            kind: get(&d, "kind"),
            otp_type: get(&d, "otp_type"),
            digits: get(&d, "digits"),
            period: get(&d, "period"),
            counter: get(&d, "counter"),
            ocra_suite: get(&d, "ocra_suite"),
            notifications: get(&d, "notifications"),
        }
    }

    /// Counter-based: its next code is shown only when asked for.
    pub fn is_hotp(&self) -> bool {
        self.kind == "hotp" || (self.kind == "tessera" && self.otp_type == "hotp")
    }

    /// The issuer, or the label when there is none: the row's title.
    pub fn title(&self) -> &str {
        if self.issuer.is_empty() {
            &self.label
        } else {
            &self.issuer
        }
    }

    /// The first 8 characters of the id: `tessera list`'s short id, an
    /// exact query for the daemon.
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }
}

/// A transaction signing as the daemon decoded it (`StartSigning`,
/// docs/dbus.md): what the user is asked to approve, and its response once
/// signed. The app shows these fields and nothing else of the request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Signing {
    pub id: String,
    /// "review", "signed", "declined" or "expired".
    pub state: String,
    pub account: Account,
    pub serial: String,
    /// (amount with its currency, payee, account, reference)
    pub payments: Vec<(String, String, String, String)>,
    pub total: String,
    pub expires_unix: i64,
    pub response: String,
}

impl Signing {
    pub fn from_variant(v: &Variant) -> Self {
        let d = VariantDict::new(Some(v));
        Signing {
            id: get(&d, "id"),
            state: get(&d, "state"),
            account: d
                .lookup_value("account", None)
                .map(|a| Account::from_variant(&a))
                .unwrap_or_default(),
            serial: get(&d, "serial"),
            payments: get(&d, "payments"),
            total: get(&d, "total"),
            expires_unix: get(&d, "expires_unix"),
            response: get(&d, "response"),
        }
    }

    /// The fields to review, one per line, in the order they matter:
    /// amount, payee, account, reference (each payment of a batch), then a
    /// batch's total.
    pub fn lines(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let batch = self.payments.len() > 1;
        for (i, (amount, payee, account, reference)) in self.payments.iter().enumerate() {
            let n = if batch {
                format!(" {}", i + 1)
            } else {
                String::new()
            };
            out.push((crate::i18n::tr("Amount") + &n, amount.clone()));
            out.push((crate::i18n::tr("Payee") + &n, payee.clone()));
            out.push((crate::i18n::tr("Account") + &n, account.clone()));
            if !reference.is_empty() {
                out.push((crate::i18n::tr("Reference") + &n, reference.clone()));
            }
        }
        if batch {
            let n = self.payments.len() as u64;
            out.push((
                crate::i18n::tr("Total"),
                format!(
                    "{} ({})",
                    self.total,
                    crate::i18n::ngettext_f("{} payment", "{} payments", n)
                ),
            ));
        }
        out
    }

    /// The response grouped for reading aloud: `1807 8543`.
    pub fn grouped_response(&self) -> String {
        let r = &self.response;
        if r.len() == 8 {
            format!("{} {}", &r[..4], &r[4..])
        } else {
            r.clone()
        }
    }
}

/// A one-time code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Code {
    pub code: String,
    /// Grouped for people: `123 456`.
    pub display: String,
    pub valid_from_unix: i64,
    /// 0 for HOTP codes (valid until used).
    pub valid_until_unix: i64,
    pub counter: u64,
    pub account: Account,
}

impl Code {
    pub fn from_variant(v: &Variant) -> Self {
        let d = VariantDict::new(Some(v));
        Code {
            code: get(&d, "code"),
            display: get(&d, "display"),
            valid_from_unix: get(&d, "valid_from_unix"),
            valid_until_unix: get(&d, "valid_until_unix"),
            counter: get(&d, "counter"),
            account: d
                .lookup_value("account", None)
                .map(|a| Account::from_variant(&a))
                .unwrap_or_default(),
        }
    }

    /// The fraction of its lifetime left at `now` (1.0 fresh, 0.0 over);
    /// `None` for codes without an end (HOTP).
    pub fn remaining_fraction(&self, now: i64) -> Option<f64> {
        let span = self.valid_until_unix - self.valid_from_unix;
        if self.valid_until_unix == 0 || span <= 0 {
            return None;
        }
        Some(((self.valid_until_unix - now) as f64 / span as f64).clamp(0.0, 1.0))
    }
}

/// The vault's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Status {
    pub exists: bool,
    pub locked: bool,
    /// "none", "pin" or "keyring".
    pub protection: String,
    pub failed_attempts: u32,
    pub retry_after_seconds: u64,
    pub account_count: u32,
}

impl Status {
    pub fn from_variant(v: &Variant) -> Self {
        let d = VariantDict::new(Some(v));
        Status {
            exists: get(&d, "exists"),
            locked: get(&d, "locked"),
            protection: get(&d, "protection"),
            failed_attempts: get(&d, "failed_attempts"),
            retry_after_seconds: get(&d, "retry_after_seconds"),
            account_count: get(&d, "account_count"),
        }
    }
}

/// Whether biometrics can unlock the vault, and why not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BiometricStatus {
    pub allowed: bool,
    pub enabled: bool,
    pub available: bool,
    pub unavailable_reason: String,
}

impl BiometricStatus {
    pub fn from_variant(v: &Variant) -> Self {
        let d = VariantDict::new(Some(v));
        BiometricStatus {
            allowed: get(&d, "allowed"),
            enabled: get(&d, "enabled"),
            available: get(&d, "available"),
            unavailable_reason: get(&d, "unavailable_reason"),
        }
    }
}

/// One effective setting (`tessera config show`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    /// TOML text; empty when unset.
    pub value: String,
    /// `file:line` of an administrator's lock; empty when unlocked.
    pub locked_by: String,
}

impl Setting {
    pub fn from_variant(v: &Variant) -> Self {
        let d = VariantDict::new(Some(v));
        Setting {
            key: get(&d, "key"),
            value: get(&d, "value"),
            locked_by: get(&d, "locked_by"),
        }
    }

    /// The settings of a `ShowConfig` report.
    pub fn list(report: &Variant) -> Vec<Setting> {
        let d = VariantDict::new(Some(report));
        dicts(&d, "entries")
            .iter()
            .map(Setting::from_variant)
            .collect()
    }
}

/// An activation as the daemon shows it (docs/dbus.md, "view").
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    pub id: String,
    pub revision: u64,
    pub state: String,
    pub grouped: String,
    pub reason: String,
    pub min_length: u32,
    pub biometric_available: bool,
    pub stage: u32,
    pub stages: u32,
    pub message: String,
    pub error_name: String,
    pub error_message: String,
    pub previous: String,
    pub accounts: Vec<Account>,
}

impl View {
    pub fn from_variant(v: &Variant) -> Self {
        let d = VariantDict::new(Some(v));
        View {
            id: get(&d, "id"),
            revision: get(&d, "revision"),
            state: get(&d, "state"),
            grouped: get(&d, "grouped"),
            reason: get(&d, "reason"),
            min_length: get(&d, "min_length"),
            biometric_available: get(&d, "biometric_available"),
            stage: get(&d, "stage"),
            stages: get(&d, "stages"),
            message: get(&d, "message"),
            error_name: get(&d, "error_name"),
            error_message: get(&d, "error_message"),
            previous: get(&d, "previous"),
            accounts: dicts(&d, "accounts")
                .iter()
                .map(Account::from_variant)
                .collect(),
        }
    }

    /// Activated or failed: nothing happens until the user starts over.
    pub fn is_over(&self) -> bool {
        matches!(self.state.as_str(), "activated" | "failed")
    }

    /// The screen this view asks for.
    pub fn screen(&self) -> Screen {
        match self.state.as_str() {
            "home" => Screen::Home,
            "scanning" => Screen::Scanning,
            "device_code" => Screen::DeviceCode,
            "choose_pin" => Screen::ChoosePin,
            "confirm_pin" => Screen::ConfirmPin,
            "enter_pin" => Screen::EnterPin,
            "choose_method" => Screen::ChooseMethod,
            "biometric_permission" => Screen::BiometricPermission,
            "biometric_enroll" => Screen::BiometricEnroll,
            "finalize_code" => Screen::FinalizeCode,
            "notification_permission" => Screen::NotificationPermission,
            "activated" => Screen::Activated,
            "cancel_confirm" => Screen::CancelConfirm,
            "failed" => Screen::Failed,
            _ => Screen::Unknown,
        }
    }
}

/// The newest view of each activation that `ActivationChanged` told of.
/// A signal may arrive before the reply to the call that caused it (a
/// failed scan's view before `StartActivation`'s "scanning"): the page
/// shows the newer of the two.
/// One frame of the camera's live preview (`PreviewFrame`): grey, one
/// byte per pixel. It may show the QR code, so its pixels are wiped when
/// it is dropped.
#[derive(Debug, Default)]
pub struct PreviewFrame {
    /// Counts the activation's frames from 1; 0: none yet.
    pub sequence: u64,
    pub width: u32,
    pub height: u32,
    pub pixels: Zeroizing<Vec<u8>>,
}

impl PreviewFrame {
    /// Reads the reply `(t sequence, u width, u height, ay pixels)`.
    pub fn from_reply(reply: &Variant) -> PreviewFrame {
        if reply.n_children() != 4 {
            return PreviewFrame::default();
        }
        let get_u = |i| reply.child_value(i).get::<u32>().unwrap_or(0);
        let pixels = reply.child_value(3);
        PreviewFrame {
            sequence: reply.child_value(0).get::<u64>().unwrap_or(0),
            width: get_u(1),
            height: get_u(2),
            pixels: Zeroizing::new(
                pixels
                    .fixed_array::<u8>()
                    .map(<[u8]>::to_vec)
                    .unwrap_or_default(),
            ),
        }
    }

    /// Whether it holds a whole picture to show.
    pub fn is_picture(&self) -> bool {
        self.width > 0
            && self.height > 0
            && self.pixels.len() == self.width as usize * self.height as usize
    }

    /// The pixels as RGB, three bytes a pixel (GTK 4.8's textures have no
    /// grey format; `G8` came in 4.12).
    pub fn rgb(&self) -> Vec<u8> {
        self.pixels.iter().flat_map(|&g| [g, g, g]).collect()
    }
}

#[derive(Debug, Default)]
pub struct NewestViews(std::collections::HashMap<String, View>);

impl NewestViews {
    /// The daemon keeps at most 64 activations; older ones are over.
    const MOST: usize = 64;

    pub fn remember(&mut self, view: &View) {
        if self.0.len() >= Self::MOST && !self.0.contains_key(&view.id) {
            self.0.clear();
        }
        if self
            .0
            .get(&view.id)
            .is_none_or(|old| old.revision < view.revision)
        {
            self.0.insert(view.id.clone(), view.clone());
        }
    }

    /// `view`, or a newer one of the same activation already seen.
    pub fn newest(&self, view: View) -> View {
        match self.0.get(&view.id) {
            Some(newer) if newer.revision > view.revision => newer.clone(),
            _ => view,
        }
    }
}

/// One page of the activation: the daemon's state names, one to one.
/// `Unknown` is a state a newer daemon has and this app does not know; it
/// says so instead of guessing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Screen {
    Home,
    Scanning,
    DeviceCode,
    ChoosePin,
    ConfirmPin,
    EnterPin,
    ChooseMethod,
    BiometricPermission,
    BiometricEnroll,
    FinalizeCode,
    NotificationPermission,
    Activated,
    CancelConfirm,
    Failed,
    Unknown,
}

impl Screen {
    /// The page's name in `activation_page.ui`'s stack.
    pub fn page(self) -> &'static str {
        match self {
            Screen::Home => "home",
            Screen::Scanning => "scanning",
            Screen::DeviceCode => "device_code",
            Screen::ChoosePin | Screen::ConfirmPin | Screen::EnterPin => "pin",
            Screen::ChooseMethod => "choose_method",
            Screen::BiometricPermission => "biometric_permission",
            Screen::BiometricEnroll => "biometric_enroll",
            Screen::FinalizeCode => "finalize_code",
            Screen::NotificationPermission => "notification_permission",
            Screen::Activated => "activated",
            Screen::CancelConfirm => "cancel_confirm",
            Screen::Failed | Screen::Unknown => "failed",
        }
    }

    /// Whether a Cancel button belongs on this page (the daemon's
    /// cancellable states: under way, not over, not already asking).
    pub fn cancellable(self) -> bool {
        !matches!(
            self,
            Screen::Home
                | Screen::Activated
                | Screen::CancelConfirm
                | Screen::Failed
                | Screen::Unknown
        )
    }
}

/// Whether a query (what the user types in the search box) shows an
/// account: any case, a substring of `issuer:label`, the daemon's rule for
/// queries (docs/api.md, "Finding accounts"), so the list shows what
/// `tessera code QUERY` would find.
pub fn matches(account: &Account, query: &str) -> bool {
    let query = query.trim().to_lowercase();
    query.is_empty()
        || format!("{}:{}", account.issuer, account.label)
            .to_lowercase()
            .contains(&query)
        || account.short_id() == query
}

/// Seconds as people read a wait: "45 seconds", "3 minutes", "2 hours".
pub fn wait_text(seconds: u64) -> String {
    use crate::i18n::ngettext_f;
    match seconds {
        0..=90 => ngettext_f("{} second", "{} seconds", seconds),
        91..=5399 => ngettext_f("{} minute", "{} minutes", seconds.div_ceil(60)),
        _ => ngettext_f("{} hour", "{} hours", seconds.div_ceil(3600)),
    }
}

/// A `glib::Variant` of the `a{sv}` a `StartActivation` source is.
pub fn source(entries: &[(&str, Variant)]) -> Variant {
    let d = VariantDict::new(None);
    for (k, v) in entries {
        d.insert_value(k, v);
    }
    d.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gtk::prelude::ToVariant;

    fn dict(entries: &[(&str, Variant)]) -> Variant {
        source(entries)
    }

    fn account(issuer: &str, label: &str) -> Account {
        Account {
            id: "0123456789abcdef".into(),
            issuer: issuer.into(),
            label: label.into(),
            ..Account::default()
        }
    }

    #[test]
    fn a_view_reads_every_key_the_daemon_sends() {
        let acc = dict(&[
            ("id", "abcdef0123456789".to_variant()),
            ("label", "alice".to_variant()),
            ("issuer", "Example".to_variant()),
            ("kind", "totp".to_variant()),
            ("digits", 6u32.to_variant()),
        ]);
        let v = dict(&[
            ("id", "f00".to_variant()),
            ("revision", 7u64.to_variant()),
            ("state", "cancel_confirm".to_variant()),
            ("previous", "device_code".to_variant()),
            ("grouped", "0123 4567 8998".to_variant()),
            ("min_length", 6u32.to_variant()),
            (
                "accounts",
                Variant::array_from_iter_with_type(acc.type_(), [acc.clone()]),
            ),
        ]);
        let view = View::from_variant(&v);
        assert_eq!(view.revision, 7);
        assert_eq!(view.screen(), Screen::CancelConfirm);
        assert_eq!(view.previous, "device_code");
        assert_eq!(view.grouped, "0123 4567 8998");
        assert_eq!(view.min_length, 6);
        assert_eq!(view.accounts.len(), 1);
        assert_eq!(view.accounts[0].title(), "Example");
        assert_eq!(view.accounts[0].digits, 6);
    }

    #[test]
    fn a_mistyped_or_missing_key_reads_as_empty() {
        let v = dict(&[("revision", "seven".to_variant())]);
        let view = View::from_variant(&v);
        assert_eq!(view.revision, 0);
        assert_eq!(view.screen(), Screen::Unknown);
        assert_eq!(view.screen().page(), "failed");
    }

    #[test]
    fn every_daemon_state_has_its_page() {
        // The state names of docs/dbus.md, "view".
        let states = [
            "home",
            "scanning",
            "device_code",
            "choose_pin",
            "confirm_pin",
            "enter_pin",
            "choose_method",
            "biometric_permission",
            "biometric_enroll",
            "finalize_code",
            "notification_permission",
            "activated",
            "cancel_confirm",
            "failed",
        ];
        for s in states {
            let view = View {
                state: s.into(),
                ..View::default()
            };
            assert_ne!(view.screen(), Screen::Unknown, "{s}");
        }
        let home = View {
            state: "home".into(),
            ..View::default()
        };
        assert!(!home.screen().cancellable());
        assert!(Screen::DeviceCode.cancellable());
    }

    #[test]
    fn a_signal_ahead_of_its_reply_wins() {
        let view = |rev, state: &str| View {
            id: "a".into(),
            revision: rev,
            state: state.into(),
            ..View::default()
        };
        let mut seen = NewestViews::default();
        seen.remember(&view(2, "failed"));
        seen.remember(&view(1, "scanning"));
        // The reply (revision 1) comes after the signal (revision 2).
        assert_eq!(seen.newest(view(1, "scanning")).state, "failed");
        // A newer reply than any signal is shown as it is.
        assert_eq!(seen.newest(view(3, "home")).state, "home");
        let other = View {
            id: "b".into(),
            ..view(0, "scanning")
        };
        assert_eq!(seen.newest(other).state, "scanning");
    }

    #[test]
    fn search_is_a_substring_of_issuer_and_label_in_any_case() {
        let a = account("GitHub", "alice@example.com");
        assert!(matches(&a, "github"));
        assert!(matches(&a, "HUB:ALI"));
        assert!(matches(&a, "example"));
        assert!(matches(&a, "  "));
        assert!(matches(&a, "01234567"));
        assert!(!matches(&a, "gitlab"));
    }

    #[test]
    fn totp_codes_count_down_and_hotp_codes_do_not() {
        let totp = Code {
            valid_from_unix: 1000,
            valid_until_unix: 1030,
            ..Code::default()
        };
        assert_eq!(totp.remaining_fraction(1015), Some(0.5));
        assert_eq!(totp.remaining_fraction(2000), Some(0.0));
        assert_eq!(Code::default().remaining_fraction(1015), None);
        let hotp = Account {
            kind: "tessera".into(),
            otp_type: "hotp".into(),
            ..Account::default()
        };
        assert!(hotp.is_hotp());
    }

    #[test]
    fn waits_read_as_people_say_them() {
        assert_eq!(wait_text(1), "1 second");
        assert_eq!(wait_text(45), "45 seconds");
        assert_eq!(wait_text(300), "5 minutes");
        assert_eq!(wait_text(7200), "2 hours");
    }

    #[test]
    fn preview_frames_read_from_the_reply() {
        let reply = (7u64, 2u32, 1u32, vec![10u8, 200]).to_variant();
        let frame = PreviewFrame::from_reply(&reply);
        assert_eq!((frame.sequence, frame.width, frame.height), (7, 2, 1));
        assert!(frame.is_picture());
        assert_eq!(frame.rgb(), [10, 10, 10, 200, 200, 200]);
        // No frame, a short one, a reply of another shape: nothing to show.
        let none = PreviewFrame::from_reply(&(3u64, 0u32, 0u32, Vec::<u8>::new()).to_variant());
        assert_eq!(none.sequence, 3);
        assert!(!none.is_picture());
        assert!(
            !PreviewFrame::from_reply(&(1u64, 2u32, 2u32, vec![1u8]).to_variant()).is_picture()
        );
        assert_eq!(PreviewFrame::from_reply(&("x",).to_variant()).sequence, 0);
    }
}
