//! The main window (`ui/window.ui`): picks the page from the daemon's
//! status (no daemon, welcome, unlock, accounts, activation), keeps the
//! account list's codes current, and turns the buttons' actions into
//! daemon calls. Every decision about accounts, codes, PINs and
//! activations is the daemon's; this file only shows its answers.

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::glib::{self, clone};
use gtk::{gdk, gio};

use zeroize::Zeroizing;

use crate::account_row::AccountRow;
use crate::activation_page::ActivationPage;
use crate::daemon::{Daemon, DaemonError, NO_DAEMON};
use crate::dialogs::{self, Ask, Field};
use crate::i18n::{tr, tr_f};
use crate::model::{self, Account, Signing, Status, View, source};

/// A window action without a target, and one whose target is an account id.
type WindowAction = fn(&Window);
type AccountAction = fn(&Window, String);
/// What the window does with a text the activation page signals.
type TextAction = fn(&Window, &str);

/// Rows made before the first frame, and per idle turn after it.
const FIRST_ROWS: usize = 20;

/// How often the window asks the daemon for its status (an auto-lock or
/// a lock from another client shows the unlock page within this).
const STATUS_POLL_SECONDS: u32 = 5;

mod imp {
    use std::cell::{Cell, RefCell};

    use super::*;

    #[derive(Debug, Default, gtk::CompositeTemplate)]
    #[template(file = "../ui/window.ui")]
    pub struct Window {
        #[template_child]
        pub toasts: TemplateChild<adw::ToastOverlay>,
        #[template_child]
        pub add_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub search_button: TemplateChild<gtk::ToggleButton>,
        #[template_child]
        pub lock_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub pages: TemplateChild<gtk::Stack>,
        #[template_child]
        pub unlock_page: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub unlock_entry: TemplateChild<gtk::PasswordEntry>,
        #[template_child]
        pub unlock_error: TemplateChild<gtk::Label>,
        #[template_child]
        pub unlock_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub fingerprint_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub search_bar: TemplateChild<gtk::SearchBar>,
        #[template_child]
        pub search_entry: TemplateChild<gtk::SearchEntry>,
        #[template_child]
        pub account_list: TemplateChild<gtk::ListBox>,
        #[template_child]
        pub no_match: TemplateChild<gtk::Widget>,
        #[template_child]
        pub activation: TemplateChild<ActivationPage>,

