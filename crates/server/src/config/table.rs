//! Reading a TOML table key by key, for the tables whose keys are not one fixed struct: a
//! `[[streams]]` entry (which keys it takes depends on `source`) and the display routes (their own
//! keys plus every display setting).
//!
//! serde's `#[serde(flatten)]` and internally tagged enums (`#[serde(tag = "source")]`) would do
//! this, but both first buffer the table into serde's private `Content` type: toml's spans are
//! lost there (an unknown key or a bad value is then reported at the table's header line, and the
//! key is not named), `toml::Spanned` fields fail to deserialize at all (toml-rs/toml#535, #589),
//! and `deny_unknown_fields` does not combine with `flatten`. Here every value is deserialized
//! straight from toml's own deserializer, so every error keeps the line and column of its key or
//! value; only errors that involve several keys (`finish`) point at the table.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// A table read key by key.
pub(super) trait Table: Sized {
    /// What the table is, for "invalid type" errors ("a [[displays]] entry").
    const EXPECTING: &'static str;
    /// Every key it accepts; any other key is refused where it stands.
    const KEYS: &'static [&'static str];
    /// What the keys read so far hold.
    type Partial: Default;

    /// Reads the value of `key`, one of `KEYS`, into `partial`.
    fn read<'de, A: MapAccess<'de>>(
        partial: &mut Self::Partial,
        key: &'static str,
        map: &mut A,
    ) -> Result<(), A::Error>;

    /// The table from every key it had: required keys and rules between keys.
    fn finish<E: de::Error>(partial: Self::Partial) -> Result<Self, E>;
}

/// Deserializes a [`Table`].
pub(super) fn deserialize<'de, T: Table, D: Deserializer<'de>>(d: D) -> Result<T, D::Error> {
    struct TableVisitor<T>(PhantomData<T>);

    impl<'de, T: Table> Visitor<'de> for TableVisitor<T> {
        type Value = T;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(T::EXPECTING)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
            let mut partial = T::Partial::default();
            while let Some(key) = map.next_key_seed(Key(T::KEYS))? {
                T::read(&mut partial, key, &mut map)?;
            }
            T::finish(partial)
        }
    }

    d.deserialize_map(TableVisitor(PhantomData))
}

/// The error for a key that `KEYS` lists but `read` does not handle (a bug, reported, not a panic).
pub(super) fn unhandled<E: de::Error>(key: &str, keys: &'static [&'static str]) -> E {
    E::unknown_field(key, keys)
}

/// A key that must be one of a list; deserialized by toml's key deserializer, so an unknown key
/// is reported at its own line and column.
struct Key(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = &'static str;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl Visitor<'_> for Key {
    type Value = &'static str;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.0
            .iter()
            .copied()
            .find(|k| *k == v)
            .ok_or_else(|| E::unknown_field(v, self.0))
    }
}
