//! Switching a `GtkStack`'s page so that screen readers see one page.
//!
//! GTK 4.8 tells the accessibility tree that every page of a stack is
//! visible, the hidden ones too (it unmaps them but reports only
//! `gtk_widget_get_visible`), so Orca's review and any AT-SPI client would
//! read every page at once. Hiding the other pages' widgets fixes that; a
//! stack skips hidden children, so the page shown is made visible first.

use gtk::prelude::*;

/// Shows page `name` of `stack` and hides the others.
pub fn show(stack: &gtk::Stack, name: &str) {
    let Some(page) = stack.child_by_name(name) else {
        return;
    };
    page.set_visible(true);
    stack.set_visible_child(&page);
    let mut child = stack.first_child();
    while let Some(c) = child {
        if c != page {
            c.set_visible(false);
        }
        child = c.next_sibling();
    }
}
