//! Translation: every string people read goes through gettext (the `.ui`
//! files mark theirs `translatable="yes"` under the same domain).
//! `po/POTFILES` lists the files `make pot` extracts from.

use gettextrs::{LocaleCategory, bind_textdomain_codeset, bindtextdomain, setlocale, textdomain};

pub const DOMAIN: &str = "tessera";

/// Sets the locale from the environment and binds our message catalogue:
/// `share/locale/LANG/LC_MESSAGES/tessera.mo` under the prefix the app is
/// installed in (`PREFIX/bin/tessera-app` → `PREFIX/share/locale`).
pub fn init() {
    // SAFETY: called first thing in main, before any other thread exists
    // (setlocale is not thread-safe).
    unsafe { setlocale(LocaleCategory::LcAll, "") };
    let locale_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("share/locale")))
        .unwrap_or_else(|| "/usr/local/share/locale".into());
    // A missing catalogue is not an error: the strings stay in English.
    let _ = bindtextdomain(DOMAIN, locale_dir);
    let _ = bind_textdomain_codeset(DOMAIN, "UTF-8");
    let _ = textdomain(DOMAIN);
}

/// A translated string.
pub fn tr(msgid: &str) -> String {
    gettextrs::gettext(msgid)
}

/// A translated string with `{}` replaced by `arg`.
pub fn tr_f(msgid: &str, arg: impl std::fmt::Display) -> String {
    gettextrs::gettext(msgid).replacen("{}", &arg.to_string(), 1)
}

/// A translated singular/plural string with `{}` replaced by `n`.
pub fn ngettext_f(singular: &str, plural: &str, n: u64) -> String {
    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
    gettextrs::ngettext(singular, plural, n32).replacen("{}", &n.to_string(), 1)
}
