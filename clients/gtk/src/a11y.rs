//! Widgets with an accessible label made at run time. gtk4-rs exposes
//! `GtkAccessible` (and so `update_property`) only from its `v4_10`
//! feature, and Debian 12 has GTK 4.8; GtkBuilder sets accessible
//! properties on every version, so a widget whose label is known only at
//! run time is built from a one-object builder text here.

use gtk::glib;
use gtk::prelude::*;

/// A new widget of GType `class` (e.g. "GtkSwitch") whose accessible
/// label is `label`.
pub fn labelled<W: IsA<glib::Object>>(class: &str, label: &str) -> W {
    let ui = format!(
        r#"<interface><object class="{class}" id="w"><accessibility><property name="label">{}</property></accessibility></object></interface>"#,
        glib::markup_escape_text(label)
    );
    gtk::Builder::from_string(&ui)
        .object::<W>("w")
        .expect("the builder text makes one widget of the asked type")
}
