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

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

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

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
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
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let yaml: serde_norway::Value =
        serde_norway::from_str(&text).map_err(|e| format!("invalid YAML: {e}"))?;
    let mut doc = yaml_to_json(yaml)?;
    normalize(&mut doc)?;
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
    let file: syn::File = syn::parse2(tokens).map_err(|e| format!("generated code: {e}"))?;
    let code = prettyplease::unparse(&file);
    let out = out_dir.join(format!("{}.rs", stem.replace('-', "_")));
    std::fs::write(&out, code).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// YAML allows non-string keys (`200:`); JSON and OpenAPI do not, so keys become strings.
fn yaml_to_json(value: serde_norway::Value) -> Result<Value, String> {
    use serde_norway::Value as Y;
    Ok(match value {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                let f = n.as_f64().ok_or("a number is not representable")?;
                serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .ok_or("a number is not finite")?
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => return Err(format!("unsupported mapping key {other:?}")),
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => yaml_to_json(tagged.value)?,
    })
}

fn normalize(doc: &mut Value) -> Result<(), String> {
    let version = doc
        .get("openapi")
        .and_then(Value::as_str)
        .ok_or("missing `openapi` version")?;
    if !version.starts_with("3.0.") {
        return Err(format!("OpenAPI {version} is not supported; write 3.0.x"));
    }
    let paths = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .ok_or("missing `paths`")?;
    let mut seen_ids = BTreeSet::new();
    for (path, item) in paths.iter_mut() {
        let item = item
            .as_object_mut()
            .ok_or_else(|| format!("path {path} is not an object"))?;
        for method in HTTP_METHODS {
            let Some(op) = item.get_mut(*method) else {
                continue;
            };
            let op = op
                .as_object_mut()
                .ok_or_else(|| format!("{method} {path} is not an object"))?;
            let id = match op.get("operationId").and_then(Value::as_str) {
                Some(id) => id.to_string(),
                None => {
                    let id = synthesized_operation_id(method, path);
                    op.insert("operationId".into(), Value::String(id.clone()));
                    id
                }
            };
            if !seen_ids.insert(id.clone()) {
                return Err(format!("operationId `{id}` is used twice"));
            }
            keep_success_responses(op).map_err(|e| format!("{method} {path} ({id}): {e}"))?;
        }
    }
    if let Some(schemas) = doc.pointer_mut("/components/schemas") {
        relax_schema(schemas);
    }
    // Parameter schemas and request bodies may carry inline constraints too.
    if let Some(paths) = doc.get_mut("paths") {
        relax_parameters(paths);
    }
    if let Some(params) = doc.pointer_mut("/components/parameters") {
        relax_parameters(params);
    }
    // Responses are stripped to 2xx; unused error responses and headers would only be noise.
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.remove("responses");
        components.remove("headers");
    }
    Ok(())
}

fn synthesized_operation_id(method: &str, path: &str) -> String {
    let mut id = String::from(method);
    for part in path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        for c in part.chars() {
            if c.is_ascii_alphanumeric() {
                id.push(c.to_ascii_lowercase());
            } else if !id.ends_with('_') {
                id.push('_');
            }
        }
    }
    id.trim_end_matches('_').to_string()
}

fn keep_success_responses(op: &mut Map<String, Value>) -> Result<(), String> {
    let responses = op
        .get_mut("responses")
        .and_then(Value::as_object_mut)
        .ok_or("no `responses`")?;
    responses.retain(|code, _| code.starts_with('2'));
    if responses.is_empty() {
        return Err("no 2xx response".into());
    }
    if responses.len() > 1 {
        let codes: Vec<_> = responses.keys().cloned().collect();
        return Err(format!(
            "several success responses ({}); the generated client needs one",
            codes.join(", ")
        ));
    }
    let success = std::mem::take(responses);
    for (_, mut response) in success {
        if let Some(r) = response.as_object_mut() {
            if r.contains_key("$ref") {
                return Err("success responses must be written inline, not as `$ref`".into());
            }
            r.remove("headers");
            r.remove("links");
            if let Some(content) = r.get_mut("content").and_then(Value::as_object_mut) {
                for media in content.values_mut() {
                    if let Some(schema) = media.get_mut("schema") {
                        relax_schema_tree(schema);
                    }
                }
            }
        }
        responses.insert("2XX".into(), response);
    }
    Ok(())
}

/// Applies the tolerant-decoding rules to every schema in `components.schemas`.
fn relax_schema(schemas: &mut Value) {
    if let Some(map) = schemas.as_object_mut() {
        for schema in map.values_mut() {
            relax_schema_tree(schema);
        }
    }
}

const DROPPED_KEYWORDS: &[&str] = &[
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "example",
    "examples",
];

fn relax_schema_tree(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            let read_only: BTreeSet<String> = map
                .get("properties")
                .and_then(Value::as_object)
                .map(|props| {
                    props
                        .iter()
                        .filter(|(_, p)| p.get("readOnly") == Some(&Value::Bool(true)))
                        .map(|(name, _)| name.clone())
                        .collect()
                })
                .unwrap_or_default();
            if let Some(required) = map.get_mut("required").and_then(Value::as_array_mut) {
                required.retain(|r| r.as_str().is_none_or(|name| !read_only.contains(name)));
            }
            if map
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(Vec::is_empty)
            {
                map.remove("required");
            }
            if map.get("additionalProperties") == Some(&Value::Bool(false)) {
                map.remove("additionalProperties");
            }
            // Only constraint keywords are dropped; a property that happens to be *named* like
            // one (e.g. a field called `pattern`) lives under `properties` and is kept.
            for keyword in DROPPED_KEYWORDS {
                map.remove(*keyword);
            }
            for (key, child) in map.iter_mut() {
                match key.as_str() {
                    "properties" => {
                        if let Some(props) = child.as_object_mut() {
                            for prop in props.values_mut() {
                                relax_schema_tree(prop);
                            }
                        }
                    }
                    "items" | "additionalProperties" | "not" => relax_schema_tree(child),
                    "allOf" | "oneOf" | "anyOf" => {
                        if let Some(list) = child.as_array_mut() {
                            for s in list {
                                relax_schema_tree(s);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        Value::Array(list) => {
            for s in list {
                relax_schema_tree(s);
            }
        }
        _ => {}
    }
}

fn relax_parameters(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "schema" {
                    relax_schema_tree(child);
                } else {
                    relax_parameters(child);
                }
            }
        }
        Value::Array(list) => {
            for child in list {
                relax_parameters(child);
            }
        }
        _ => {}
    }
}
