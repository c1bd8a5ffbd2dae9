//! Reading and normalizing an OpenAPI file for progenitor; used by build.rs and its tests.
//!
//! The spec files describe the wire format as it is. Normalizing turns a spec into what the
//! generator handles well, without changing what goes on the wire:
//! - only each operation's success response stays, as `2XX` (progenitor asserts one error type
//!   per operation, and both APIs have several); error responses reach the hand-written error
//!   mapper with status, headers and body intact;
//! - `readOnly` properties are never sent by clients: schemas only requests carry lose them, and
//!   schemas that requests and responses share stop requiring them (typify ignores `readOnly`);
//! - constraints that would make decoding brittle or generate validating newtypes are dropped
//!   (`enum`, `pattern`, lengths, bounds, `uniqueItems`, `additionalProperties: false`); the
//!   hand-written layer validates requests itself;
//! - inline open enums (`x-extensible-enum`) become named schemas, named by their `title`, so
//!   build.rs can replace them with hand-written open enums;
//! - a `oneOf` of a single schema becomes that schema (typify would wrap it in a newtype);
//! - operations without an `operationId` get one derived from method and path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The extension that marks an open enumeration: the values listed are known, others may come.
const OPEN_ENUM: &str = "x-extensible-enum";

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

/// Applies every rule of the module documentation to `doc`.
pub fn normalize(doc: &mut Value) -> Result<(), String> {
    let version = doc
        .get("openapi")
        .and_then(Value::as_str)
        .ok_or("missing `openapi` version")?;
    if !version.starts_with("3.0.") {
        return Err(format!("OpenAPI {version} is not supported; write 3.0.x"));
    }
    normalize_operations(doc)?;
    hoist_open_enums(doc)?;
    let in_requests = schemas_under(doc, "requestBody");
    let in_responses = schemas_under(doc, "responses");
    let read_only = read_only_schemas(doc);
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut);
    for (name, schema) in schemas.into_iter().flatten() {
        let use_ = match (in_requests.contains(name), in_responses.contains(name)) {
            (true, false) => Use::Requests,
            (true, true) => Use::Both,
            (false, _) => Use::Responses,
        };
        relax(schema, use_, &read_only);
    }
    // Inline schemas of parameters, bodies and responses carry constraints too.
    for (key, value) in doc.as_object_mut().into_iter().flatten() {
        if key == "paths" {
            relax_inline(value);
        }
    }
    // Only success responses are left, so error responses and headers are no longer referenced.
    if let Some(components) = doc.get_mut("components").and_then(Value::as_object_mut) {
        components.remove("responses");
        components.remove("headers");
    }
    Ok(())
}

/// The names of the component schemas that are open enums, which need a replacement.
pub fn open_enums(doc: &Value) -> Vec<String> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, schema)| schema.get(OPEN_ENUM).is_some())
        .map(|(name, _)| name.clone())
        .collect()
}

/// The names of the component schemas.
pub fn schema_names(doc: &Value) -> Vec<String> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::keys)
        .cloned()
        .collect()
}

/// The names of the component schemas that are objects with properties (typify makes structs of
/// them).
pub fn object_schemas(doc: &Value) -> Vec<String> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, schema)| schema.get("properties").is_some())
        .map(|(name, _)| name.clone())
        .collect()
}

/// Operation ids (derived when missing, unique) and success responses only.
fn normalize_operations(doc: &mut Value) -> Result<(), String> {
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
            keep_success_response(op).map_err(|e| format!("{method} {path} ({id}): {e}"))?;
        }
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

