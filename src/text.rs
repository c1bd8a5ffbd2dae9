//! Text that came from a server, made safe to print on one line.
//!
//! Error messages carry codes, messages and request ids a server chose. Printed as sent, a line
//! break would forge log lines, an ANSI escape would drive the terminal, and an invisible Unicode
//! format character (a bidi override such as U+202E, a zero-width space) would make the text read
//! differently from what it is. [`one_line`] removes all of that.

use std::fmt::Write as _;

/// The Unicode format characters (general category Cf), as inclusive ranges in code point order.
const FORMAT_CHARACTERS: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// `true` for a Unicode format character: invisible, but it changes how text around it reads
/// (bidi embeddings, overrides and isolates, zero-width spaces and joiners, tags).
pub(crate) fn is_format(c: char) -> bool {
    FORMAT_CHARACTERS
        .binary_search_by(|&(first, last)| {
            if last < c {
                std::cmp::Ordering::Less
            } else if first > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// `text` as one printable line of at most `max` characters (then `…`): whitespace and control
/// characters collapse into single spaces, format characters are shown escaped (`\u{202e}`), so
/// that nothing invisible remains.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    let mut last_space = true;
    for c in text.chars() {
        if count >= max {
            out.push('…');
            break;
        }
        if c.is_whitespace() || c.is_control() {
            if !last_space {
                out.push(' ');
                count += 1;
                last_space = true;
            }
            continue;
        }
        if is_format(c) {
            let _ = write!(out, "{}", c.escape_unicode());
        } else {
            out.push(c);
        }
        count += 1;
        last_space = false;
    }
    out.truncate(out.trim_end().len());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_table_is_ordered_and_disjoint() {
        for pair in FORMAT_CHARACTERS.windows(2) {
            assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
        }
    }

    #[test]
    fn format_characters_are_found_and_others_are_not() {
        for c in [
            '\u{00AD}',
            '\u{061C}',
            '\u{200B}',
            '\u{200D}',
            '\u{200E}',
            '\u{202A}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{E0001}',
            '\u{E0041}',
        ] {
            assert!(is_format(c), "{:?}", c.escape_unicode().to_string());
        }
        for c in [
            'a', 'é', '€', '\u{2010}', '\u{2065}', '\u{FFFC}', '日', '😀',
        ] {
            assert!(!is_format(c), "{c}");
        }
    }

    #[test]
    fn lines_are_flattened_escaped_and_cut() {
        assert_eq!(
            one_line("  a\r\n\tb\u{1b}[31m  c \u{0} ", 100),
            "a b [31m c"
        );
        assert_eq!(one_line("abc\u{202E}fed", 100), "abc\\u{202e}fed");
        assert_eq!(one_line("zero\u{200B}width", 100), "zero\\u{200b}width");
        assert_eq!(one_line("line\u{2028}separator", 100), "line separator");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("abc", 3), "abc");
        assert_eq!(one_line("a\u{202E}bc", 2), "a\\u{202e}…");
        assert_eq!(one_line(" \n ", 10), "");
    }
}
