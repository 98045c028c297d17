//! `tessera-app`: Tessera's desktop app, a GTK4/libadwaita client of the
//! daemon's D-Bus interface (`org.tessera.Authenticator1`). It renders the
//! daemon's accounts, codes and activation views and sends its events; it
//! holds no vault, no OTP logic and no activation state machine
//! (ARCHITECTURE.md, "clients/gtk").
//!
//! `tessera-app [LINK]` opens the window; a `tessera://` or `otpauth://`
//! link starts its activation (the desktop opens links through D-Bus
//! activation of the app, so the link is not on a command line).

mod a11y;
mod account_row;
mod activation_page;
mod bench;
mod daemon;
mod dialogs;
mod i18n;
mod model;
mod pages;
mod preferences;
mod window;

use adw::prelude::*;
use gtk::{gio, glib};

/// The application id: the desktop file, the icon and the D-Bus name of
/// the app (`org.tessera.Authenticator.desktop`).
pub const APP_ID: &str = "org.tessera.Authenticator";

fn main() -> glib::ExitCode {
    i18n::init();
    let app = adw::Application::builder()
        .application_id(APP_ID)
        .flags(gio::ApplicationFlags::HANDLES_OPEN)
        .build();
    app.connect_activate(|app| window(app).present());
    app.connect_open(|app, files, _hint| {
        let window = window(app);
        window.present();
        for file in files {
            window.open_link(file.uri().to_string());
        }
    });
    app.set_accels_for_action("win.add", &["<Control>n"]);
    app.set_accels_for_action("win.lock", &["<Control>l"]);
    app.set_accels_for_action("win.preferences", &["<Control>comma"]);
    app.set_accels_for_action("window.close", &["<Control>w"]);
    app.run()
}

/// The app's one window (a second launch raises it).
fn window(app: &adw::Application) -> window::Window {
    app.windows()
        .into_iter()
        .find_map(|w| w.downcast::<window::Window>().ok())
        .unwrap_or_else(|| window::Window::new(app))
}
