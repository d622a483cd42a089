//! The contract a transform implements, as the engine names it: the WIT
//! package, world and versions (`wit/weir.wit`, and the older
//! `wit/0.1.0/weir.wit` it still runs), and what each import a
//! component may declare means to the sandbox ([`ImportKind`]). At the
//! bottom of the crate: [`Engine::load`](crate::Engine::load) decides with
//! it which modules run, and [`Engine::inspect`](crate::Engine::inspect)
//! lists with it what a module asks for; it imports neither.

/// The WIT package every transform implements (`wit/weir.wit`).
pub const WIT_PACKAGE: &str = "weir:transform";
/// The version of [`WIT_PACKAGE`] this engine runs, and new modules are
/// built against.
pub const WIT_VERSION: &str = "0.2.0";
/// The world every transform implements, with its version.
pub const WIT_WORLD: &str = "weir:transform/transform@0.2.0";
/// The older versions of [`WIT_PACKAGE`] this engine still runs.
pub const OLDER_WIT_VERSIONS: [&str; 1] = ["0.1.0"];

/// What an import means to the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImportKind {
    /// The contract's own types, `weir:transform/types`.
    Contract,
    /// A WASI interface the sandbox provides without granting anything:
    /// stdio (captured), environment (empty), clocks and randomness (fixed),
    /// streams and polling.
    Sandbox,
    /// A capability beyond the sandbox's default.
    Capability {
        /// What it asks for: `files`, `network` or `http`.
        capability: &'static str,
        /// Whether the sandbox links it at all. Files and sockets are linked
        /// but deny every use (files: only a granted assets directory,
        /// read-only); HTTP is not linked, so such a module does not load.
        linked: bool,
    },
    /// Anything else: an interface this engine does not provide.
    Unknown,
}

impl ImportKind {
    pub(crate) fn of(name: &str) -> ImportKind {
        let interface = name.split('@').next().unwrap_or(name);
        let package = interface.split('/').next().unwrap_or(interface);
        match package {
            WIT_PACKAGE if interface == "weir:transform/types" => ImportKind::Contract,
            "wasi:filesystem" => ImportKind::Capability {
                capability: "files",
                linked: true,
            },
            "wasi:sockets" => ImportKind::Capability {
                capability: "network",
                linked: true,
            },
            "wasi:http" => ImportKind::Capability {
                capability: "http",
                linked: false,
            },
            "wasi:io" | "wasi:cli" | "wasi:clocks" | "wasi:random" => ImportKind::Sandbox,
            _ => ImportKind::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_constants_match_the_wit_files() {
        let wit = include_str!("../../../wit/weir.wit");
        assert!(
            wit.contains(&format!("package {WIT_PACKAGE}@{WIT_VERSION};")),
            "wit/weir.wit declares another package or version"
        );
        assert!(wit.contains("world transform {"));
        assert!(wit.contains("export fields: func() -> option<field-spec>;"));
        assert_eq!(WIT_WORLD, format!("{WIT_PACKAGE}/transform@{WIT_VERSION}"));
        let old = include_str!("../../../wit/0.1.0/weir.wit");
        assert!(old.contains(&format!("package {WIT_PACKAGE}@{};", OLDER_WIT_VERSIONS[0])));
        assert!(!old.contains("fields"));
    }

    #[test]
    fn imports_are_classified_by_package() {
        assert_eq!(
            ImportKind::of("weir:transform/types@0.1.0"),
            ImportKind::Contract
        );
        assert_eq!(ImportKind::of("wasi:cli/stdout@0.2.6"), ImportKind::Sandbox);
        assert_eq!(
            ImportKind::of("wasi:filesystem/preopens@0.2.6"),
            ImportKind::Capability {
                capability: "files",
                linked: true
            }
        );
        assert_eq!(
            ImportKind::of("wasi:sockets/tcp@0.2.6"),
            ImportKind::Capability {
                capability: "network",
                linked: true
            }
        );
        assert_eq!(
            ImportKind::of("wasi:http/outgoing-handler@0.2.6"),
            ImportKind::Capability {
                capability: "http",
                linked: false
            }
        );
        assert_eq!(ImportKind::of("acme:db/query"), ImportKind::Unknown);
    }
}
