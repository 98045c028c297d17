//! The activation pages (`ui/activation_page.ui`): shows the page the
//! daemon's view names and sends the event each button stands for. The
//! daemon's machine decides what comes next; this widget only renders the
//! latest view of one activation (the newest revision wins, whichever
//! client drove it).

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::gio;
use gtk::glib::{self, clone};
use gtk::prelude::ToVariant;

use zeroize::Zeroizing;

use crate::daemon::{Daemon, DaemonError};
use crate::i18n::{tr, tr_f};
use crate::model::{NewestViews, Screen, View, source};

mod imp {
    use std::cell::RefCell;
    use std::sync::OnceLock;

    use glib::subclass::Signal;

    use super::*;

    #[derive(Debug, Default, gtk::CompositeTemplate)]
    #[template(file = "../ui/activation_page.ui")]
    pub struct ActivationPage {
        #[template_child]
        pub stack: TemplateChild<gtk::Stack>,
        #[template_child]
        pub cancel: TemplateChild<gtk::Button>,
        #[template_child]
        pub scan_file: TemplateChild<gtk::Button>,
        #[template_child]
        pub scan_screen: TemplateChild<gtk::Button>,
        #[template_child]
        pub scan_camera: TemplateChild<gtk::Button>,
        #[template_child]
        pub camera_preview: TemplateChild<gtk::Picture>,
        #[template_child]
        pub payload_row: TemplateChild<adw::EntryRow>,
        #[template_child]
        pub use_payload: TemplateChild<gtk::Button>,
        #[template_child]
        pub serial_row: TemplateChild<adw::EntryRow>,
        #[template_child]
        pub activation_code_row: TemplateChild<adw::EntryRow>,
        #[template_child]
        pub use_manual: TemplateChild<gtk::Button>,
        #[template_child]
        pub scanning_spinner: TemplateChild<gtk::Spinner>,
        #[template_child]
        pub device_code: TemplateChild<gtk::Label>,
        #[template_child]
        pub copy_device_code: TemplateChild<gtk::Button>,
        #[template_child]
        pub device_code_entered: TemplateChild<gtk::Button>,
        #[template_child]
        pub pin_status: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub pin_entry: TemplateChild<gtk::PasswordEntry>,
        #[template_child]
        pub pin_hint: TemplateChild<gtk::Label>,
        #[template_child]
        pub pin_reason: TemplateChild<gtk::Label>,
        #[template_child]
        pub pin_continue: TemplateChild<gtk::Button>,
        #[template_child]
        pub method_reason: TemplateChild<gtk::Label>,
        #[template_child]
        pub use_biometrics: TemplateChild<gtk::Button>,
        #[template_child]
        pub pin_only: TemplateChild<gtk::Button>,
        #[template_child]
        pub biometric_allow: TemplateChild<gtk::Button>,
        #[template_child]
        pub biometric_deny: TemplateChild<gtk::Button>,
        #[template_child]
        pub enroll_stage: TemplateChild<gtk::Label>,
        #[template_child]
        pub enroll_progress: TemplateChild<gtk::ProgressBar>,
        #[template_child]
        pub enroll_message: TemplateChild<gtk::Label>,
        #[template_child]
        pub finalize_status: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub finalize_code: TemplateChild<gtk::Label>,
        #[template_child]
        pub copy_finalize_code: TemplateChild<gtk::Button>,
        #[template_child]
        pub finalize_done: TemplateChild<gtk::Button>,
        #[template_child]
        pub notifications_allow: TemplateChild<gtk::Button>,
        #[template_child]
        pub notifications_deny: TemplateChild<gtk::Button>,
        #[template_child]
        pub activated_status: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub activated_accounts: TemplateChild<gtk::Label>,
        #[template_child]
        pub activated_done: TemplateChild<gtk::Button>,
        #[template_child]
        pub cancel_back: TemplateChild<gtk::Button>,
        #[template_child]
        pub cancel_confirm: TemplateChild<gtk::Button>,
        #[template_child]
        pub failed_status: TemplateChild<adw::StatusPage>,
        #[template_child]
        pub start_over: TemplateChild<gtk::Button>,
        #[template_child]
        pub failed_close: TemplateChild<gtk::Button>,

