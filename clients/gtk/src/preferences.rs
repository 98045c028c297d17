//! The preferences window (`ui/preferences.ui`): fingerprint unlock, which
//! accounts may send approval requests, and the settings in force. The
//! daemon has no call to write settings (they live in files an
//! administrator may lock), so the settings page shows them, with the lock
//! and its file, and says where to change them.

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::glib::{self, clone};

use zeroize::Zeroizing;

use crate::daemon::Daemon;
use crate::dialogs::{self, Ask, Field};
use crate::i18n::{tr, tr_f};
use crate::window::Window;

mod imp {
    use std::cell::{Cell, RefCell};

    use super::*;

    #[derive(Debug, Default, gtk::CompositeTemplate)]
    #[template(file = "../ui/preferences.ui")]
    pub struct Preferences {
        #[template_child]
        pub biometrics_row: TemplateChild<adw::ActionRow>,
        #[template_child]
        pub biometrics_switch: TemplateChild<gtk::Switch>,
        #[template_child]
        pub approvals_group: TemplateChild<adw::PreferencesGroup>,
        #[template_child]
        pub settings_group: TemplateChild<adw::PreferencesGroup>,
        pub daemon: RefCell<Option<Daemon>>,
        /// The switch is being set from the daemon's answer, not by the user.
        pub updating: Cell<bool>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Preferences {
        const NAME: &'static str = "TesseraPreferences";
        type Type = super::Preferences;
        type ParentType = adw::PreferencesWindow;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for Preferences {}
    impl WidgetImpl for Preferences {}
    impl WindowImpl for Preferences {}
    impl AdwWindowImpl for Preferences {}
    impl PreferencesWindowImpl for Preferences {}
}

glib::wrapper! {
    pub struct Preferences(ObjectSubclass<imp::Preferences>)
        @extends adw::PreferencesWindow, adw::Window, gtk::Window, gtk::Widget,
        @implements gtk::Buildable, gtk::ConstraintTarget, gtk::Native,
            gtk::Root, gtk::ShortcutManager;
}

/// Opens the preferences over `window`.
pub fn show(window: &Window) {
    let Some(daemon) = window.daemon() else {
        return;
    };
    let prefs: Preferences = glib::Object::builder()
        .property("transient-for", window)
        .build();
    prefs.imp().daemon.replace(Some(daemon));
    prefs.connect_switch();
    prefs.present();
    glib::spawn_future_local(clone!(
        #[weak]
        prefs,
        async move { prefs.load().await }
    ));
}

impl Preferences {
    fn daemon(&self) -> Option<Daemon> {
        self.imp().daemon.borrow().clone()
    }

    fn toast(&self, text: &str) {
        self.add_toast(adw::Toast::new(text));
    }

