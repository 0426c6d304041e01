//! Config errors as a user reads them: `line N: key: what is wrong`, then the line itself with the
//! key or value underlined, and for a key inside an entry of an array of tables (`[[displays]]`)
//! the line of that entry's header. Errors found while parsing come from toml with a byte span;
//! the key path (`streams[2].dashboard.interval_ms`) is found by walking toml's spanned document.
//! Errors found after parsing (rules between tables: duplicate names, routes to unknown streams,
//! dashboard rules) name a key path instead ([`KeyError`]), and the same walk finds its line.

use std::fmt::Write as _;
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// An error found after parsing: its message, and the key path it is about, which locates it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// Path like `displays[0].stream`; the nearest key of it that the file has gives the line.
    pub key: String,
    /// The whole message, naming the key as the reader should see it.
    pub message: String,
}

impl KeyError {
    /// An error about `key`.
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Where an error is: its key path, and the header of the array-of-tables entry that holds it.
#[derive(Debug, Default)]
struct Place {
    path: Vec<Step>,
    entry: Option<Range<usize>>,
}

/// The config text, for rendering errors about it.
pub(super) struct Document<'a> {
    text: &'a str,
    root: Option<Spanned<DeTable<'a>>>,
}

impl<'a> Document<'a> {
    /// `text`, parsed again for its spans (only when there is an error to show).
    pub(super) fn new(text: &'a str) -> Self {
        Self {
            text,
            root: DeTable::parse(text).ok(),
        }
    }

    /// A toml error, located and named by its key.
    pub(super) fn toml_error(&self, e: &toml::de::Error) -> String {
        let (Some(span), Some(root)) = (e.span(), &self.root) else {
            // A syntax error: toml's own message already gives line, column and the line.
            return e.to_string().trim_end().to_owned();
        };
        let mut place = Place::default();
        in_table(self.text, root.get_ref(), &span, &mut place);
        let message = if place.path.is_empty() {
            e.message().to_owned()
        } else {
            format!("{}: {}", path_text(&place.path), e.message())
        };
        self.render(span, &message, place.entry)
    }

    /// An error found after parsing, at the line of its key (or of the nearest enclosing key the
    /// file has; none if the file has none of them, e.g. for a default).
    pub(super) fn key_error(&self, e: &KeyError) -> String {
        let mut steps = parse_path(&e.key);
        while !steps.is_empty() {
            if let Some((span, entry)) = self.root.as_ref().and_then(|r| find(self.text, r, &steps))
            {
                return self.render(span, &e.message, entry);
            }
            steps.pop();
        }
        e.message.clone()
    }

    /// `line N: message`, the line with `span` underlined, and the entry's header line.
    fn render(&self, span: Range<usize>, message: &str, entry: Option<Range<usize>>) -> String {
        let (line, column, text) = self.position(span.start);
        let spanned = self.text.get(span).and_then(|s| s.lines().next());
        let width = spanned
            .map_or(1, |s| s.chars().count())
            .min(text.chars().count().saturating_sub(column))
            .max(1);
        let gutter = " ".repeat(line.to_string().len());
        let mut out = format!("line {line}: {message}\n{gutter} |\n{line} | {text}\n{gutter} | ");
        out.push_str(&" ".repeat(column));
        out.push_str(&"^".repeat(width));
        if let Some(entry) = entry {
            let (header_line, _, _) = self.position(entry.start);
            if header_line != line {
                let header = self.text.get(entry).unwrap_or("the entry");
                let _ = write!(out, "\n{gutter} = in {header} at line {header_line}");
            }
        }
        out
    }

    /// 1-based line, 0-based column in characters, and the text of the line holding byte `at`.
    fn position(&self, at: usize) -> (usize, usize, &'a str) {
        let mut at = at.min(self.text.len());
        while !self.text.is_char_boundary(at) {
            at -= 1;
        }
        let start = self.text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = self.text[at..]
            .find('\n')
            .map_or(self.text.len(), |i| at + i);
        let line = self.text[..start].bytes().filter(|&b| b == b'\n').count() + 1;
        let column = self.text[start..at].chars().count();
        (line, column, self.text[start..end].trim_end_matches('\r'))
    }
}

/// Finds `at` among the keys and values of `table`, extending `place.path`.
fn in_table(text: &str, table: &DeTable<'_>, at: &Range<usize>, place: &mut Place) -> bool {
    for (key, value) in table.iter() {
        place.path.push(Step::Key(key.get_ref().to_string()));
        if covers(&key.span(), at) || in_value(text, value, at, place) {
            return true;
        }
        place.path.pop();
    }
    false
}

/// Whether `at` is inside `value` (looking at its parts first, so the deepest key wins).
fn in_value(
    text: &str,
    value: &Spanned<DeValue<'_>>,
    at: &Range<usize>,
    place: &mut Place,
) -> bool {
    match value.get_ref() {
        DeValue::Table(t) if in_table(text, t, at, place) => return true,
        DeValue::Array(a) => {
            for (i, item) in a.iter().enumerate() {
                place.path.push(Step::Index(i));
                let outer = place.entry.clone();
                if is_header(text, item) {
                    place.entry = Some(item.span());
                }
                if in_value(text, item, at, place) {
                    return true;
                }
                place.entry = outer;
                place.path.pop();
            }
        }
        _ => {}
    }
    covers(&value.span(), at)
}

