//! The app's one kind of question: an `AdwMessageDialog` with a heading,
//! a text, some fields (plain or secret) and a confirm button. Rename,
//! delete, change PIN, the OCRA challenge and the PIN for biometrics all
//! ask through it.

use adw::prelude::*;
use zeroize::Zeroizing;

use crate::i18n::tr;

/// One field of a question.
pub struct Field {
    pub label: String,
    pub text: String,
    pub secret: bool,
}

impl Field {
    pub fn text(label: String, text: &str) -> Field {
        Field {
            label,
            text: text.to_owned(),
            secret: false,
        }
    }

    pub fn secret(label: String) -> Field {
        Field {
            label,
            text: String::new(),
            secret: true,
        }
    }
}

/// A question to ask.
pub struct Ask {
    pub heading: String,
    pub body: String,
    pub fields: Vec<Field>,
    pub confirm: String,
    /// Red confirm button (deleting).
    pub destructive: bool,
}

/// Shows `ask` over `parent`; on confirm calls `answer` with the fields'
/// texts in order (wiped from memory when dropped: they may be PINs). Cancel (or Escape) calls nothing.
pub fn ask(
    parent: &impl IsA<gtk::Window>,
    ask: Ask,
    answer: impl Fn(Zeroizing<Vec<String>>) + 'static,
) {
    ask_or_cancel(parent, ask, answer, || {});
}

/// As [`ask`], calling `cancelled` on Cancel or Escape (a switch that
/// asked goes back).
pub fn ask_or_cancel(
    parent: &impl IsA<gtk::Window>,
    ask: Ask,
    answer: impl Fn(Zeroizing<Vec<String>>) + 'static,
    cancelled: impl Fn() + 'static,
) {
    let dialog = adw::MessageDialog::new(Some(parent), Some(&ask.heading), Some(&ask.body));
    dialog.add_response("cancel", &tr("Cancel"));
    dialog.add_response("confirm", &ask.confirm);
    dialog.set_close_response("cancel");
    dialog.set_default_response(Some("confirm"));
    dialog.set_response_appearance(
        "confirm",
        if ask.destructive {
            adw::ResponseAppearance::Destructive
        } else {
            adw::ResponseAppearance::Suggested
        },
    );
    let mut entries: Vec<gtk::Editable> = Vec::new();
    if !ask.fields.is_empty() {
        let list = gtk::ListBox::new();
        list.add_css_class("boxed-list");
        list.set_selection_mode(gtk::SelectionMode::None);
        for field in &ask.fields {
            let row: gtk::Editable = if field.secret {
                adw::PasswordEntryRow::builder()
                    .title(field.label.as_str())
                    .build()
                    .upcast()
            } else {
                adw::EntryRow::builder()
                    .title(field.label.as_str())
                    .text(field.text.as_str())
                    .build()
                    .upcast()
            };
            if let Some(r) = row.downcast_ref::<adw::EntryRow>() {
                r.set_activates_default(true);
            }
            list.append(&row);
            entries.push(row);
        }
        dialog.set_extra_child(Some(&list));
    }
    dialog.connect_response(None, move |_, response| {
        if response == "confirm" {
            // The fields may hold PINs: the texts are wiped when `answer`
            // drops them.
            answer(Zeroizing::new(
                entries.iter().map(|e| e.text().to_string()).collect(),
            ));
        } else {
            cancelled();
        }
    });
    dialog.present();
}

/// A file chooser for one image over `parent` (an activation's, a signing
/// request's); `chosen` gets the file on Open. The chooser is returned:
/// GTK drops a native dialog with its last reference, so the caller keeps it.
pub fn choose_image(
    parent: Option<&gtk::Window>,
    title: &str,
    chosen: impl Fn(gtk::gio::File) + 'static,
) -> gtk::FileChooserNative {
    let chooser = gtk::FileChooserNative::new(
        Some(title),
        parent,
        gtk::FileChooserAction::Open,
        Some(&tr("Open")),
        Some(&tr("Cancel")),
    );
    let filter = gtk::FileFilter::new();
    filter.set_name(Some(&tr("Images")));
    filter.add_mime_type("image/*");
    chooser.add_filter(&filter);
    chooser.connect_response(move |chooser, response| {
        if response == gtk::ResponseType::Accept
            && let Some(file) = chooser.file()
        {
            chosen(file);
        }
    });
    chooser.show();
    chooser
}

/// Shows a result the user reads or copies (an OCRA response).
pub fn show(parent: &impl IsA<gtk::Window>, heading: &str, body: &str, value: &str) {
    let dialog = adw::MessageDialog::new(Some(parent), Some(heading), Some(body));
    let label = gtk::Label::new(Some(value));
    label.set_selectable(true);
    label.add_css_class("title-1");
    label.add_css_class("numeric");
    dialog.set_extra_child(Some(&label));
    dialog.add_response("close", &tr("Close"));
    dialog.set_close_response("close");
    dialog.present();
}
