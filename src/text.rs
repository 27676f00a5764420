//! Input files as UTF-8 text: where a file stops being UTF-8, as a line and column.
//!
//! Scenarios, histories and sweep outputs are UTF-8 text. A file that is not (saved in
//! Latin-1, a stray binary byte, a line cut inside a character) gets an error naming the
//! line and column of the first byte that is not, like every other input error, instead
//! of the standard library's "stream did not contain valid UTF-8".

use std::str::Utf8Error;

/// The 1-based line and column (counted in characters) of the place that follows
/// `before`, the text from the start of the file up to it.
pub fn line_col(before: &str) -> (usize, usize) {
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The first place where some bytes are not UTF-8.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotUtf8 {
    /// Byte offset of the first byte that is not part of a valid character.
    pub offset: usize,
    /// 1-based line of that byte.
    pub line: usize,
    /// 1-based column of that byte, in characters of its line.
    pub column: usize,
    /// The byte.
    pub byte: u8,
}

impl NotUtf8 {
    /// Where `bytes` stop being UTF-8, from the error `std::str::from_utf8` gave on them.
    pub fn locate(bytes: &[u8], e: &Utf8Error) -> NotUtf8 {
        let offset = e.valid_up_to();
        // Everything before `valid_up_to` is UTF-8, so this cannot fail.
        let before = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
        let (line, column) = line_col(before);
        NotUtf8 {
            offset,
            line,
            column,
            byte: bytes[offset],
        }
    }

    /// What is wrong, without the place: `not UTF-8 text: byte 0xff ...`.
    pub fn message(&self) -> String {
        format!(
            "not UTF-8 text: byte 0x{:02x} does not start or continue a character here \
             (expected UTF-8)",
            self.byte
        )
    }
}

/// Why a file could not be read as text.
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be read at all (missing, a directory, no permission, ...).
    Io(std::io::Error),
    /// It was read but is not UTF-8; `lossy` is its text with the bad bytes replaced, so
    /// the place can be shown (offsets before `at.offset` are the file's own).
    NotUtf8 { at: NotUtf8, lossy: String },
}

/// Reads the file at `path` as UTF-8 text.
pub fn read_utf8(path: &str) -> Result<String, ReadError> {
    let bytes = std::fs::read(path).map_err(ReadError::Io)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = NotUtf8::locate(e.as_bytes(), &e.utf8_error());
        let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
        ReadError::NotUtf8 { at, lossy }
    })
}

/// Reads the file at `path` as UTF-8 text; the error is one line that names the file and,
/// for text that is not UTF-8, the line and column: `path:3:7: not UTF-8 text: ...`.
pub fn read_utf8_or_say(path: &str) -> Result<String, String> {
    read_utf8(path).map_err(|e| match e {
        ReadError::Io(e) => format!("cannot read {path}: {e}"),
        ReadError::NotUtf8 { at, .. } => {
            format!("{path}:{}:{}: {}", at.line, at.column, at.message())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(bytes: &[u8]) -> NotUtf8 {
        let e = std::str::from_utf8(bytes).unwrap_err();
        NotUtf8::locate(bytes, &e)
    }

    #[test]
    fn the_place_is_the_first_bad_byte_counted_in_characters() {
        let a = at(b"ab\n\xc3\xa9x\xffyz");
        assert_eq!((a.offset, a.line, a.column, a.byte), (6, 2, 3, 0xff));
        // A character cut at the end of the text, and a bad byte on the first line.
        let b = at(b"{\"k\":\"\xe2\x82");
        assert_eq!((b.line, b.column, b.byte), (1, 7, 0xe2));
        let c = at(b"\x80");
        assert_eq!((c.offset, c.line, c.column), (0, 1, 1));
        assert!(c.message().contains("0x80"), "{}", c.message());
    }

    #[test]
    fn every_bad_byte_in_random_text_is_placed_where_it_is() {
        // Random mixes of ASCII, newlines, two- and three-byte characters and one bad
        // byte: the place found is that byte's, counted by hand.
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..2_000 {
            let mut text = String::new();
            for _ in 0..next(40) {
                text.push(match next(5) {
                    0 => '\n',
                    1 => 'é',
                    2 => '→',
                    _ => char::from(b'a' + next(26) as u8),
                });
            }
            let mut bytes = text.into_bytes();
            let cut = {
                // A place between characters.
                let s = std::str::from_utf8(&bytes).unwrap();
                let ends: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
                ends[next(ends.len() as u64) as usize]
            };
            let before = std::str::from_utf8(&bytes[..cut]).unwrap().to_string();
            bytes.insert(cut, [0x80, 0xff, 0xc0, 0xfe][next(4) as usize]);
            let got = at(&bytes);
            let line = before.matches('\n').count() + 1;
            let column = before.chars().rev().take_while(|&c| c != '\n').count() + 1;
            assert_eq!(
                (got.offset, got.line, got.column),
                (cut, line, column),
                "{bytes:?}"
            );
        }
    }
}
