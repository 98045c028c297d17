//! What a name shown to a person may not hold: the one rule for account
//! names (the daemon's `check_name`) and for a transaction's payee and
//! reference (`transaction`).

/// What kind of character `c` is when it can make one text look like
/// another (bidirectional controls, zero-width characters, controls, line and
/// paragraph separators). `None` for every other character.
pub fn unsafe_char(c: char) -> Option<&'static str> {
    match c {
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}' => {
            Some("a bidirectional control character")
        }
        '\u{200B}'..='\u{200F}' | '\u{2060}' | '\u{FEFF}' => Some("a zero-width character"),
        '\u{2028}' | '\u{2029}' => Some("a line or paragraph separator"),
        c if c.is_control() => Some("a control character"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_could_deceive() {
        assert_eq!(
            unsafe_char('\u{202E}'),
            Some("a bidirectional control character")
        );
        assert_eq!(unsafe_char('\u{200B}'), Some("a zero-width character"));
        assert_eq!(unsafe_char('\n'), Some("a control character"));
        assert_eq!(unsafe_char('é'), None);
        assert_eq!(unsafe_char(' '), None);
    }
}
