//! One account in the list (`ui/account_row.ui`). A view only: its
//! buttons and its menu run the window's actions (`win.copy-code`,
//! `win.next-code`, `win.respond`, `win.rename`, `win.delete`) with the account id as the
//! target, so the row holds no logic and no daemon.

use adw::prelude::*;
use adw::subclass::prelude::*;
use gtk::gio;
use gtk::glib;
use gtk::prelude::ToVariant;

use crate::i18n::tr_f;
use crate::model::{Account, Code};

mod imp {
    use std::cell::RefCell;

    use super::*;

    #[derive(Debug, Default, gtk::CompositeTemplate)]
    #[template(file = "../ui/account_row.ui")]
    pub struct AccountRow {
        #[template_child]
        pub code_label: TemplateChild<gtk::Label>,
        #[template_child]
        pub countdown: TemplateChild<gtk::ProgressBar>,
        #[template_child]
        pub next_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub copy_button: TemplateChild<gtk::Button>,
        #[template_child]
        pub menu_button: TemplateChild<gtk::MenuButton>,
        pub account: RefCell<Account>,
        pub code: RefCell<Option<Code>>,
    }

    #[glib::object_subclass]
    impl ObjectSubclass for AccountRow {
        const NAME: &'static str = "TesseraAccountRow";
        type Type = super::AccountRow;
        type ParentType = adw::ActionRow;

        fn class_init(klass: &mut Self::Class) {
            klass.bind_template();
        }

        fn instance_init(obj: &glib::subclass::InitializingObject<Self>) {
            obj.init_template();
        }
    }

    impl ObjectImpl for AccountRow {}
    impl WidgetImpl for AccountRow {}
    impl ListBoxRowImpl for AccountRow {}
    impl PreferencesRowImpl for AccountRow {}
    impl ActionRowImpl for AccountRow {}
}

glib::wrapper! {
    pub struct AccountRow(ObjectSubclass<imp::AccountRow>)
        @extends adw::ActionRow, adw::PreferencesRow, gtk::ListBoxRow, gtk::Widget,
        @implements gtk::Actionable, gtk::Buildable, gtk::ConstraintTarget;
}

impl AccountRow {
    pub fn new(account: &Account) -> Self {
        let row: Self = glib::Object::new();
        row.set_account(account);
        row
    }

    pub fn account(&self) -> Account {
        self.imp().account.borrow().clone()
    }

    /// Shows `account`; a code already shown stays when it is the same
    /// account (an HOTP code the user asked for is not taken away by a
    /// refresh that sees its counter move).
    pub fn set_account(&self, account: &Account) {
        let imp = self.imp();
        let same = imp.account.borrow().id == account.id;
        imp.account.replace(account.clone());
        self.set_title(&glib::markup_escape_text(account.title()));
        let subtitle = if account.issuer.is_empty() {
            String::new()
        } else {
            account.label.clone()
        };
        self.set_subtitle(&glib::markup_escape_text(&subtitle));
        let target = account.id.to_variant();
        let who = if account.issuer.is_empty() {
            account.label.clone()
        } else {
            format!("{} {}", account.issuer, account.label)
        };
        for button in [&*imp.next_button, &*imp.copy_button] {
            button.set_action_target_value(Some(&target));
        }
        imp.next_button.set_visible(account.is_hotp());
        // Screen readers read the row (issuer and label) with its buttons.
        imp.copy_button
            .set_tooltip_text(Some(&tr_f("Copy the code for {}", &who)));
        // The menu (a popover) is made when first opened: 100 rows with
        // a popover each took a third of the start-up (docs/benchmarks.md).
        let ocra = !account.ocra_suite.is_empty();
        imp.menu_button.set_create_popup_func(move |button| {
            if button.menu_model().is_none() {
                button.set_menu_model(Some(&row_menu(&target, ocra)));
            }
        });
        imp.menu_button.set_menu_model(None::<&gio::MenuModel>);
        if !same {
            self.show_code(None);
        }
    }

    /// The code to show (`None`: none yet, e.g. an HOTP account before
    /// "Next code").
    pub fn show_code(&self, code: Option<&Code>) {
        // ListCodes lists HOTP accounts without a code (listing uses none).
        let code = code.filter(|c| !c.code.is_empty());
        let imp = self.imp();
        imp.code.replace(code.cloned());
        let hotp = imp.account.borrow().is_hotp();
        match code {
            Some(c) => imp.code_label.set_label(&c.display),
            None if hotp => imp.code_label.set_label("––– –––"),
            None => imp.code_label.set_label(""),
        }
        // An HOTP row copies only a code it shows; a TOTP row always has one.
        imp.copy_button.set_sensitive(code.is_some());
        self.tick(glib::real_time() / 1_000_000);
    }

    /// Moves the countdown to `now` (Unix seconds); returns whether the
    /// code shown has run out.
    pub fn tick(&self, now: i64) -> bool {
        let imp = self.imp();
        let code = imp.code.borrow();
        match code.as_ref().and_then(|c| c.remaining_fraction(now)) {
            Some(f) => {
                imp.countdown.set_visible(true);
                imp.countdown.set_fraction(f);
                f <= 0.0
            }
            None => {
                imp.countdown.set_visible(false);
                false
            }
        }
    }

    /// The code shown, for copying.
    pub fn code(&self) -> Option<Code> {
        self.imp().code.borrow().clone()
    }
}

/// The row's menu: OCRA (when the account has a suite), rename, delete,
/// each with the account id as target.
fn row_menu(target: &glib::Variant, ocra: bool) -> gio::Menu {
    let menu = gio::Menu::new();
    let mut items = vec![
        (crate::i18n::tr("Rename…"), "win.rename"),
        (crate::i18n::tr("Delete…"), "win.delete"),
    ];
    if ocra {
        items.insert(
            0,
            (crate::i18n::tr("Respond to a Challenge…"), "win.respond"),
        );
    }
    for (label, action) in items {
        let item = gio::MenuItem::new(Some(&label), None);
        item.set_action_and_target_value(Some(action), Some(target));
        menu.append_item(&item);
    }
    menu
}