        pub daemon: RefCell<Option<Daemon>>,
        /// The activation shown; `None` on the app's own home page
        /// (before the first scan).
        pub view: RefCell<Option<View>>,
        pub chooser: RefCell<Option<gtk::FileChooserNative>>,
        /// The newest view of each activation the signals told of.
        pub seen: RefCell<NewestViews>,
        /// The camera preview's polling loop runs.
        pub previewing: std::cell::Cell<bool>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for ActivationPage {
        const NAME: &'static str = "TesseraActivationPage";
        type Type = super::ActivationPage;
        type ParentType = adw::Bin;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for ActivationPage {
        fn signals() -> &'static [Signal] {
            static SIGNALS: OnceLock<Vec<Signal>> = OnceLock::new();
            SIGNALS.get_or_init(|| {
                vec![
                    // The user is done with the activation page.
                    Signal::builder("closed").build(),
                    // Something to tell the user briefly (a toast).
                    Signal::builder("notice")
                        .param_types([String::static_type()])
                        .build(),
                    // A code to copy (the window owns the clipboard rules).
                    Signal::builder("copy")
                        .param_types([String::static_type()])
                        .build(),
                ]
            })
        }

        fn constructed(&self) {
            self.parent_constructed();
            self.obj().connect_buttons();
        }
    }

    impl WidgetImpl for ActivationPage {}
    impl BinImpl for ActivationPage {}
}

glib::wrapper! {
    pub struct ActivationPage(ObjectSubclass<imp::ActivationPage>)
        @extends adw::Bin, gtk::Widget,
        @implements gtk::Buildable, gtk::ConstraintTarget;
}

impl ActivationPage {
    pub fn set_daemon(&self, daemon: Option<Daemon>) {
        self.imp().daemon.replace(daemon);
    }

    /// The id of the activation shown, if any.
    pub fn activation_id(&self) -> Option<String> {
        self.imp().view.borrow().as_ref().map(|v| v.id.clone())
    }

    /// The app's home page: how to scan, no activation yet.
    pub fn show_home(&self) {
        let imp = self.imp();
        imp.view.replace(None);
        for row in [
            &*imp.payload_row,
            &*imp.serial_row,
            &*imp.activation_code_row,
        ] {
            row.set_text("");
        }
        self.render_screen(Screen::Home, None);
    }

    /// Notes a view from `ActivationChanged` (every one, shown or not).
    pub fn remember(&self, view: &View) {
        self.imp().seen.borrow_mut().remember(view);
    }

    /// Shows `view` if it is the activation on this page (or the page has
    /// none yet) and newer than what is shown, or a newer view of it that
    /// a signal already brought. Returns whether it did.
    pub fn show_view(&self, view: View) -> bool {
        let imp = self.imp();
        let view = imp.seen.borrow().newest(view);
        {
            let current = imp.view.borrow();
            if let Some(c) = current.as_ref()
                && (c.id != view.id || c.revision > view.revision)
            {
                return false;
            }
        }
        let screen = view.screen();
        imp.view.replace(Some(view.clone()));
        self.render_screen(screen, Some(&view));
        true
    }

