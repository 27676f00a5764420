//! A config that can print itself: each field's name and doc comment, taken from the
//! struct's own source by [`documented!`], so the text `faultline list` and
//! `faultline new` print is never a second copy to keep in step by hand.

/// One field of a config, as its source documents it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDoc {
    /// The field's name, as a scenario writes it.
    pub name: &'static str,
    /// Its doc comment, as written (`///` lines joined with newlines, each with the one
    /// space after `///` still in front).
    pub doc: &'static str,
}

impl FieldDoc {
    /// The doc comment's lines, without the space after `///`.
    pub fn lines(&self) -> impl Iterator<Item = &'static str> {
        self.doc
            .lines()
            .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end())
    }
}

/// A field an earlier faultline called something else: a scenario that still writes the
/// old name gets an error naming the new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Renamed {
    /// The old name, e.g. `"heartbeat_ms"`.
    pub old: &'static str,
    /// The new name, e.g. `"heartbeat"`.
    pub new: &'static str,
    /// The unit of the old field's plain integers when the new field is a duration string
    /// (`"ms"`: `heartbeat_ms: 50` becomes `heartbeat: "50ms"`); `""` for a plain rename.
    pub unit: &'static str,
}

/// A config whose fields are documented: what [`documented!`] implements.
pub trait Documented {
    /// Every field, in the order the struct declares (and serde writes) them.
    const FIELDS: &'static [FieldDoc];
    /// Fields renamed since earlier versions.
    const RENAMED: &'static [Renamed] = &[];
}

/// Declares a config struct and implements [`Documented`] for it from the same source:
/// every field must have a `///` doc comment (a field without one does not compile), and
/// the doc comments are what `faultline list` prints above each field. A field takes doc
/// comments only (no `#[serde(...)]` of its own: the printed name must be the field's).
///
/// ```
/// use serde::{Deserialize, Serialize};
///
/// protocols::documented! {
///     /// How a toy protocol is tuned.
///     #[derive(Clone, Debug, Default, Serialize, Deserialize)]
///     #[serde(deny_unknown_fields, default)]
///     pub struct ToyConfig {
///         /// How often each node says hello.
///         pub hello_every: sim_core::Duration,
///         /// Bug knob: forget to say it.
///         pub silent: bool,
///     }
///     renamed: &[protocols::Renamed { old: "hello_ms", new: "hello_every", unit: "ms" }],
/// }
///
/// use protocols::Documented;
/// assert_eq!(ToyConfig::FIELDS[0].name, "hello_every");
/// assert_eq!(ToyConfig::FIELDS[1].lines().collect::<Vec<_>>(), ["Bug knob: forget to say it."]);
/// assert_eq!(ToyConfig::RENAMED[0].new, "hello_every");
/// ```
#[macro_export]
macro_rules! documented {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])+
                $fvis:vis $field:ident : $ty:ty
            ),* $(,)?
        }
        $(renamed: $renamed:expr $(,)?)?
    ) => {
        $(#[$meta])*
        $vis struct $name {
            $(
                $(#[doc = $doc])+
                $fvis $field: $ty,
            )*
        }

        impl $crate::Documented for $name {
            const FIELDS: &'static [$crate::FieldDoc] = &[
                $(
                    $crate::FieldDoc {
                        name: stringify!($field),
                        doc: concat!($($doc, "\n"),+),
                    },
                )*
            ];
            $(const RENAMED: &'static [$crate::Renamed] = $renamed;)?
        }
    };
}
