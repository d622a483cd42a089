//! What a module file is, read before it is compiled: the names its
//! component imports and exports, and the size of its largest function.
//! Compiling is the costly step (seconds to minutes, gigabytes for a hostile
//! module), so `Engine::load` refuses what is not a transform, or is too big
//! to compile, from this outline first. It only parses; it neither validates
//! nor compiles, and knows nothing of wasmtime.

use wasmparser::{ComponentExternalKind, Parser, Payload};

/// A component's outline.
pub(crate) struct Outline {
    /// Its own imports' names (not those of nested components or modules).
    pub(crate) imports: Vec<String>,
    /// Its own exports: name and whether it is a function.
    pub(crate) exports: Vec<(String, bool)>,
    /// The body size in bytes of the largest function of any core module in
    /// it, nested ones included.
    pub(crate) largest_function_bytes: usize,
}

impl Outline {
    /// Parses `bytes`, a component; `Err` is the parser's message.
    pub(crate) fn of(bytes: &[u8]) -> Result<Outline, String> {
        let mut outline = Outline {
            imports: Vec::new(),
            exports: Vec::new(),
            largest_function_bytes: 0,
        };
        // 1 while in the top-level component, more inside nested ones.
        let mut depth = 0usize;
        for payload in Parser::new(0).parse_all(bytes) {
            match payload.map_err(|e| e.to_string())? {
                Payload::Version { .. } => depth += 1,
                Payload::End(_) => depth = depth.saturating_sub(1),
                Payload::ComponentImportSection(imports) if depth == 1 => {
                    for import in imports {
                        let import = import.map_err(|e| e.to_string())?;
                        outline.imports.push(import.name.name.to_owned());
                    }
                }
                Payload::ComponentExportSection(exports) if depth == 1 => {
                    for export in exports {
                        let export = export.map_err(|e| e.to_string())?;
                        outline.exports.push((
                            export.name.name.to_owned(),
                            export.kind == ComponentExternalKind::Func,
                        ));
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    outline.largest_function_bytes =
                        outline.largest_function_bytes.max(body.range().len());
                }
                _ => {}
            }
        }
        Ok(outline)
    }
}