/// Keeps the one success response, as `2XX`: a server answering 200 where the spec says 202 is
/// still decoded rather than reported as an unexpected status.
fn keep_success_response(op: &mut Map<String, Value>) -> Result<(), String> {
    let responses = op
        .get_mut("responses")
        .and_then(Value::as_object_mut)
        .ok_or("no `responses`")?;
    responses.retain(|code, _| code.starts_with('2'));
    let mut success = std::mem::take(responses).into_iter();
    let (Some((_, mut response)), None) = (success.next(), success.next()) else {
        return Err("needs exactly one 2xx response; the generated client decodes one".into());
    };
    let response = response
        .as_object_mut()
        .ok_or("the success response is not an object")?;
    if response.contains_key("$ref") {
        return Err("the success response must be written inline, not as `$ref`".into());
    }
    response.remove("headers");
    response.remove("links");
    responses.insert("2XX".into(), Value::Object(std::mem::take(response)));
    Ok(())
}

/// Moves every inline open enum into `components/schemas` under its `title` and refers to it
/// there. Open enums with the same title must be the same schema.
fn hoist_open_enums(doc: &mut Value) -> Result<(), String> {
    let mut hoisted = BTreeMap::new();
    for (key, value) in doc.as_object_mut().into_iter().flatten() {
        if key == "paths" {
            hoist_in(value, &mut hoisted, true)?;
        } else if key == "components"
            && let Some(schemas) = value.get_mut("schemas").and_then(Value::as_object_mut)
        {
            for schema in schemas.values_mut() {
                // A named schema that is itself an open enum stays where it is.
                hoist_in(schema, &mut hoisted, false)?;
            }
        }
    }
    if hoisted.is_empty() {
        return Ok(());
    }
    let schemas = doc
        .as_object_mut()
        .ok_or("the document is not an object")?
        .entry("components")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or("`components` is not an object")?
        .entry("schemas")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or("`components.schemas` is not an object")?;
    for (name, schema) in hoisted {
        match schemas.get(&name) {
            Some(existing) if *existing != schema => {
                return Err(format!(
                    "open enum `{name}` clashes with another schema of that name"
                ));
            }
            _ => {
                schemas.insert(name, schema);
            }
        }
    }
    Ok(())
}

fn hoist_in(
    value: &mut Value,
    hoisted: &mut BTreeMap<String, Value>,
    hoist_here: bool,
) -> Result<(), String> {
    match value {
        Value::Object(map) if hoist_here && map.contains_key(OPEN_ENUM) => {
            let name = map
                .get("title")
                .and_then(Value::as_str)
                .ok_or("an inline `x-extensible-enum` needs a `title` to be named by")?
                .to_string();
            let mut schema = std::mem::take(map);
            // What describes this use of the enum stays with the property.
            let description = schema.remove("description");
            let read_only = schema.remove("readOnly");
            schema.remove("x-immutable");
            match hoisted.get(&name) {
                Some(existing) if *existing != Value::Object(schema.clone()) => {
                    return Err(format!(
                        "open enums titled `{name}` differ; give them different titles"
                    ));
                }
                _ => {
                    hoisted.insert(name.clone(), Value::Object(schema));
                }
            }
            let reference = Value::String(format!("#/components/schemas/{name}"));
            let mut use_site = Map::new();
            if description.is_some() || read_only.is_some() {
                // `$ref` siblings are ignored in OpenAPI 3.0; `allOf` keeps them.
                let mut one = Map::new();
                one.insert("$ref".into(), reference);
                use_site.insert("allOf".into(), Value::Array(vec![Value::Object(one)]));
                if let Some(description) = description {
                    use_site.insert("description".into(), description);
                }
                if let Some(read_only) = read_only {
                    use_site.insert("readOnly".into(), read_only);
                }
            } else {
                use_site.insert("$ref".into(), reference);
            }
            *map = use_site;
            Ok(())
        }
        Value::Object(map) => {
            for child in map.values_mut() {
                hoist_in(child, hoisted, true)?;
            }
            Ok(())
        }
        Value::Array(items) => {
            for child in items {
                hoist_in(child, hoisted, true)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The component schemas that operations' `part` (`requestBody` or `responses`) can contain,
/// directly or through references.
fn schemas_under(doc: &Value, part: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut pending = Vec::new();
    for item in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(Map::values)
    {
        for method in HTTP_METHODS {
            if let Some(part) = item.get(*method).and_then(|op| op.get(part)) {
                references(part, &mut pending);
            }
        }
    }
    let schemas = doc.pointer("/components/schemas");
    while let Some(name) = pending.pop() {
        if found.insert(name.clone())
            && let Some(schema) = schemas.and_then(|s| s.get(&name))
        {
            references(schema, &mut pending);
        }
    }
    found
}

/// Pushes the schema names `value` refers to.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child) {
                    ("$ref", Value::String(target)) => {
                        if let Some(name) = target.strip_prefix("#/components/schemas/") {
                            out.push(name.to_string());
                        }
                    }
                    _ => references(child, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| references(item, out)),
        _ => {}
    }
}

/// Constraint keywords that are dropped from every schema.
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
];

/// Where a schema travels, which decides what happens to its readOnly properties.
#[derive(Clone, Copy, PartialEq)]
enum Use {
    /// Only in requests: readOnly properties are dropped.
    Requests,
    /// In requests and responses: readOnly properties stay, but are never required.
    Both,
    /// Only in responses: readOnly properties stay as written.
    Responses,
}

/// The component schemas that are readOnly as a whole: a property referring to one is readOnly.
fn read_only_schemas(doc: &Value) -> BTreeSet<String> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(_, schema)| is_read_only(schema))
        .map(|(name, _)| name.clone())
        .collect()
}

