//! Generates one progenitor client per OpenAPI file in `spec/`.
//!
//! Each spec is normalized in memory first, so that progenitor's assertions cannot trip and the
//! generated code decodes responses tolerantly:
//! - only success (2xx) responses stay; error responses reach the hand-written error mapper as
//!   `UnexpectedResponse` with status, headers and body intact (progenitor asserts a single error
//!   type per operation, and both APIs have several);
//! - the one success response is widened to `2XX`, so a server answering 200 where the spec says
//!   202 (or 201) is still decoded rather than reported as an unexpected status;
//! - `readOnly` properties leave every `required` list (clients never send them);
//! - value constraints that would make decoding brittle or generate validating newtypes
//!   (`enum`, `pattern`, lengths, bounds, `uniqueItems`, `additionalProperties: false`) are dropped;
//!   the hand-written layer validates requests itself;
//! - operations without an `operationId` get one derived from method and path.
//!
//! Schemas the hand-written layer models itself are replaced by those Rust types (see `SPECS`).
//! A spec that cannot be read or generated fails the build with the file and the problem named.

use std::path::{Path, PathBuf};

#[path = "build/spec.rs"]
mod spec;

/// Per-spec settings: the spec file stem, and schema name -> Rust type replacements.
struct SpecSettings {
    stem: &'static str,
    replacements: &'static [(&'static str, &'static str)],
}

