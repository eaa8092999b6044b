//! Which text needs substring (trigram) indexing: scripts written without spaces between words.
//!
//! Owns: the character ranges of Chinese (Han, Bopomofo), Japanese (Hiragana, Katakana), Korean
//! (Hangul, whose words carry attached particles) and the Southeast Asian scripts without word
//! spacing (Thai, Lao, Khmer, Myanmar). The unicode61 tokenizer reads a run of such characters as one
//! "word", so a part of it can only be found by substring. Also the accent folding of Greek and
//! Cyrillic ([`fold_accents`]), which unicode61's `remove_diacritics` does for Latin only.
//!
//! Must never: allocate for text that needs nothing (both run over every indexed text); fold letters
//! of other scripts (Japanese dakuten and Hangul syllables keep their composition).
//!
//! Unicode Standard chapters 7 (Greek, Cyrillic), 18 (East Asia) and 16 (Southeast Asia) for the
//! blocks; UAX #15 (canonical decomposition).

use std::borrow::Cow;

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

/// Whether `c` belongs to a script written without spaces between words.
pub fn is_unspaced(c: char) -> bool {
    matches!(u32::from(c),
        0x0E00..=0x0EFF       // Thai, Lao
        | 0x1000..=0x109F     // Myanmar
        | 0x1100..=0x11FF     // Hangul Jamo
        | 0x1780..=0x17FF     // Khmer
        | 0x3040..=0x30FF     // Hiragana, Katakana
        | 0x3100..=0x312F     // Bopomofo
        | 0x3130..=0x318F     // Hangul Compatibility Jamo
        | 0x31F0..=0x31FF     // Katakana Phonetic Extensions
        | 0x3400..=0x4DBF     // CJK Extension A
        | 0x4E00..=0x9FFF     // CJK Unified Ideographs
        | 0xAC00..=0xD7AF     // Hangul Syllables
        | 0xF900..=0xFAFF     // CJK Compatibility Ideographs
        | 0xFF66..=0xFF9F     // Halfwidth Katakana
        | 0x20000..=0x3134F   // CJK Extensions B-G, Compatibility Supplement
    )
}

/// Whether any character of `text` is in a script written without spaces.
pub fn has_unspaced(text: &str) -> bool {
    // Every such character is outside ASCII: ASCII text is answered by one vectorised scan.
    !text.is_ascii() && text.chars().any(is_unspaced)
}

/// Greek, Greek Extended and Cyrillic letters.
fn is_greek_or_cyrillic(c: char) -> bool {
    matches!(u32::from(c), 0x0370..=0x03FF | 0x1F00..=0x1FFF | 0x0400..=0x04FF)
}

/// `text` with the accents of Greek and Cyrillic letters removed (tonos, dialytika, breve,
/// diaeresis: "Συνάντηση" reads "Συναντηση", "Ёлка" reads "Елка") and the Greek final sigma read as
/// sigma. Both the index and the queries go through it, so either spelling finds the other.
pub fn fold_accents(text: &str) -> Cow<'_, str> {
    if text.is_ascii() || !text.chars().any(is_greek_or_cyrillic) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == 'ς' {
            out.push('σ');
        } else if is_greek_or_cyrillic(c) {
            decompose_canonical(c, |d| {
                if !is_combining_mark(d) {
                    out.push(d);
                }
            });
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greek_and_cyrillic_accents_fold_others_do_not() {
        assert_eq!(fold_accents("Συνάντηση ΐ ὤ τους"), "Συναντηση ι ω τουσ");
        assert_eq!(fold_accents("Ёлка йод"), "Елка иод");
        assert!(matches!(fold_accents("Résumé が 한"), Cow::Borrowed("Résumé が 한")));
    }

    #[test]
    fn cjk_and_thai_are_unspaced_latin_greek_cyrillic_are_not() {
        for s in ["議事録", "こんにちは", "カタカナ", "회의", "进度", "ภาษาไทย", "ｶﾀｶﾅ"]
        {
            assert!(has_unspaced(s), "{s}");
        }
        for s in ["Résumé", "Συνάντηση", "Встреча", "plain ascii", "", "—€"] {
            assert!(!has_unspaced(s), "{s}");
        }
        assert!(has_unspaced("Tokyo 東京 2024"));
    }
}