    fn render_screen(&self, screen: Screen, view: Option<&View>) {
        let imp = self.imp();
        crate::pages::show(&imp.stack, screen.page());
        // On the home page the button below leaves; elsewhere it asks to
        // cancel (the daemon's cancellable steps).
        imp.cancel
            .set_visible(screen.cancellable() || screen == Screen::Home);
        imp.cancel.set_label(&if screen == Screen::Home {
            tr("Close")
        } else {
            tr("Cancel")
        });
        self.focus_default(screen);
        if screen == Screen::Scanning {
            self.follow_camera();
        }
        let Some(view) = view else { return };
        match screen {
            Screen::DeviceCode => imp.device_code.set_label(&view.grouped),
            Screen::FinalizeCode => {
                imp.finalize_code.set_label(&view.grouped);
                let website =
                    !view.accounts.is_empty() && view.accounts.iter().all(|a| a.kind != "tessera");
                imp.finalize_status.set_description(Some(&if website {
                    tr("Type this code on the website where you turned on two-factor authentication, to show it works.")
                } else {
                    tr("Type the finalize code into your issuer’s app or site to complete the activation.")
                }));
            }
            Screen::ChoosePin | Screen::ConfirmPin | Screen::EnterPin => {
                imp.pin_status.set_title(&match screen {
                    Screen::ChoosePin => tr("Choose a PIN"),
                    Screen::ConfirmPin => tr("Confirm Your PIN"),
                    _ => tr("Enter Your PIN"),
                });
                imp.pin_status.set_description(Some(&match screen {
                    Screen::EnterPin => {
                        tr("This vault already has a PIN: enter it to add the account.")
                    }
                    Screen::ConfirmPin => tr("Type the same PIN again."),
                    _ => tr("The PIN unlocks your codes on this computer."),
                }));
                imp.pin_hint
                    .set_label(&if view.min_length > 0 && screen == Screen::ChoosePin {
                        tr_f("At least {} characters.", view.min_length)
                    } else {
                        String::new()
                    });
                imp.pin_hint.set_visible(!imp.pin_hint.label().is_empty());
                imp.pin_reason.set_label(&view.reason);
                imp.pin_reason.set_visible(!view.reason.is_empty());
                imp.pin_entry.set_text("");
            }
            Screen::ChooseMethod => {
                imp.use_biometrics.set_sensitive(view.biometric_available);
                imp.method_reason.set_label(&view.reason);
                imp.method_reason.set_visible(!view.reason.is_empty());
            }
            Screen::BiometricEnroll => {
                imp.enroll_stage.set_label(&if view.stages > 0 {
                    tr("Stage {n} of {m}")
                        .replace("{n}", &view.stage.to_string())
                        .replace("{m}", &view.stages.to_string())
                } else {
                    tr("Starting the reader…")
                });
                imp.enroll_progress.set_fraction(if view.stages > 0 {
                    f64::from(view.stage) / f64::from(view.stages)
                } else {
                    0.0
                });
                imp.enroll_message.set_label(&view.message);
            }
            Screen::Activated => {
                let names: Vec<String> = view
                    .accounts
                    .iter()
                    .map(|a| {
                        if a.issuer.is_empty() {
                            a.label.clone()
                        } else {
                            format!("{} — {}", a.issuer, a.label)
                        }
                    })
                    .collect();
                imp.activated_accounts.set_label(&names.join("\n"));
                imp.activated_status.set_title(&crate::i18n::ngettext_f(
                    "Account Added",
                    "{} Accounts Added",
                    names.len() as u64,
                ));
            }
            Screen::Failed => {
                imp.failed_status
                    .set_description(Some(&glib::markup_escape_text(&view.error_message)));
            }
            Screen::Unknown => {
                imp.failed_status.set_description(Some(&glib::markup_escape_text(&tr_f(
                    "This app does not know the step “{}”. Finish the activation with “tessera activate”, or update Tessera.",
                    &view.state,
                ))));
            }
            _ => {}
        }
    }