const SPECS: &[SpecSettings] = &[
    SpecSettings {
        stem: "golem-plugins",
        replacements: &[
            ("PluginRegistrationDto", "crate::golem::Plugin"),
            ("PluginRegistrationCreation", "crate::golem::NewPlugin"),
        ],
    },
    SpecSettings {
        stem: "confluent-ccpm-v1",
        replacements: &[
            ("CustomConnectPlugin", "crate::confluent::Plugin"),
            (
                "CustomConnectPluginCreate",
                "crate::confluent::wire::CreatePluginBody",
            ),
            (
                "CustomConnectPluginUpdate",
                "crate::confluent::wire::UpdatePluginBody",
            ),
            (
                "CustomConnectPluginList",
                "crate::confluent::wire::PluginPage",
            ),
            (
                "CustomConnectPluginVersion",
                "crate::confluent::PluginVersion",
            ),
            (
                "CustomConnectPluginVersionCreate",
                "crate::confluent::wire::CreatePluginVersionBody",
            ),
            (
                "CustomConnectPluginVersionList",
                "crate::confluent::wire::PluginVersionPage",
            ),
            ("PresignedUrl", "crate::confluent::PresignedUpload"),
            (
                "PresignedUrlCreate",
                "crate::confluent::wire::PresignedUploadBody",
            ),
        ],
    },
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/spec.rs");
    println!("cargo:rerun-if-changed=spec");
    let out_dir = match std::env::var_os("OUT_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => fail("OUT_DIR is not set; build.rs must run under cargo"),
    };
    let specs = match spec_files(Path::new("spec")) {
        Ok(specs) => specs,
        Err(problem) => fail(&format!("spec/: {problem}")),
    };
    for path in specs {
        println!("cargo:rerun-if-changed={}", path.display());
        if let Err(problem) = generate(&path, &out_dir) {
            fail(&format!("{}: {problem}", path.display()));
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

fn spec_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read the folder: {e}"))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn generate(path: &Path, out_dir: &Path) -> Result<(), String> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or("the file name is not UTF-8")?;
    let settings = SPECS
        .iter()
        .find(|s| s.stem == stem)
        .ok_or_else(|| format!("no entry for `{stem}` in build.rs SPECS"))?;
    let doc = spec::load(path)?;
    let spec: openapiv3::OpenAPI =
        serde_json::from_value(doc).map_err(|e| format!("not an OpenAPI 3.0 document: {e}"))?;

    let mut gen_settings = progenitor::GenerationSettings::default();
    gen_settings
        .with_interface(progenitor::InterfaceStyle::Positional)
        .with_tag(progenitor::TagStyle::Merged)
        .with_hooks(progenitor::HooksMode::Expected)
        .with_inner_type(
            "std::sync::Arc<crate::transport::Transport>"
                .parse()
                .map_err(|e| format!("inner type: {e}"))?,
        );
    for (schema, rust_type) in settings.replacements {
        gen_settings.with_replacement(*schema, *rust_type, std::iter::empty());
    }
    // progenitor reports some unsupported constructs by panicking; turn that into a build error.
    let tokens = std::panic::catch_unwind(|| {
        let mut generator = progenitor::Generator::new(&gen_settings);
        generator.generate_tokens(&spec)
    })
    .map_err(|panic| {
        let reason = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".into());
        format!("progenitor panicked: {reason}")
    })?
    .map_err(|e| format!("progenitor: {e}"))?;
    let mut file: syn::File = syn::parse2(tokens).map_err(|e| format!("generated code: {e}"))?;
    strip_api_version_header(&mut file, operation_count(&spec))?;
    use_own_json_decoder(&mut file)?;
    let code = prettyplease::unparse(&file);
    let out = out_dir.join(format!("{}.rs", stem.replace('-', "_")));
    std::fs::write(&out, code).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

fn operation_count(spec: &openapiv3::OpenAPI) -> usize {
    spec.operations().count()
}

/// Replaces progenitor's `ResponseValue::from_response(response)` with
/// `crate::transport::decode_json(response)`, which decodes the same body without copying the
/// response headers (the transport has read them already) and with a smaller future.
/// The build fails if there is no call to replace, so a change in progenitor's output is noticed.
fn use_own_json_decoder(file: &mut syn::File) -> Result<(), String> {
    use syn::visit_mut::VisitMut;

    struct Replace {
        replaced: usize,
    }
    impl VisitMut for Replace {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            if let syn::Expr::Call(call) = expr
                && let syn::Expr::Path(path) = &*call.func
                && path.path.segments.len() == 2
                && path.path.segments[0].ident == "ResponseValue"
                && path.path.segments[1].ident == "from_response"
                && call.args.len() == 1
            {
                let arg = &call.args[0];
                *expr = syn::parse_quote! { crate::transport::decode_json(#arg) };
                self.replaced += 1;
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }
    let mut replace = Replace { replaced: 0 };
    replace.visit_file_mut(file);
    if replace.replaced == 0 {
        return Err(
            "found no `ResponseValue::from_response` call to replace; the generated code changed shape"
                .into(),
        );
    }
    Ok(())
}

/// progenitor adds an `api-version` header to every request; neither API uses it, so the
/// statement is removed from each operation here rather than the header from each request.
/// The build fails if the generated code stops matching, instead of silently sending it.
fn strip_api_version_header(file: &mut syn::File, operations: usize) -> Result<(), String> {
    use quote::ToTokens as _;
    use syn::visit_mut::VisitMut;

    struct Strip {
        removed: usize,
    }
    impl VisitMut for Strip {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            let before = block.stmts.len();
            block.stmts.retain(|stmt| {
                let text = stmt.to_token_stream().to_string();
                !(text.contains("append") && text.contains("\"api-version\""))
            });
            if block.stmts.len() != before {
                self.removed += before - block.stmts.len();
                // With no header left to add, the map needs neither `mut` nor an allocation.
                let appends = block.stmts.iter().any(|stmt| {
                    stmt.to_token_stream()
                        .to_string()
                        .contains("header_map . append")
                });
                if !appends {
                    for stmt in &mut block.stmts {
                        if stmt
                            .to_token_stream()
                            .to_string()
                            .starts_with("let mut header_map")
                        {
                            *stmt = syn::parse_quote! {
                                let header_map = ::reqwest::header::HeaderMap::new();
                            };
                        }
                    }
                }
            }
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut strip = Strip { removed: 0 };
    strip.visit_file_mut(file);
    if strip.removed != operations {
        return Err(format!(
            "expected to remove progenitor's api-version header from {operations} operations, \
             removed it from {}; the generated code changed shape",
            strip.removed
        ));
    }
    Ok(())
}
