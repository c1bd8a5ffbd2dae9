//! Reading and normalizing an OpenAPI file for progenitor; used by build.rs and its tests.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{Map, Value};

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Reads a YAML spec and normalizes it. Errors name the problem; the caller adds the file.
pub fn load(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    parse(&text)
}

/// Parses YAML text and normalizes it.
pub fn parse(text: &str) -> Result<Value, String> {
    let yaml: serde_norway::Value =
        serde_norway::from_str(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let mut doc = yaml_to_json(yaml)?;
    normalize(&mut doc)?;
    Ok(doc)
}

/// YAML allows non-string keys (`200:`); JSON and OpenAPI do not, so keys become strings.
pub fn yaml_to_json(value: serde_norway::Value) -> Result<Value, String> {
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

pub fn normalize(doc: &mut Value) -> Result<(), String> {
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

/// `name` in upper snake case, a word starting at each capital that follows a lowercase letter
/// or a digit: `getCcpmV1CustomConnectPlugin` is `GET_CCPM_V1_CUSTOM_CONNECT_PLUGIN`,
/// `get_plugin_by_id` is `GET_PLUGIN_BY_ID`. Characters other than ASCII letters and digits
/// become `_`.
pub fn upper_snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 8);
    let mut previous: Option<char> = None;
    for c in name.chars() {
        if c.is_ascii_uppercase()
            && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
        {
            out.push('_');
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.push('_');
        }
        previous = Some(c);
    }
    out
}
