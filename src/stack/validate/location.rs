//! Where validation reports a problem: `stack.toml: <key path>`. The raw model keeps no
//! spans, so a problem with a value is located by the key that holds it; `Stack::parse`
//! then adds the key's line and column from the text (`raw::locate`).

use crate::state::layout::STACK_FILE;

/// `stack.toml: <key>`, e.g. `stack.toml: stack.name`.
pub(super) fn at(key: &str) -> String {
    format!("{STACK_FILE}: {key}")
}

/// The locations inside one `[services.<name>]` table.
#[derive(Debug, Clone, Copy)]
pub(super) struct ServiceAt<'a> {
    pub(super) name: &'a str,
}

impl ServiceAt<'_> {
    /// The service's table itself: `stack.toml: services.<name>`.
    pub(super) fn table(self) -> String {
        at(&format!("services.{}", self.name))
    }

    /// One key of it: `stack.toml: services.<name>.<key>`.
    pub(super) fn key(self, key: &str) -> String {
        at(&format!("services.{}.{key}", self.name))
    }
}