fn is_read_only(schema: &Value) -> bool {
    schema.get("readOnly") == Some(&Value::Bool(true))
}

/// The name of the component schema `property` is (a `$ref`, or an `allOf` of one `$ref`).
fn referred_schema(property: &Value) -> Option<&str> {
    let reference = match property.get("allOf").and_then(Value::as_array) {
        Some(all) if all.len() == 1 => &all[0],
        _ => property,
    };
    reference
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|target| target.strip_prefix("#/components/schemas/"))
}

/// Applies the decoding rules to a schema and the schemas inside it. `read_only_schemas`: the
/// component schemas that are readOnly as a whole.
fn relax(schema: &mut Value, use_: Use, read_only_schemas: &BTreeSet<String>) {
    let Value::Object(map) = schema else {
        return;
    };
    if use_ != Use::Responses {
        let read_only: BTreeSet<String> = map
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(_, property)| {
                is_read_only(property)
                    || referred_schema(property)
                        .is_some_and(|name| read_only_schemas.contains(name))
            })
            .map(|(name, _)| name.clone())
            .collect();
        if let Some(required) = map.get_mut("required").and_then(Value::as_array_mut) {
            required.retain(|r| r.as_str().is_none_or(|name| !read_only.contains(name)));
        }
        if use_ == Use::Requests
            && let Some(properties) = map.get_mut("properties").and_then(Value::as_object_mut)
        {
            properties.retain(|name, _| !read_only.contains(name));
        }
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
    // Only constraint keywords are dropped; a property that happens to be *named* like one (a
    // field called `pattern`) lives under `properties` and is kept.
    for keyword in DROPPED_KEYWORDS {
        map.remove(*keyword);
    }
    if let Some(Value::Array(variants)) = map.get("oneOf")
        && variants.len() == 1
    {
        let only = variants[0].clone();
        map.remove("oneOf");
        map.remove("discriminator");
        map.insert("allOf".into(), Value::Array(vec![only]));
    }
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" => {
                for property in child.as_object_mut().into_iter().flatten() {
                    relax(property.1, use_, read_only_schemas);
                }
            }
            "items" | "additionalProperties" | "not" => relax(child, use_, read_only_schemas),
            "allOf" | "oneOf" | "anyOf" => {
                for variant in child.as_array_mut().into_iter().flatten() {
                    relax(variant, use_, read_only_schemas);
                }
            }
            _ => {}
        }
    }
}

/// Relaxes the schemas written inline in paths (parameters, bodies, responses); whichever way
/// they travel, readOnly properties are not required.
fn relax_inline(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "schema" {
                    relax(child, Use::Both, &BTreeSet::new());
                } else {
                    relax_inline(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(relax_inline),
        _ => {}
    }
}