    /// While the scanning page shows, asks the daemon for the camera's
    /// newest frame ten times a second and shows each new one
    /// (docs/desktop-app.md "The camera"). A scan from an image or the
    /// screen has no frames, and the page keeps its spinner. Once the page
    /// moves on, the picture goes.
    fn follow_camera(&self) {
        let imp = self.imp();
        if imp.previewing.replace(true) {
            return;
        }
        glib::spawn_future_local(clone!(
            #[weak(rename_to = page)]
            self,
            async move {
                let mut shown = 0;
                loop {
                    let scanning = page
                        .imp()
                        .view
                        .borrow()
                        .as_ref()
                        .filter(|v| v.screen() == Screen::Scanning)
                        .map(|v| v.id.clone());
                    let (Some(id), Some(daemon)) = (scanning, page.daemon()) else {
                        break;
                    };
                    match daemon.preview_frame(&id).await {
                        Ok(frame) if frame.sequence != shown && frame.is_picture() => {
                            shown = frame.sequence;
                            page.show_frame(&frame);
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                    glib::timeout_future(std::time::Duration::from_millis(100)).await;
                }
                let imp = page.imp();
                imp.camera_preview.set_paintable(gtk::gdk::Paintable::NONE);
                imp.camera_preview.set_visible(false);
                imp.scanning_spinner.set_visible(true);
                imp.previewing.set(false);
            }
        ));
    }

    fn show_frame(&self, frame: &crate::model::PreviewFrame) {
        let imp = self.imp();
        let texture = gtk::gdk::MemoryTexture::new(
            frame.width as i32,
            frame.height as i32,
            gtk::gdk::MemoryFormat::R8g8b8,
            &glib::Bytes::from_owned(frame.rgb()),
            frame.width as usize * 3,
        );
        imp.camera_preview.set_paintable(Some(&texture));
        imp.camera_preview.set_visible(true);
        imp.scanning_spinner.set_visible(false);
    }

    /// Puts the keyboard focus where the page's answer is typed or its
    /// main button is, so Return answers (keyboard-only use).
    fn focus_default(&self, screen: Screen) {
        let imp = self.imp();
        let widget: gtk::Widget = match screen {
            Screen::Home => imp.payload_row.clone().upcast(),
            Screen::Scanning | Screen::BiometricEnroll | Screen::Unknown => {
                imp.cancel.clone().upcast()
            }
            Screen::DeviceCode => imp.device_code_entered.clone().upcast(),
            Screen::ChoosePin | Screen::ConfirmPin | Screen::EnterPin => {
                imp.pin_entry.clone().upcast()
            }
            Screen::ChooseMethod => imp.pin_only.clone().upcast(),
            Screen::BiometricPermission => imp.biometric_allow.clone().upcast(),
            Screen::FinalizeCode => imp.finalize_done.clone().upcast(),
            Screen::NotificationPermission => imp.notifications_allow.clone().upcast(),
            Screen::Activated => imp.activated_done.clone().upcast(),
            Screen::CancelConfirm => imp.cancel_back.clone().upcast(),
            Screen::Failed => imp.start_over.clone().upcast(),
        };
        widget.grab_focus();
    }

    fn connect_buttons(&self) {
        let imp = self.imp();
        let events: [(&gtk::Button, &'static str); 13] = [
            (&imp.device_code_entered, "continue"),
            (&imp.use_biometrics, "biometric"),
            (&imp.pin_only, "pin_only"),
            (&imp.biometric_allow, "allow"),
            (&imp.biometric_deny, "deny"),
            (&imp.finalize_done, "continue"),
            (&imp.notifications_allow, "allow"),
            (&imp.notifications_deny, "deny"),
            (&imp.cancel_back, "back"),
            (&imp.cancel_confirm, "confirm_cancel"),
            (&imp.start_over, "start_over"),
            (&imp.pin_continue, "pin"),
            (&imp.cancel, "cancel"),
        ];
        for (button, event) in events {
            button.connect_clicked(clone!(
                #[weak(rename_to = page)]
                self,
                move |_| page.on_event(event)
            ));
        }
        imp.pin_entry.connect_activate(clone!(
            #[weak(rename_to = page)]
            self,
            move |_| page.on_event("pin")
        ));
        for (button, code) in [
            (&*imp.copy_device_code, true),
            (&*imp.copy_finalize_code, false),
        ] {
            button.connect_clicked(clone!(
                #[weak(rename_to = page)]
                self,
                move |_| {
                    let imp = page.imp();
                    let label = if code {
                        imp.device_code.label()
                    } else {
                        imp.finalize_code.label()
                    };
                    let digits: String = label.chars().filter(|c| !c.is_whitespace()).collect();
                    page.emit_by_name::<()>("copy", &[&digits]);
                }
            ));
        }
        for button in [&*imp.activated_done, &*imp.failed_close] {
            button.connect_clicked(clone!(
                #[weak(rename_to = page)]
                self,
                move |_| page.emit_by_name::<()>("closed", &[])
            ));
        }
        imp.scan_screen.connect_clicked(clone!(
            #[weak(rename_to = page)]
            self,
            move |_| page.start(source(&[("screen", true.to_variant())]))
        ));
        imp.scan_camera.connect_clicked(clone!(
            #[weak(rename_to = page)]
            self,
            move |_| page.start(source(&[("camera", (-1i32).to_variant())]))
        ));
        imp.scan_file.connect_clicked(clone!(
            #[weak(rename_to = page)]
            self,
            move |_| page.choose_file()
        ));
        let payload = clone!(
            #[weak(rename_to = page)]
            self,
            move || {
                let text = page.imp().payload_row.text().trim().to_owned();
                if text.is_empty() {
                    page.notice(&tr("Paste a link or payload first."));
                } else {
                    page.start_text(text);
                }
            }
        );
        let payload2 = payload.clone();
        imp.use_payload.connect_clicked(move |_| payload());
        imp.payload_row.connect_entry_activated(move |_| payload2());
        imp.use_manual.connect_clicked(clone!(
            #[weak(rename_to = page)]
            self,
            move |_| {
                let imp = page.imp();
                let serial = imp.serial_row.text().trim().to_owned();
                let code = imp.activation_code_row.text().trim().to_owned();
                if serial.is_empty() || code.is_empty() {
                    page.notice(&tr("Type both the serial number and the activation code."));
                    return;
                }
                page.start(source(&[
                    ("serial", serial.to_variant()),
                    ("activation_code", code.to_variant()),
                ]));
            }
        ));
    }

    fn daemon(&self) -> Option<Daemon> {
        self.imp().daemon.borrow().clone()
    }

    fn notice(&self, text: &str) {
        self.emit_by_name::<()>("notice", &[&text.to_owned()]);
    }

    /// A payload typed or pasted (or a link the app was opened with).
    pub fn start_text(&self, text: String) {
        self.start(source(&[("payload", text.to_variant())]));
    }

    /// Scans `source`: into the activation shown when it is at home (after
    /// "Start over": `Rescan`, the same activation), else a new one.
    fn start(&self, source: glib::Variant) {
        let Some(daemon) = self.daemon() else { return };
        let home = self
            .imp()
            .view
            .borrow()
            .as_ref()
            .filter(|v| v.screen() == Screen::Home)
            .map(|v| (v.id.clone(), v.revision));
        glib::spawn_future_local(clone!(
            #[weak(rename_to = page)]
            self,
            async move {
                let result = match &home {
                    Some((id, revision)) => daemon.rescan(id, *revision, source).await,
                    None => daemon.start_activation(source).await,
                };
                match result {
                    Ok(view) => {
                        if home.is_none() {
                            page.imp().view.replace(None);
                        }
                        page.show_view(view);
                    }
                    Err(e) => page.notice(&e.message),
                }
            }
        ));
    }

    fn choose_file(&self) {
        let window = self.root().and_downcast::<gtk::Window>();
        let chooser = crate::dialogs::choose_image(
            window.as_ref(),
            &tr("Choose the Activation Image"),
            clone!(
                #[weak(rename_to = page)]
                self,
                move |file| page.scan_file(file)
            ),
        );
        // GTK drops a native dialog with its last reference: keep it.
        self.imp().chooser.replace(Some(chooser));
    }

    /// Reads an image file and starts an activation from its bytes (the
    /// daemon decodes it: this app reads no codes itself).
    pub fn scan_file(&self, file: gio::File) {
        glib::spawn_future_local(clone!(
            #[weak(rename_to = page)]
            self,
            async move {
                match file.load_contents_future().await {
                    Ok((bytes, _)) => page.start(source(&[("image", bytes.to_vec().to_variant())])),
                    Err(e) => page.notice(&tr_f("Cannot read the image: {}", e.message())),
                }
            }
        ));
    }

    fn on_event(&self, event: &'static str) {
        let imp = self.imp();
        if event == "cancel"
            && imp
                .view
                .borrow()
                .as_ref()
                .is_none_or(|v| v.screen() == Screen::Home)
        {
            self.emit_by_name::<()>("closed", &[]);
            return;
        }
        let argument = if event == "pin" {
            let pin = Zeroizing::new(imp.pin_entry.text().to_string());
            imp.pin_entry.set_text("");
            if pin.is_empty() {
                self.notice(&tr("Type a PIN first."));
                return;
            }
            pin
        } else {
            Zeroizing::new(String::new())
        };
        self.send(event, argument);
    }

    /// Sends `event`; `argument` (a PIN) is wiped from this process's
    /// memory when the call is done.
    fn send(&self, event: &'static str, argument: Zeroizing<String>) {
        let Some(daemon) = self.daemon() else { return };
        let Some((id, revision)) = self
            .imp()
            .view
            .borrow()
            .as_ref()
            .map(|v| (v.id.clone(), v.revision))
        else {
            return;
        };
        glib::spawn_future_local(clone!(
            #[weak(rename_to = page)]
            self,
            async move {
                match daemon.send_event(&id, revision, event, &argument).await {
                    Ok(view) => {
                        page.show_view(view);
                    }
                    Err(e) => page.event_failed(&daemon, &id, e).await,
                }
            }
        ));
    }

    /// An event the daemon refused: say why, and show its view as it is
    /// now (another client may have moved it on).
    async fn event_failed(&self, daemon: &Daemon, id: &str, e: DaemonError) {
        self.notice(&e.message);
        if let Ok(views) = daemon.activations().await
            && let Some(view) = views.into_iter().find(|v| v.id == id)
        {
            self.show_view(view);
        } else if e.is("ActivationEnded") || e.is("NotFound") {
            self.show_home();
        }
    }
}
