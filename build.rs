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
    let decoding = use_own_json_decoder(&mut file)?;
    format_path_segments_in_place(&mut file)?;
    build_urls_from_the_parsed_base(&mut file, operation_count(&spec))?;
    scope_request_to_its_sending(&mut file, operation_count(&spec), decoding)?;
    box_decoded_values(&mut file, decoding)?;
    describe_operations(&mut file, &spec)?;
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
/// Returns how many calls it replaced. The build fails if there is none, so a change in
/// progenitor's output is noticed.
fn use_own_json_decoder(file: &mut syn::File) -> Result<usize, String> {
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
    Ok(replace.replaced)
}

/// Replaces progenitor's `encode_path(&value.to_string())` with
/// `crate::transport::PathSegment(&value)`, which percent-encodes the same bytes while the URL is
/// formatted instead of building two strings per path parameter first. The build fails if a call
/// of another shape is left, so a change in progenitor's output is noticed.
fn format_path_segments_in_place(file: &mut syn::File) -> Result<(), String> {
    use syn::visit_mut::VisitMut;

    struct Replace {
        left: usize,
    }
    impl VisitMut for Replace {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            if let syn::Expr::Call(call) = expr
                && let syn::Expr::Path(path) = &*call.func
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "encode_path")
            {
                if call.args.len() == 1
                    && let syn::Expr::Reference(reference) = &call.args[0]
                    && let syn::Expr::MethodCall(method) = &*reference.expr
                    && method.method == "to_string"
                    && method.args.is_empty()
                {
                    let value = &method.receiver;
                    *expr = syn::parse_quote! { crate::transport::PathSegment(&#value) };
                } else {
                    self.left += 1;
                }
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
        fn visit_macro_mut(&mut self, mac: &mut syn::Macro) {
            // `format!` arguments are tokens to syn; parse them, rewrite, and put them back.
            if mac.path.is_ident("format")
                && let Ok(mut args) = mac.parse_body_with(
                    syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
                )
            {
                for arg in args.iter_mut() {
                    self.visit_expr_mut(arg);
                }
                mac.tokens = quote::quote! { #args };
            }
        }
    }
    let mut replace = Replace { left: 0 };
    replace.visit_file_mut(file);
    if replace.left > 0 {
        return Err(format!(
            "{} `encode_path` call(s) of an unknown shape; the generated code changed shape",
            replace.left
        ));
    }
    Ok(())
}

/// Replaces each operation's `format!("{}/path/{}", self.baseurl, ..)`, a string reqwest then
/// parses whole (scheme, host and all), with `self.inner.url(format_args!("/path/{}", ..))`:
/// the transport starts from the base URL it parsed once and parses only the path. The build
/// fails unless every operation's URL is rewritten, so a change in progenitor's output is noticed.
fn build_urls_from_the_parsed_base(file: &mut syn::File, operations: usize) -> Result<(), String> {
    use quote::ToTokens as _;
    use syn::visit_mut::VisitMut;

    struct Replace {
        rewritten: usize,
    }
    impl VisitMut for Replace {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            if let syn::Expr::Macro(mac) = expr
                && mac.mac.path.is_ident("format")
                && let Ok(args) = mac.mac.parse_body_with(
                    syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
                )
                && let Some(syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(template),
                    ..
                })) = args.first()
                && let Some(path) = template.value().strip_prefix("{}")
                && path.starts_with('/')
                && args
                    .iter()
                    .nth(1)
                    .is_some_and(|base| base.to_token_stream().to_string() == "self . baseurl")
            {
                let path = syn::LitStr::new(path, template.span());
                let rest = args.iter().skip(2);
                *expr = syn::parse_quote! {
                    self.inner.url(format_args!(#path, #(#rest),*))
                };
                self.rewritten += 1;
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }
    let mut replace = Replace { rewritten: 0 };
    replace.visit_file_mut(file);
    if replace.rewritten != operations {
        return Err(format!(
            "expected to rewrite the URL of {operations} operations, rewrote {}; \
             the generated code changed shape",
            replace.rewritten
        ));
    }
    Ok(())
}

/// Puts each operation's `request` and `result` locals in blocks that end once they are used.
///
/// progenitor's operations run
/// `let mut request = ..; let info = ..; self.pre(&mut request, &info).await?;
/// let result = self.exec(request, &info).await; self.post(&result, &info).await?;
/// let response = result?;`. A local that is borrowed across an `.await` keeps its place in the
/// operation's future until the end of the function, so the request (264 bytes) stayed in the
/// future while it was being sent and the result while the body was read. Rewritten as
/// `let info = ..; let response = { let result = { let mut request = ..; self.pre(..).await?;
/// self.exec(request, &info) }.await; self.post(&result, &info).await?; result? };` the code does
/// the same in the same order with a smaller future.
///
/// An operation that decodes a JSON body then ends with `match response.status().as_u16() {
/// 200..=299 => { crate::transport::decode_json(response).await } _ => Err(..(response)) }`, which
/// kept `response` in the future while the body was read as well. It is rewritten as
/// `crate::transport::decode_json({ ..the block above.. }).await`: `decode_json` hands an error
/// status back as `UnexpectedResponse` itself. The build fails unless every operation is
/// rewritten, so a change in progenitor's output is noticed.
fn scope_request_to_its_sending(
    file: &mut syn::File,
    operations: usize,
    decoding: usize,
) -> Result<(), String> {
    use quote::ToTokens as _;
    use syn::visit_mut::VisitMut;

    fn text(stmt: &syn::Stmt) -> String {
        stmt.to_token_stream().to_string()
    }
    fn binds(stmt: &syn::Stmt, name: &str) -> bool {
        let syn::Stmt::Local(local) = stmt else {
            return false;
        };
        let pat = match &local.pat {
            syn::Pat::Type(typed) => &*typed.pat,
            pat => pat,
        };
        matches!(pat, syn::Pat::Ident(ident) if ident.ident == name)
    }

    struct Scope {
        rewritten: usize,
        decoded: usize,
    }
    impl VisitMut for Scope {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            let stmts = &block.stmts;
            let found = stmts.windows(6).position(|w| {
                binds(&w[0], "request")
                    && binds(&w[1], "info")
                    && text(&w[2]) == "self . pre (& mut request , & info) . await ? ;"
                    && text(&w[3]) == "let result = self . exec (request , & info) . await ;"
                    && text(&w[4]) == "self . post (& result , & info) . await ? ;"
                    && text(&w[5]) == "let response = result ? ;"
            });
            if let Some(at) = found {
                let request = block.stmts[at].clone();
                let info = block.stmts[at + 1].clone();
                let pre = block.stmts[at + 2].clone();
                let response: syn::Expr = syn::parse_quote! {
                    {
                        let result = {
                            #request
                            #pre
                            self.exec(request, &info)
                        }
                        .await;
                        self.post(&result, &info).await?;
                        result?
                    }
                };
                let decodes = block.stmts.get(at + 6).is_some_and(|tail| {
                    text(tail)
                        == "match response . status () . as_u16 () { 200 ..= 299 => { crate :: \
                            transport :: decode_json (response) . await } _ => Err (Error :: \
                            UnexpectedResponse (response)) , }"
                });
                if decodes {
                    let scoped: Vec<syn::Stmt> = vec![
                        info,
                        syn::Stmt::Expr(
                            syn::parse_quote! { crate::transport::decode_json(#response).await },
                            None,
                        ),
                    ];
                    block.stmts.splice(at..at + 7, scoped);
                    self.decoded += 1;
                } else {
                    let scoped: Vec<syn::Stmt> =
                        vec![info, syn::parse_quote! { let response = #response; }];
                    block.stmts.splice(at..at + 6, scoped);
                }
                self.rewritten += 1;
            }
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut scope = Scope {
        rewritten: 0,
        decoded: 0,
    };
    scope.visit_file_mut(file);
    if scope.decoded != decoding {
        return Err(format!(
            "expected {decoding} operations to decode a JSON body, rewrote {}; \
             the generated code changed shape",
            scope.decoded
        ));
    }
    if scope.rewritten != operations {
        return Err(format!(
            "expected to scope the request of {operations} operations, scoped {}; \
             the generated code changed shape",
            scope.rewritten
        ));
    }
    Ok(())
}

/// Makes each operation that decodes a JSON body return the value boxed:
/// `Result<ResponseValue<T>, Error<E>>` becomes `Result<ResponseValue<Box<T>>, Error<E>>`.
/// The value then travels from the operation through the retry engine to the caller as a
/// pointer; by value, every async layer on the way copies it (a Confluent plugin is 352 bytes).
/// The build fails unless every operation that decodes a body (`decoding` of them) was changed.
fn box_decoded_values(file: &mut syn::File, decoding: usize) -> Result<(), String> {
    use quote::ToTokens as _;
    use syn::visit_mut::VisitMut;

    /// The first type argument of the last segment of `ty`, if it is named `name`.
    fn first_argument<'t>(ty: &'t mut syn::Type, name: &str) -> Option<&'t mut syn::Type> {
        let syn::Type::Path(path) = ty else {
            return None;
        };
        let last = path.path.segments.last_mut()?;
        if last.ident != name {
            return None;
        }
        let syn::PathArguments::AngleBracketed(arguments) = &mut last.arguments else {
            return None;
        };
        match arguments.args.first_mut()? {
            syn::GenericArgument::Type(ty) => Some(ty),
            _ => None,
        }
    }

    struct Boxer {
        boxed: usize,
    }
    impl VisitMut for Boxer {
        fn visit_impl_item_fn_mut(&mut self, function: &mut syn::ImplItemFn) {
            let decodes = function
                .block
                .to_token_stream()
                .to_string()
                .contains("crate :: transport :: decode_json");
            if decodes
                && let syn::ReturnType::Type(_, output) = &mut function.sig.output
                && let Some(value) = first_argument(output, "Result")
                    .and_then(|ok| first_argument(ok, "ResponseValue"))
            {
                let unboxed = value.clone();
                *value = syn::parse_quote! { ::std::boxed::Box<#unboxed> };
                self.boxed += 1;
            }
            syn::visit_mut::visit_impl_item_fn_mut(self, function);
        }
    }
    let mut boxer = Boxer { boxed: 0 };
    boxer.visit_file_mut(file);
    if boxer.boxed != decoding {
        return Err(format!(
            "expected {decoding} operations to return a decoded value, boxed the value of {}; \
             the generated code changed shape",
            boxer.boxed
        ));
    }
    Ok(())
}

/// Appends module `operations` to the generated client: one `crate::transport::Operation` static
/// per operation, with the spec's `operationId` and method, named after the `operationId` in upper
/// snake case (`getCcpmV1CustomConnectPlugin` is `GET_CCPM_V1_CUSTOM_CONNECT_PLUGIN`). The
/// hand-written layer passes these to the transport, so the names errors and tracing use and the
/// methods retries are decided by come from the spec alone.
fn describe_operations(file: &mut syn::File, spec: &openapiv3::OpenAPI) -> Result<(), String> {
    let mut statics = Vec::new();
    for (path, method, op) in spec.operations() {
        let id = op
            .operation_id
            .as_deref()
            .ok_or_else(|| format!("{method} {path} has no operationId"))?;
        let name: syn::Ident = syn::parse_str(&spec::upper_snake_case(id))
            .map_err(|e| format!("operationId `{id}` makes no Rust name: {e}"))?;
        let verb: syn::Ident = syn::parse_str(&method.to_ascii_uppercase())
            .map_err(|e| format!("method `{method}` of {path}: {e}"))?;
        let doc = format!("`{} {path}`", method.to_ascii_uppercase());
        statics.push(quote::quote! {
            #[doc = #doc]
            pub static #name: crate::transport::Operation = crate::transport::Operation {
                id: #id,
                method: ::reqwest::Method::#verb,
            };
        });
    }
    let module: syn::Item = syn::parse2(quote::quote! {
        /// The operations of this API, as its spec names them.
        pub mod operations {
            #(#statics)*
        }
    })
    .map_err(|e| format!("operations module: {e}"))?;
    file.items.push(module);
    Ok(())
}

/// progenitor adds an `api-version` header to every request; neither API uses it, so the
/// statement is removed from each operation here rather than the header from each request.
/// An operation left with no header to add loses its empty header map too, and the
/// `.headers(header_map)` step that copied it into the request.
/// The build fails if the generated code stops matching, instead of silently sending it.
fn strip_api_version_header(file: &mut syn::File, operations: usize) -> Result<(), String> {
    use quote::ToTokens as _;
    use syn::visit_mut::VisitMut;

    struct Strip {
        removed: usize,
        /// Operations whose removed header map is still mentioned.
        maps_left: usize,
    }
    /// Drops `.headers(header_map)` from a request builder chain.
    struct UnusedHeaderMap;
    impl VisitMut for UnusedHeaderMap {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            if let syn::Expr::MethodCall(call) = expr
                && call.method == "headers"
                && call.args.len() == 1
                && call.args[0].to_token_stream().to_string() == "header_map"
            {
                *expr = (*call.receiver).clone();
                self.visit_expr_mut(expr);
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
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
                // With no header left to add, neither the map nor the step that copies it is needed.
                let appends = block.stmts.iter().any(|stmt| {
                    stmt.to_token_stream()
                        .to_string()
                        .contains("header_map . append")
                });
                if !appends {
                    block.stmts.retain(|stmt| {
                        !stmt
                            .to_token_stream()
                            .to_string()
                            .starts_with("let mut header_map")
                    });
                    for stmt in &mut block.stmts {
                        UnusedHeaderMap.visit_stmt_mut(stmt);
                    }
                    if block
                        .stmts
                        .iter()
                        .any(|stmt| stmt.to_token_stream().to_string().contains("header_map"))
                    {
                        self.maps_left += 1;
                    }
                }
            }
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut strip = Strip {
        removed: 0,
        maps_left: 0,
    };
    strip.visit_file_mut(file);
    if strip.maps_left > 0 {
        return Err(format!(
            "{} operations still use the header map removed with the api-version header; \
             the generated code changed shape",
            strip.maps_left
        ));
    }
    if strip.removed != operations {
        return Err(format!(
            "expected to remove progenitor's api-version header from {operations} operations, \
             removed it from {}; the generated code changed shape",
            strip.removed
        ));
    }
    Ok(())
}