    async fn load(&self) {
        let Some(daemon) = self.daemon() else { return };
        let imp = self.imp();
        match daemon.biometric_status().await {
            Ok(b) => {
                imp.updating.set(true);
                imp.biometrics_switch.set_active(b.enabled);
                imp.updating.set(false);
                let usable = b.allowed && (b.available || b.enabled);
                imp.biometrics_switch.set_sensitive(usable);
                imp.biometrics_row.set_subtitle(&if !b.allowed {
                    tr("Your administrator turned biometrics off (biometrics.allowed).")
                } else if !b.available {
                    glib::markup_escape_text(&b.unavailable_reason).to_string()
                } else {
                    String::new()
                });
            }
            Err(e) => imp
                .biometrics_row
                .set_subtitle(&glib::markup_escape_text(&e.message)),
        }
        match daemon.list_accounts().await {
            Ok(accounts) => {
                for account in accounts {
                    let row = adw::ActionRow::builder()
                        .title(glib::markup_escape_text(account.title()).as_str())
                        .subtitle(glib::markup_escape_text(&account.label).as_str())
                        .build();
                    let switch: gtk::Switch = crate::a11y::labelled(
                        "GtkSwitch",
                        &tr_f(
                            "Approval requests for {}",
                            format!("{} {}", account.issuer, account.label).trim(),
                        ),
                    );
                    switch.set_active(account.notifications);
                    switch.set_valign(gtk::Align::Center);
                    // No activatable widget: GTK 4.8 would name the switch
                    // twice (its label and the row's title).
                    row.add_suffix(&switch);
                    let id = account.id.clone();
                    switch.connect_state_set(clone!(
                        #[weak(rename_to = prefs)]
                        self,
                        #[upgrade_or]
                        glib::Propagation::Stop,
                        move |switch, on| {
                            prefs.set_approvals(switch.clone(), id.clone(), on);
                            glib::Propagation::Proceed
                        }
                    ));
                    imp.approvals_group.add(&row);
                }
            }
            Err(e) => imp
                .approvals_group
                .set_description(Some(&glib::markup_escape_text(&e.message))),
        }
        match daemon.settings().await {
            Ok(settings) => {
                for s in settings {
                    // TOML text; a plain string reads better without quotes.
                    let value = if s.value.is_empty() {
                        tr("not set")
                    } else {
                        s.value
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .filter(|v| !v.contains('"'))
                            .unwrap_or(&s.value)
                            .to_owned()
                    };
                    let row = adw::ActionRow::builder()
                        .title(s.key.as_str())
                        .subtitle(glib::markup_escape_text(&value).as_str())
                        .build();
                    if !s.locked_by.is_empty() {
                        let lock = gtk::Image::from_icon_name("system-lock-screen-symbolic");
                        let text = tr_f("Locked by your administrator in {}", &s.locked_by);
                        lock.set_tooltip_text(Some(&text));
                        row.add_suffix(&lock);
                        row.set_subtitle(&glib::markup_escape_text(&format!("{value} · {text}")));
                    }
                    imp.settings_group.add(&row);
                }
            }
            Err(e) => imp
                .settings_group
                .set_description(Some(&glib::markup_escape_text(&e.message))),
        }
    }

    fn set_approvals(&self, switch: gtk::Switch, id: String, on: bool) {
        let Some(daemon) = self.daemon() else { return };
        glib::spawn_future_local(clone!(
            #[weak(rename_to = prefs)]
            self,
            async move {
                if let Err(e) = daemon.set_notifications(&id, on).await {
                    prefs.toast(&e.message);
                    switch.set_active(!on);
                }
            }
        ));
    }

    fn connect_switch(&self) {
        self.imp().biometrics_switch.connect_active_notify(clone!(
            #[weak(rename_to = prefs)]
            self,
            move |switch| {
                if prefs.imp().updating.get() {
                    return;
                }
                let enable = switch.is_active();
                let ask = Ask {
                    heading: if enable {
                        tr("Turn On Fingerprint Unlock")
                    } else {
                        tr("Turn Off Fingerprint Unlock")
                    },
                    body: tr("Confirm with your PIN."),
                    fields: vec![Field::secret(tr("PIN"))],
                    confirm: tr("Confirm"),
                    destructive: false,
                };
                let (p, back) = (prefs.clone(), prefs.clone());
                dialogs::ask_or_cancel(
                    &prefs,
                    ask,
                    move |values| p.set_biometrics(enable, Zeroizing::new(values[0].clone())),
                    move || {
                        let imp = back.imp();
                        imp.updating.set(true);
                        imp.biometrics_switch.set_active(!enable);
                        imp.updating.set(false);
                    },
                );
            }
        ));
    }

    fn set_biometrics(&self, enable: bool, pin: Zeroizing<String>) {
        let Some(daemon) = self.daemon() else { return };
        glib::spawn_future_local(clone!(
            #[weak(rename_to = prefs)]
            self,
            async move {
                let result = daemon.set_biometrics(enable, &pin).await;
                let imp = prefs.imp();
                imp.updating.set(true);
                match result {
                    Ok(b) => imp.biometrics_switch.set_active(b.enabled),
                    Err(e) => {
                        imp.biometrics_switch.set_active(!enable);
                        prefs.toast(&e.message);
                    }
                }
                imp.updating.set(false);
            }
        ));
    }
}