/// The span of the value at `steps`, and the header of the array-of-tables entry holding it.
fn find(
    text: &str,
    root: &Spanned<DeTable<'_>>,
    steps: &[Step],
) -> Option<(Range<usize>, Option<Range<usize>>)> {
    let mut entry = None;
    let (first, rest) = steps.split_first()?;
    let Step::Key(k) = first else { return None };
    let mut at = root.get_ref().get(k.as_str())?;
    for step in rest {
        at = match (step, at.get_ref()) {
            (Step::Key(k), DeValue::Table(t)) => t.get(k.as_str())?,
            (Step::Index(i), DeValue::Array(a)) => {
                let item = a.get(*i)?;
                if is_header(text, item) {
                    entry = Some(item.span());
                }
                item
            }
            _ => return None,
        };
    }
    Some((at.span(), entry))
}

/// Whether `item` is an entry of an array of tables (toml spans it by its `[[...]]` header), not
/// an inline table.
fn is_header(text: &str, item: &Spanned<DeValue<'_>>) -> bool {
    matches!(item.get_ref(), DeValue::Table(_))
        && text.get(item.span()).is_some_and(|s| s.starts_with("[["))
}

fn covers(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

/// `streams[2].dashboard.interval_ms`.
fn path_text(path: &[Step]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                if !k.is_empty()
                    && k.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                {
                    out.push_str(k);
                } else {
                    let _ = write!(out, "{k:?}");
                }
            }
            Step::Index(i) => {
                let _ = write!(out, "[{i}]");
            }
        }
    }
    out
}

/// The steps of a path written by [`path_text`] (bare keys only).
fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in path.split('.') {
        let (key, mut indices) = part.split_once('[').map_or((part, ""), |(k, i)| (k, i));
        if !key.is_empty() {
            steps.push(Step::Key(key.to_owned()));
        }
        while let Some((index, rest)) = indices.split_once(']') {
            if let Ok(i) = index.parse() {
                steps.push(Step::Index(i));
            }
            indices = rest.strip_prefix('[').unwrap_or(rest);
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[server]\nhttp = \"x\"\n\n[[streams]]\nname = \"a\"\n\n[[streams]]\nname = \"b\"\n[streams.dashboard]\ncolumns = 3\nx = { y = [1, 2] }\n";

    fn span_of(needle: &str) -> Range<usize> {
        let at = TEXT.find(needle).expect("needle in TEXT");
        at..at + needle.len()
    }

    fn place_of(needle: &str) -> (String, Option<usize>) {
        let doc = Document::new(TEXT);
        let mut place = Place::default();
        let root = doc.root.as_ref().expect("TEXT parses");
        assert!(in_table(TEXT, root.get_ref(), &span_of(needle), &mut place));
        let entry = place.entry.map(|e| doc.position(e.start).0);
        (path_text(&place.path), entry)
    }

    #[test]
    fn a_span_names_its_key_path_and_entry() {
        assert_eq!(place_of("\"x\""), ("server.http".into(), None));
        assert_eq!(place_of("\"b\""), ("streams[1].name".into(), Some(7)));
        assert_eq!(
            place_of("3"),
            ("streams[1].dashboard.columns".into(), Some(7))
        );
        assert_eq!(
            place_of("2"),
            ("streams[1].dashboard.x.y[1]".into(), Some(7))
        );
        assert_eq!(place_of("[[streams]]"), ("streams[0]".into(), Some(4)));
    }

    #[test]
    fn a_key_path_finds_its_line_or_the_nearest_enclosing_one() {
        let doc = Document::new(TEXT);
        let msg = doc.key_error(&KeyError::new("streams[1].dashboard.columns", "bad"));
        assert!(msg.starts_with("line 10: bad\n"), "{msg}");
        assert!(msg.ends_with("= in [[streams]] at line 7"), "{msg}");
        let msg = doc.key_error(&KeyError::new("streams[1].dashboard.history_s", "bad"));
        assert!(msg.starts_with("line 9: bad\n"), "{msg}");
        assert_eq!(doc.key_error(&KeyError::new("legacy.width", "bad")), "bad");
        assert_eq!(
            parse_path("a.b[2][3].c"),
            [
                Step::Key("a".into()),
                Step::Key("b".into()),
                Step::Index(2),
                Step::Index(3),
                Step::Key("c".into())
            ]
        );
    }

    #[test]
    fn rendering_underlines_the_span() {
        let doc = Document::new(TEXT);
        let msg = doc.render(span_of("\"x\""), "m", None);
        assert_eq!(msg, "line 2: m\n  |\n2 | http = \"x\"\n  |        ^^^");
        // Spans off a character boundary or past the end do not panic.
        let doc = Document::new("a = \"é\"");
        let _ = doc.render(6..7, "m", None);
        let _ = doc.render(100..200, "m", Some(50..60));
    }
}