        pub daemon: RefCell<Option<Daemon>>,
        pub rows: RefCell<Vec<AccountRow>>,
        /// `clients.clipboard_clear_seconds` as the daemon last said.
        pub clipboard_clear_seconds: Cell<u32>,
        /// Seconds since the last status poll.
        pub since_poll: Cell<u32>,
        /// A reload is running: the ticks do not start another.
        pub reloading: Cell<bool>,
        /// The daemon is new to the window: the next reload reads its
        /// settings and its activations under way.
        pub fresh: Cell<bool>,
        /// Bumped when the list is rebuilt: stops an older batch build.
        pub row_generation: Cell<u64>,
        /// The user closed the activation page: the next reload leaves it.
        pub leaving_activation: Cell<bool>,
        /// Print the first-frame figure and quit (`TESSERA_APP_BENCH=1`).
        pub bench: Cell<bool>,
        /// The open file chooser of "Sign a Payment from an Image…" (GTK
        /// drops a native dialog with its last reference).
        pub chooser: RefCell<Option<gtk::FileChooserNative>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for Window {
        const NAME: &'static str = "TesseraWindow";
        type Type = super::Window;
        type ParentType = adw::ApplicationWindow;

        fn class_init(klass: &mut Self::Class) {
            ActivationPage::ensure_type();
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for Window {
        fn constructed(&self) {
            self.parent_constructed();
            self.clipboard_clear_seconds.set(30);
            let obj = self.obj();
            obj.setup_actions();
            obj.setup_widgets();
        }
    }

    impl WidgetImpl for Window {}
    impl WindowImpl for Window {}
    impl ApplicationWindowImpl for Window {}
    impl AdwApplicationWindowImpl for Window {}
}

glib::wrapper! {
    pub struct Window(ObjectSubclass<imp::Window>)
        @extends adw::ApplicationWindow, gtk::ApplicationWindow, gtk::Window, gtk::Widget,
        @implements gio::ActionGroup, gio::ActionMap, gtk::Buildable,
            gtk::ConstraintTarget, gtk::Native, gtk::Root, gtk::ShortcutManager;
}

impl Window {
    pub fn new(app: &adw::Application) -> Self {
        let window: Self = glib::Object::builder().property("application", app).build();
        window
            .imp()
            .bench
            .set(std::env::var_os("TESSERA_APP_BENCH").is_some());
        glib::spawn_future_local(clone!(
            #[weak]
            window,
            async move { window.connect_daemon().await }
        ));
        window
    }

    pub fn daemon(&self) -> Option<Daemon> {
        self.imp().daemon.borrow().clone()
    }

    pub fn toast(&self, text: &str) {
        self.imp().toasts.add_toast(adw::Toast::new(text));
    }

    /// Starts an activation from a link the app was opened with.
    pub fn open_link(&self, link: String) {
        let imp = self.imp();
        imp.activation.show_home();
        self.show_page("activation");
        imp.activation.start_text(link);
    }

    fn setup_widgets(&self) {
        let imp = self.imp();
        imp.search_button
            .bind_property("active", &*imp.search_bar, "search-mode-enabled")
            .bidirectional()
            .build();
        imp.search_bar.connect_entry(&*imp.search_entry);
        imp.search_bar.set_key_capture_widget(Some(self));
        imp.search_entry.connect_search_changed(clone!(
            #[weak(rename_to = window)]
            self,
            move |_| window.apply_filter()
        ));
        imp.unlock_entry.connect_activate(clone!(
            #[weak(rename_to = window)]
            self,
            move |_| {
                let _ = WidgetExt::activate_action(&window, "win.unlock", None);
            }
        ));
        let page = &*imp.activation;
        page.connect_local(
            "closed",
            false,
            clone!(
                #[weak(rename_to = window)]
                self,
                #[upgrade_or]
                None,
                move |_| {
                    let imp = window.imp();
                    imp.activation.show_home();
                    imp.leaving_activation.set(true);
                    window.reload();
                    None
                }
            ),
        );
        // The page's text signals: a toast, a code to copy.
        let texts: [(&str, TextAction); 2] =
            [("notice", |w, t| w.toast(t)), ("copy", |w, t| w.copy(t))];
        for (signal, f) in texts {
            page.connect_local(
                signal,
                false,
                clone!(
                    #[weak(rename_to = window)]
                    self,
                    #[upgrade_or]
                    None,
                    move |values| {
                        if let Some(text) = values.get(1).and_then(|v| v.get::<String>().ok()) {
                            f(&window, &text);
                        }
                        None
                    }
                ),
            );
        }
        glib::timeout_add_seconds_local(
            1,
            clone!(
                #[weak(rename_to = window)]
                self,
                #[upgrade_or]
                glib::ControlFlow::Break,
                move || {
                    window.tick();
                    glib::ControlFlow::Continue
                }
            ),
        );
    }

    fn setup_actions(&self) {
        let plain: [(&str, WindowAction); 10] = [
            ("add", |w| {
                w.imp().activation.show_home();
                w.show_page("activation");
            }),
            ("lock", |w| w.lock()),
            ("unlock", |w| w.unlock(false)),
            ("unlock-fingerprint", |w| w.unlock(true)),
            ("reconnect", |w| w.reload()),
            ("preferences", |w| crate::preferences::show(w)),
            ("change-pin", |w| w.change_pin()),
            ("sign-link", |w| w.sign_from_link()),
            ("sign-image", |w| w.sign_from_image()),
            ("about", |w| w.about()),
        ];
        for (name, f) in plain {
            let action = gio::SimpleAction::new(name, None);
            action.connect_activate(clone!(
                #[weak(rename_to = window)]
                self,
                move |_, _| f(&window)
            ));
            self.add_action(&action);
        }
        let per_account: [(&str, AccountAction); 5] = [
            ("copy-code", |w, id| w.copy_code(&id)),
            ("next-code", |w, id| w.next_code(id)),
            ("respond", |w, id| w.respond(id)),
            ("rename", |w, id| w.rename(id)),
            ("delete", |w, id| w.delete(id)),
        ];
        for (name, f) in per_account {
            let action = gio::SimpleAction::new(name, Some(glib::VariantTy::STRING));
            action.connect_activate(clone!(
                #[weak(rename_to = window)]
                self,
                move |_, target| {
                    if let Some(id) = target.and_then(|t| t.get::<String>()) {
                        f(&window, id);
                    }
                }
            ));
            self.add_action(&action);
        }
    }

    async fn connect_daemon(&self) {
        let daemon = match Daemon::connect().await {
            Ok(d) => d,
            Err(e) => {
                self.show_no_daemon(&tr_f("There is no session bus: {}", e.message()));
                return;
            }
        };
        daemon.connect_running_changed(clone!(
            #[weak(rename_to = window)]
            self,
            move |running| {
                if running {
                    window.imp().fresh.set(true);
                    window.reload();
                } else {
                    window.show_no_daemon("");
                }
            }
        ));
        daemon.connect_activation_changed(clone!(
            #[weak(rename_to = window)]
            self,
            move |view| window.activation_changed(view)
        ));
        self.imp().activation.set_daemon(Some(daemon.clone()));
        self.imp().daemon.replace(Some(daemon));
        self.imp().fresh.set(true);
        self.reload();
    }

    fn show_no_daemon(&self, detail: &str) {
        if !detail.is_empty() {
            self.toast(detail);
        }
        self.show_page("no_daemon");
    }

    fn show_page(&self, name: &str) {
        let imp = self.imp();
        crate::pages::show(&imp.pages, name);
        let accounts = name == "accounts";
        imp.lock_button.set_visible(accounts);
        imp.search_button.set_visible(accounts);
        imp.add_button
            .set_visible(matches!(name, "accounts" | "welcome"));
        if !accounts {
            imp.search_button.set_active(false);
        }
        if name == "unlock" {
            imp.unlock_entry.grab_focus();
        }
    }

    fn page(&self) -> String {
        self.imp()
            .pages
            .visible_child_name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    }

    /// Reads the daemon's state and shows the page it asks for.
    pub fn reload(&self) {
        if self.imp().reloading.replace(true) {
            return;
        }
        glib::spawn_future_local(clone!(
            #[weak(rename_to = window)]
            self,
            async move {
                window.reload_now().await;
                window.imp().reloading.set(false);
            }
        ));
    }

    async fn reload_now(&self) {
        let Some(daemon) = self.daemon() else { return };
        let imp = self.imp();
        // A call, not the proxy's owner: it starts the daemon through D-Bus
        // activation when it is installed.
        let status = match daemon.status().await {
            Ok(s) => s,
            Err(e) => return self.failed(e),
        };
        // The settings and the activations under way are read when the
        // daemon is new to the window (its start, a restart); later the
        // signals tell of activations, and the 5-second poll and the
        // codes' ends ask only for the status, accounts and codes.
        let fresh = imp.fresh.replace(false);
        if fresh
            && let Ok(settings) = daemon.settings().await
            && let Some(s) = settings
                .iter()
                .find(|s| s.key == "clients.clipboard_clear_seconds")
        {
            imp.clipboard_clear_seconds
                .set(s.value.parse().unwrap_or(30));
        }
        // An activation under way (this app's, or another client's) stays
        // on screen; one the daemon no longer knows (it restarted) is gone.
        let views = if fresh || self.page() == "activation" {
            daemon.activations().await.unwrap_or_default()
        } else {
            Vec::new()
        };
        if self.page() == "activation" && !imp.leaving_activation.replace(false) {
            match imp.activation.activation_id() {
                Some(id) => match views.iter().find(|v| v.id == id) {
                    Some(view) => {
                        imp.activation.show_view(view.clone());
                        return;
                    }
                    None => {
                        self.toast(&tr(
                            "The activation ended in Tessera’s service; start again.",
                        ));
                        imp.activation.show_home();
                    }
                },
                None => return,
            }
        } else if let Some(view) = views.iter().find(|v| adoptable(v)) {
            imp.activation.show_home();
            imp.activation.show_view(view.clone());
            self.show_page("activation");
            return;
        }
        if !status.exists {
            self.show_page("welcome");
            self.bench_frame();
        } else if status.locked {
            self.show_unlock(&status, &daemon).await;
        } else {
            self.load_accounts(&daemon).await;
        }
    }

    async fn show_unlock(&self, status: &Status, daemon: &Daemon) {
        let imp = self.imp();
        let keyring = status.protection == "keyring";
        imp.unlock_entry.set_visible(!keyring);
        imp.unlock_page.set_description(Some(&if keyring {
            tr("Your login keyring holds the key: unlock to see your codes.")
        } else {
            tr("Enter your PIN to see your codes.")
        }));
        let fingerprint = daemon
            .biometric_status()
            .await
            .is_ok_and(|b| b.enabled && b.available);
        imp.fingerprint_button.set_visible(fingerprint);
        if status.retry_after_seconds > 0 {
            self.unlock_error(&tr_f(
                "Too many wrong PINs: wait {} before the next try.",
                model::wait_text(status.retry_after_seconds),
            ));
        }
        if self.page() != "unlock" {
            imp.unlock_entry.set_text("");
        }
        self.show_page("unlock");
        self.bench_frame();
    }

    fn unlock_error(&self, text: &str) {
        let label = &self.imp().unlock_error;
        label.set_label(text);
        label.set_visible(!text.is_empty());
    }

    async fn load_accounts(&self, daemon: &Daemon) {
        let imp = self.imp();
        let (accounts, codes) = match (daemon.list_accounts().await, daemon.list_codes().await) {
            (Ok(a), Ok(c)) => (a, c),
            (Err(e), _) | (_, Err(e)) => return self.failed(e),
        };
        // Keep rows (and an HOTP code the user asked for) when the list
        // is the same; rebuild when accounts came or went.
        let same = {
            let rows = imp.rows.borrow();
            rows.len() == accounts.len()
                && rows
                    .iter()
                    .zip(&accounts)
                    .all(|(r, a)| r.account().id == a.id)
        };
        if !same {
            for row in imp.rows.borrow().iter() {
                imp.account_list.remove(row);
            }
            imp.rows.borrow_mut().clear();
            // The rows a window shows first are made now; the rest after
            // the first frame, a batch per idle turn (a row costs ~3 ms:
            // docs/benchmarks.md, "Desktop app").
            let first = accounts.len().min(FIRST_ROWS);
            self.append_rows(&accounts[..first]);
            if accounts.len() > first {
                self.append_rows_later(accounts[first..].to_vec(), codes.clone());
            }
        } else {
            for (row, a) in imp.rows.borrow().iter().zip(&accounts) {
                if row.account() != *a {
                    row.set_account(a);
                }
            }
        }
        self.show_codes(&codes);
        self.apply_filter();
        self.show_page("accounts");
        self.bench_frame();
    }

    fn append_rows(&self, accounts: &[model::Account]) {
        let imp = self.imp();
        for account in accounts {
            let row = AccountRow::new(account);
            imp.account_list.append(&row);
            imp.rows.borrow_mut().push(row);
        }
    }

    /// Appends `rest` in batches on idle turns, unless the list is rebuilt
    /// meanwhile (a newer generation).
    fn append_rows_later(&self, rest: Vec<model::Account>, codes: Vec<model::Code>) {
        let imp = self.imp();
        let generation = imp.row_generation.get() + 1;
        imp.row_generation.set(generation);
        let mut rest = rest.into_iter();
        glib::idle_add_local(clone!(
            #[weak(rename_to = window)]
            self,
            #[upgrade_or]
            glib::ControlFlow::Break,
            move || {
                if window.imp().row_generation.get() != generation {
                    return glib::ControlFlow::Break;
                }
                let batch: Vec<_> = rest.by_ref().take(FIRST_ROWS).collect();
                if batch.is_empty() {
                    return glib::ControlFlow::Break;
                }
                window.append_rows(&batch);
                window.show_codes(&codes);
                window.apply_filter();
                glib::ControlFlow::Continue
            }
        ));
    }

    fn show_codes(&self, codes: &[model::Code]) {
        for row in self.imp().rows.borrow().iter() {
            let id = row.account().id;
            if let Some(code) = codes.iter().find(|c| c.account.id == id) {
                row.show_code(Some(code));
            }
        }
    }

    fn apply_filter(&self) {
        let imp = self.imp();
        let query = imp.search_entry.text().to_string();
        let mut shown = 0;
        for row in imp.rows.borrow().iter() {
            let visible = model::matches(&row.account(), &query);
            row.set_visible(visible);
            shown += usize::from(visible);
        }
        imp.account_list.set_visible(shown > 0);
        imp.no_match
            .set_visible(shown == 0 && !imp.rows.borrow().is_empty());
    }

    /// Every second: move the countdowns, fetch codes that ran out, and
    /// now and then ask for the status (an auto-lock shows the unlock page).
    fn tick(&self) {
        let imp = self.imp();
        if self.page() != "accounts" || imp.reloading.get() {
            return;
        }
        let now = glib::real_time() / 1_000_000;
        let expired = imp.rows.borrow().iter().any(|r| r.tick(now));
        let poll = imp.since_poll.get() + 1 >= STATUS_POLL_SECONDS;
        imp.since_poll
            .set(if poll { 0 } else { imp.since_poll.get() + 1 });
        if expired || poll {
            self.reload();
        }
    }

    /// A failed call: a locked vault shows the unlock page, a missing
    /// daemon its page; anything else is said in a toast.
    fn failed(&self, e: DaemonError) {
        if e.is(NO_DAEMON) {
            self.show_no_daemon("");
        } else if e.is("VaultLocked") {
            if let Some(daemon) = self.daemon() {
                glib::spawn_future_local(clone!(
                    #[weak(rename_to = window)]
                    self,
                    async move {
                        if let Ok(status) = daemon.status().await {
                            window.show_unlock(&status, &daemon).await;
                        }
                    }
                ));
            }
        } else if e.is("NoVault") {
            self.show_page("welcome");
        } else {
            self.toast(&e.message);
        }
    }

    /// Runs `call` on the daemon; its error goes to [`failed`](Self::failed).
    fn with_daemon<F, Fut>(&self, call: F)
    where
        F: FnOnce(Window, Daemon) -> Fut + 'static,
        Fut: std::future::Future<Output = Result<(), DaemonError>> + 'static,
    {
        let Some(daemon) = self.daemon() else { return };
        let window = self.clone();
        glib::spawn_future_local(async move {
            if let Err(e) = call(window.clone(), daemon).await {
                window.failed(e);
            }
        });
    }

    fn lock(&self) {
        self.with_daemon(|w, d| async move {
            let status = d.lock().await?;
            w.show_unlock(&status, &d).await;
            Ok(())
        });
    }

    fn unlock(&self, fingerprint: bool) {
        let imp = self.imp();
        let pin = Zeroizing::new(imp.unlock_entry.text().to_string());
        imp.unlock_entry.set_text("");
        let keyring = !imp.unlock_entry.is_visible();
        if !fingerprint && !keyring && pin.is_empty() {
            self.unlock_error(&tr("Type your PIN first."));
            return;
        }
        let method = if fingerprint {
            "biometric"
        } else if keyring {
            "auto"
        } else {
            "pin"
        };
        imp.unlock_button.set_sensitive(false);
        self.with_daemon(move |w, d| async move {
            let result = d.unlock(method, &pin).await;
            w.imp().unlock_button.set_sensitive(true);
            match result {
                Ok(_) => {
                    w.unlock_error("");
                    w.reload();
                    Ok(())
                }
                // The daemon's message says how many tries are left, how
                // long to wait, or that the vault is locked out.
                Err(e) if e.is("WrongPin") || e.is("PinDelayed") || e.is("NoMatch") => {
                    w.unlock_error(&e.message);
                    Ok(())
                }
                Err(e) if e.is("BiometricsUnavailable") => {
                    w.unlock_error(&e.message);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        });
    }

    fn row(&self, id: &str) -> Option<AccountRow> {
        self.imp()
            .rows
            .borrow()
            .iter()
            .find(|r| r.account().id == id)
            .cloned()
    }

    fn copy_code(&self, id: &str) {
        if let Some(code) = self.row(id).and_then(|r| r.code()) {
            self.copy(&code.code);
        }
    }

    /// Puts `text` on the clipboard and takes it off after
    /// `clients.clipboard_clear_seconds` if it is still there.
    pub fn copy(&self, text: &str) {
        let clipboard = self.clipboard();
        clipboard.set_text(text);
        let seconds = self.imp().clipboard_clear_seconds.get();
        if seconds == 0 {
            self.toast(&tr("Copied"));
            return;
        }
        self.toast(&tr_f(
            "Copied (cleared in {})",
            model::wait_text(u64::from(seconds)),
        ));
        let text = text.to_owned();
        glib::timeout_add_seconds_local_once(seconds, move || clear_if_same(clipboard, text));
    }

    fn next_code(&self, id: String) {
        self.with_daemon(move |w, d| async move {
            let code = d.code(&id).await?;
            if let Some(row) = w.row(&id) {
                row.show_code(Some(&code));
            }
            Ok(())
        });
    }

    /// Asks the question `ask` makes of the account `id` and, when the
    /// user confirms, runs `act` on the daemon with the answers; its error
    /// goes to [`failed`](Self::failed). Rename, delete and OCRA ask so.
    fn ask_about<F, Fut>(&self, id: String, ask: impl FnOnce(&Account) -> Ask, act: F)
    where
        F: Fn(Window, Daemon, String, Zeroizing<Vec<String>>) -> Fut + 'static,
        Fut: std::future::Future<Output = Result<(), DaemonError>> + 'static,
    {
        let Some(account) = self.row(&id).map(|r| r.account()) else {
            return;
        };
        let window = self.clone();
        let act = std::rc::Rc::new(act);
        dialogs::ask(self, ask(&account), move |values| {
            let (id, act) = (id.clone(), act.clone());
            window.with_daemon(move |w, d| act(w, d, id, values));
        });
    }

    /// "Sign a Payment…": the signing request's text, pasted; the daemon
    /// decodes it (docs/protocol.md, "Transaction signing").
    fn sign_from_link(&self) {
        let window = self.clone();
        dialogs::ask(
            self,
            Ask {
                heading: tr("Sign a Payment"),
                body: tr(
                    "Paste the signing request your bank or employer shows (tessera://sign?…).",
                ),
                fields: vec![Field::text(tr("Signing request"), "")],
                confirm: tr("Continue"),
                destructive: false,
            },
            move |values| {
                let text = values[0].trim().to_owned();
                window.with_daemon(move |w, d| async move {
                    let payload = source(&[("payload", text.to_variant())]);
                    let signing = d.start_signing(payload).await?;
                    w.review_signing(signing);
                    Ok(())
                });
            },
        );
    }

    /// "Sign a Payment from an Image…": the request's picture (plain QR or
    /// colour code), read by the daemon.
    fn sign_from_image(&self) {
        let chooser = dialogs::choose_image(
            Some(self.upcast_ref()),
            &tr("Choose the Signing Request"),
            clone!(
                #[weak(rename_to = window)]
                self,
                move |file| {
                    window.with_daemon(move |w, d| async move {
                        let bytes = file.load_contents_future().await.map_err(|e| DaemonError {
                            name: "InvalidImage".into(),
                            message: tr_f("Cannot read the image: {}", e.message()),
                        })?;
                        let image = source(&[("image", bytes.0.to_vec().to_variant())]);
                        let signing = d.start_signing(image).await?;
                        w.review_signing(signing);
                        Ok(())
                    });
                }
            ),
        );
        // GTK drops a native dialog with its last reference: keep it.
        self.imp().chooser.replace(Some(chooser));
    }

    /// Shows what the daemon decoded and asks for the PIN; Sign approves,
    /// Cancel declines. A wrong PIN asks again; the response is shown to
    /// type into the issuer's page.
    fn review_signing(&self, signing: Signing) {
        let window = self.clone();
        self.with_daemon(move |w, d| async move {
            let status = d.status().await?;
            let with_pin = status.protection == "pin";
            let mut body = tr_f(
                "For {}. Check every field: the code you get signs exactly this.",
                signing.account.title(),
            );
            for (name, value) in signing.lines() {
                body.push_str(&format!("\n{name}: {value}"));
            }
            let fields = if with_pin {
                vec![Field::secret(tr("PIN"))]
            } else {
                Vec::new()
            };
            let id = signing.id.clone();
            let declined = {
                let (window, id) = (window.clone(), id.clone());
                move || {
                    let id = id.clone();
                    window.with_daemon(move |w, d| async move {
                        d.decline_signing(&id).await?;
                        w.toast(&tr("Declined: nothing was signed"));
                        Ok(())
                    });
                }
            };
            let review = signing.clone();
            dialogs::ask_or_cancel(
                &w,
                Ask {
                    heading: tr("Sign This Payment?"),
                    body,
                    fields,
                    confirm: tr("Sign"),
                    destructive: false,
                },
                move |values| {
                    let pin = Zeroizing::new(values.first().cloned().unwrap_or_default());
                    let (id, review) = (id.clone(), review.clone());
                    let window = window.clone();
                    glib::spawn_future_local(async move {
                        let Some(d) = window.daemon() else { return };
                        match d.approve_signing(&id, &pin).await {
                            Ok(signed) => dialogs::show(
                                &window,
                                &tr("Your Response"),
                                &tr_f(
                                    "Type it into the page of {} to complete the payment.",
                                    signed.account.title(),
                                ),
                                &signed.grouped_response(),
                            ),
                            Err(e) if e.is("WrongPin") || e.is("NoMatch") => {
                                window.toast(&e.message);
                                window.review_signing(review);
                            }
                            Err(e) => window.failed(e),
                        }
                    });
                },
                declined,
            );
            Ok(())
        });
    }

    fn respond(&self, id: String) {
        self.ask_about(
            id,
            |account| Ask {
                heading: tr("Respond to a Challenge"),
                body: tr_f("Type the challenge {} shows you.", account.title()),
                fields: vec![Field::text(tr("Challenge"), "")],
                confirm: tr("Respond"),
                destructive: false,
            },
            |w, d, id, values| async move {
                let (response, suite) = d.respond(&id, values[0].trim()).await?;
                dialogs::show(
                    &w,
                    &tr("Your Response"),
                    &tr_f("Suite {}", suite),
                    &response,
                );
                Ok(())
            },
        );
    }

    fn rename(&self, id: String) {
        self.ask_about(
            id,
            |account| Ask {
                heading: tr("Rename the Account"),
                body: tr_f("A new name for {}.", account.title()),
                fields: vec![Field::text(tr("Name"), &account.label)],
                confirm: tr("Rename"),
                destructive: false,
            },
            |w, d, id, values| async move {
                d.rename(&id, values[0].trim()).await?;
                w.reload();
                Ok(())
            },
        );
    }

    fn delete(&self, id: String) {
        self.ask_about(
            id,
            |account| Ask {
                heading: tr("Delete the Account?"),
                body: tr_f(
                    "The codes for {} will no longer be available here. You need a new activation from the issuer to get them back.",
                    format!("{} {}", account.issuer, account.label).trim(),
                ),
                fields: Vec::new(),
                confirm: tr("Delete"),
                destructive: true,
            },
            |w, d, id, _| async move {
                let gone = d.delete(&id).await?;
                w.toast(&tr_f("Deleted {}.", gone.title()));
                w.reload();
                Ok(())
            },
        );
    }

    fn change_pin(&self) {
        let ask = Ask {
            heading: tr("Change the PIN"),
            body: tr("The new PIN follows the same rules as when you chose it."),
            fields: vec![
                Field::secret(tr("Current PIN")),
                Field::secret(tr("New PIN")),
                Field::secret(tr("New PIN again")),
            ],
            confirm: tr("Change"),
            destructive: false,
        };
        let window = self.clone();
        dialogs::ask(self, ask, move |values| {
            if values[1] != values[2] {
                window.toast(&tr("The two new PINs did not match; nothing changed."));
                return;
            }
            let (old, new) = (
                Zeroizing::new(values[0].clone()),
                Zeroizing::new(values[1].clone()),
            );
            window.with_daemon(move |w, d| async move {
                d.change_pin(&old, &new).await?;
                w.toast(&tr("The PIN is changed."));
                Ok(())
            });
        });
    }

    fn about(&self) {
        let about = adw::AboutWindow::builder()
            .transient_for(self)
            .application_name("Tessera")
            .application_icon(crate::APP_ID)
            .version(env!("CARGO_PKG_VERSION"))
            .license_type(gtk::License::Apache20)
            .comments(tr("Authenticator codes, activations and approvals"))
            .build();
        about.present();
    }

    /// A view from `ActivationChanged`: the one on screen moves along;
    /// one another client started is shown when the app is not busy.
    fn activation_changed(&self, view: View) {
        let imp = self.imp();
        imp.activation.remember(&view);
        let on_page = self.page() == "activation";
        if imp.activation.activation_id().as_deref() == Some(view.id.as_str()) {
            let activated = view.state == "activated";
            imp.activation.show_view(view);
            if activated {
                // The new accounts are there when the user leaves the page.
                imp.rows.borrow_mut().clear();
            }
        } else if adoptable(&view) && (!on_page || imp.activation.activation_id().is_none()) {
            imp.activation.show_home();
            imp.activation.show_view(view);
            self.show_page("activation");
        }
    }

    /// With `TESSERA_APP_BENCH`, says when the first frame with the
    /// daemon's content is painted, with the RSS then, and quits (docs/benchmarks.md, "Desktop app").
    fn bench_frame(&self) {
        if !self.imp().bench.replace(false) {
            return;
        }
        let Some(clock) = self.frame_clock() else {
            return;
        };
        let handler = std::rc::Rc::new(std::cell::RefCell::new(None));
        let h2 = handler.clone();
        let id = clock.connect_after_paint(clone!(
            #[weak(rename_to = window)]
            self,
            move |clock| {
                // The harness times the process from its spawn to this line.
                println!("first-frame");
                println!("rss-kib {}", crate::bench::status_kib("VmRSS"));
                println!("rss-anon-kib {}", crate::bench::status_kib("RssAnon"));
                if let Some(id) = h2.borrow_mut().take() {
                    clock.disconnect(id);
                }
                window.close();
            }
        ));
        handler.replace(Some(id));
        self.queue_draw();
    }
}

/// An activation worth showing when it appears: under way and past the
/// home step (a `home` one waits for a scan its own client will send).
fn adoptable(view: &View) -> bool {
    !view.is_over() && view.state != "home"
}

fn clear_if_same(clipboard: gdk::Clipboard, text: String) {
    glib::spawn_future_local(async move {
        if let Ok(Some(now)) = clipboard.read_text_future().await
            && now == text
        {
            clipboard.set_text("");
        }
    });
}
