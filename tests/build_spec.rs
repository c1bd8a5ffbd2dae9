//! build.rs's spec normalizer: the vendored specs pass, broken specs fail with the problem named.

#[path = "../build/spec.rs"]
mod spec;

use serde_json::{Value, json};

fn vendored(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("spec")
        .join(name);
    spec::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("operationId").is_some() {
                ops.push((method.clone(), path.clone(), op.clone()));
            }
        }
    }
    ops
}

#[test]
fn vendored_specs_normalize_to_one_success_response_per_operation() {
    let golem = vendored("golem-plugins.yaml");
    let confluent = vendored("confluent-ccpm-v1.yaml");
    let mut ids = Vec::new();
    for doc in [&golem, &confluent] {
        for (method, path, op) in operations(doc) {
            let responses = op["responses"].as_object().unwrap();
            let codes: Vec<&String> = responses.keys().collect();
            assert_eq!(codes, ["2XX"], "{method} {path}");
            ids.push(op["operationId"].as_str().unwrap().to_string());
        }
        assert!(doc.pointer("/components/responses").is_none());
    }
    ids.sort();
    assert_eq!(
        ids,
        [
            "activate_plugin",
            "createCcpmV1CustomConnectPlugin",
            "createCcpmV1CustomConnectPluginVersion",
            "createCcpmV1PresignedUrl",
            "create_environment_plugin_grant",
            "create_plugin",
            "deactivate_plugin",
            "deleteCcpmV1CustomConnectPlugin",
            "deleteCcpmV1CustomConnectPluginVersion",
            "delete_environment_plugin_grant",
            "delete_plugin",
            "getCcpmV1CustomConnectPlugin",
            "getCcpmV1CustomConnectPluginVersion",
            "get_environment_plugin_grant",
            "get_plugin_by_id",
            "listCcpmV1CustomConnectPluginVersions",
            "listCcpmV1CustomConnectPlugins",
            "list_account_plugins",
            "list_environment_environment_plugin_grants",
            "updateCcpmV1CustomConnectPlugin",
        ]
    );
}

#[test]
fn vendored_specs_describe_the_error_responses_before_normalizing() {
    // The spec files themselves keep every documented error response.
    for (name, expected) in [
        (
            "golem-plugins.yaml",
            vec!["400", "401", "403", "404", "409", "422", "500"],
        ),
        (
            "confluent-ccpm-v1.yaml",
            vec!["400", "401", "403", "429", "500"],
        ),
    ] {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("spec")
            .join(name);
        let text = std::fs::read_to_string(path).unwrap();
        let raw = spec::yaml_to_json(serde_norway::from_str(&text).unwrap()).unwrap();
        for (method, path, op) in operations(&raw) {
            let responses = op["responses"].as_object().unwrap();
            for code in &expected {
                assert!(
                    responses.contains_key(*code),
                    "{name} {method} {path} lacks {code}"
                );
            }
        }
    }
}

#[test]
fn read_only_fields_leave_required_lists_and_constraints_are_dropped() {
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/w": {"post": {
            "operationId": "make",
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/W"}}}},
            "responses": {
                "201": {"description": "ok", "headers": {"X": {"schema": {"type": "string"}}},
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/W"}}}},
                "400": {"description": "bad", "content": {"application/json": {"schema": {"type": "object"}}}},
                "404": {"description": "gone"},
                "default": {"description": "other"}
            }
        }}},
        "components": {"schemas": {"W": {
            "type": "object",
            "additionalProperties": false,
            "required": ["id", "name"],
            "properties": {
                "id": {"type": "string", "readOnly": true},
                "name": {"type": "string", "maxLength": 10, "pattern": "^[a-z]+$"},
                "state": {"type": "string", "enum": ["on", "off"]},
                "pattern": {"type": "string"}
            }
        }}}
    });
    spec::normalize(&mut doc).unwrap();
    let w = &doc["components"]["schemas"]["W"];
    assert_eq!(w["required"], json!(["name"]));
    assert!(w.get("additionalProperties").is_none());
    assert!(w["properties"]["name"].get("maxLength").is_none());
    assert!(w["properties"]["name"].get("pattern").is_none());
    assert!(w["properties"]["state"].get("enum").is_none());
    assert!(
        w["properties"].get("pattern").is_some(),
        "a property named like a keyword stays"
    );
    let responses = doc["paths"]["/w"]["post"]["responses"].as_object().unwrap();
    assert_eq!(responses.keys().collect::<Vec<_>>(), ["2XX"]);
    assert!(responses["2XX"].get("headers").is_none());
}

#[test]
fn broken_specs_fail_with_the_problem_named() {
    let base =
        |paths: &str| format!("openapi: 3.0.3\ninfo: {{title: t, version: '1'}}\npaths:\n{paths}");
    let ok_op =
        "    get:\n      operationId: one\n      responses:\n        '200': {description: ok}\n";
    let cases = [
        (
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\npaths: {}\n".to_string(),
            "3.1.0 is not supported",
        ),
        (
            "info: {title: t}\npaths: {}\n".to_string(),
            "missing `openapi`",
        ),
        (
            "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n".to_string(),
            "missing `paths`",
        ),
        ("openapi: [unclosed\n".to_string(), "invalid YAML"),
        (
            base(&format!("  /a:\n{ok_op}  /b:\n{ok_op}")),
            "operationId `one` is used twice",
        ),
        (
            base(
                "  /a:\n    get:\n      operationId: nothing\n      responses:\n        '404': {description: no}\n",
            ),
            "get /a (nothing): needs exactly one 2xx response",
        ),
        (
            base(
                "  /a:\n    get:\n      operationId: two\n      responses:\n        '200': {description: a}\n        '204': {description: b}\n",
            ),
            "needs exactly one 2xx response",
        ),
    ];
    for (text, expected) in cases {
        let err = spec::parse(&text).unwrap_err();
        assert!(err.contains(expected), "expected `{expected}` in `{err}`");
    }
}

#[test]
fn missing_operation_ids_are_derived_from_method_and_path() {
    let text = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /v1/things/{id}:\n    delete:\n      responses:\n        '204': {description: gone}\n";
    let doc = spec::parse(text).unwrap();
    assert_eq!(
        doc["paths"]["/v1/things/{id}"]["delete"]["operationId"],
        "delete_v1_things_id"
    );
}

/// A spec with one request-only, one response-only and one shared schema.
fn read_only_spec() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/w": {"post": {
            "operationId": "make",
            "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/New"}}}},
            "responses": {"201": {"description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Made"}}}}}
        }}},
        "components": {"schemas": {
            "New": {"type": "object", "required": ["id", "shared"], "properties": {
                "id": {"type": "string", "readOnly": true},
                "meta": {"$ref": "#/components/schemas/Meta"},
                "shared": {"$ref": "#/components/schemas/Shared"}
            }},
            "Made": {"type": "object", "required": ["id", "shared"], "properties": {
                "id": {"type": "string", "readOnly": true},
                "meta": {"$ref": "#/components/schemas/Meta"},
                "shared": {"$ref": "#/components/schemas/Shared"}
            }},
            "Shared": {"type": "object", "required": ["id", "link"], "properties": {
                "id": {"type": "string"},
                "link": {"type": "string", "readOnly": true}
            }},
            "Meta": {"type": "object", "readOnly": true, "properties": {"at": {"type": "string"}}}
        }}
    })
}

#[test]
fn read_only_properties_are_never_sent_and_still_received() {
    let mut doc = read_only_spec();
    spec::normalize(&mut doc).unwrap();
    let schemas = &doc["components"]["schemas"];
    // Only requests carry `New`: its readOnly properties (also one referring to a readOnly
    // schema) are gone.
    assert_eq!(schemas["New"]["required"], json!(["shared"]));
    let new: Vec<&String> = schemas["New"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(new, ["shared"]);
    // Only responses carry `Made`: it is decoded as written.
    assert_eq!(schemas["Made"]["required"], json!(["id", "shared"]));
    assert!(schemas["Made"]["properties"].get("meta").is_some());
    // Both carry `Shared`: the readOnly property stays, but is not required.
    assert_eq!(schemas["Shared"]["required"], json!(["id"]));
    assert!(schemas["Shared"]["properties"].get("link").is_some());
    let mut objects = spec::object_schemas(&doc);
    objects.sort();
    assert_eq!(objects, ["Made", "Meta", "New", "Shared"]);
    assert_eq!(spec::schema_names(&doc).len(), 4);
}

#[test]
fn inline_open_enums_become_named_schemas_by_title() {
    let open = |description: &str| json!({"type": "string", "x-extensible-enum": ["A", "B"], "title": "Letter", "description": description});
    let mut doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/w": {"get": {
            "operationId": "read",
            "responses": {"200": {"description": "ok",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/W"}}}}}
        }}},
        "components": {"schemas": {"W": {"type": "object", "properties": {
            "first": open("the first"),
            "second": open("the second"),
            "plain": {"type": "string", "x-extensible-enum": ["X"], "title": "Plain"},
            "one": {"oneOf": [{"$ref": "#/components/schemas/V"}],
                    "discriminator": {"propertyName": "kind"}}
        }}, "V": {"type": "object", "properties": {"kind": {"type": "string"}}}}}
    });
    spec::normalize(&mut doc).unwrap();
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["Letter"]["x-extensible-enum"], json!(["A", "B"]));
    let first = &schemas["W"]["properties"]["first"];
    assert_eq!(
        first["allOf"],
        json!([{"$ref": "#/components/schemas/Letter"}])
    );
    assert_eq!(first["description"], "the first");
    assert_eq!(
        schemas["W"]["properties"]["plain"],
        json!({"$ref": "#/components/schemas/Plain"})
    );
    let mut open_enums = spec::open_enums(&doc);
    open_enums.sort();
    assert_eq!(open_enums, ["Letter", "Plain"]);
    // A `oneOf` of one schema is that schema.
    let one = &schemas["W"]["properties"]["one"];
    assert_eq!(one["allOf"], json!([{"$ref": "#/components/schemas/V"}]));
    assert!(one.get("oneOf").is_none() && one.get("discriminator").is_none());
}

#[test]
fn open_enums_need_a_title_and_one_meaning_per_title() {
    let with = |properties: Value| {
        json!({
            "openapi": "3.0.3",
            "info": {"title": "t", "version": "1"},
            "paths": {},
            "components": {"schemas": {"W": {"type": "object", "properties": properties}}}
        })
    };
    let mut untitled = with(json!({"a": {"type": "string", "x-extensible-enum": ["A"]}}));
    let err = spec::normalize(&mut untitled).unwrap_err();
    assert!(err.contains("needs a `title`"), "{err}");
    let mut clash = with(json!({
        "a": {"type": "string", "x-extensible-enum": ["A"], "title": "L"},
        "b": {"type": "string", "x-extensible-enum": ["B"], "title": "L"}
    }));
    let err = spec::normalize(&mut clash).unwrap_err();
    assert!(err.contains("titled `L` differ"), "{err}");
}

#[test]
fn the_vendored_open_enums_are_named() {
    let mut names = spec::open_enums(&vendored("confluent-ccpm-v1.yaml"));
    names.sort();
    assert_eq!(
        names,
        [
            "Cloud",
            "ConnectorType",
            "ContentFormat",
            "Phase",
            "UploadLocation"
        ]
    );
    assert!(spec::open_enums(&vendored("golem-plugins.yaml")).is_empty());
}

#[test]
fn the_golem_grant_operations_describe_the_wire_format() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/golem-plugins.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let raw = spec::yaml_to_json(serde_norway::from_str(&text).unwrap()).unwrap();
    let json_media = "application/json; charset=utf-8";
    let mut seen = Vec::new();
    for (method, path, op) in operations(&raw) {
        let id = op["operationId"].as_str().unwrap().to_string();
        let success: Vec<&String> = op["responses"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|code| code.starts_with('2'))
            .collect();
        match id.as_str() {
            "delete_environment_plugin_grant" => {
                assert_eq!(
                    (method.as_str(), path.as_str()),
                    (
                        "delete",
                        "/v1/environment-plugins/{environment_plugin_grant_id}"
                    )
                );
                assert_eq!(success, ["204"]);
                assert!(
                    op["responses"]["204"].get("content").is_none(),
                    "204 has no body"
                );
            }
            "get_environment_plugin_grant" => {
                assert_eq!(
                    (method.as_str(), path.as_str()),
                    (
                        "get",
                        "/v1/environment-plugins/{environment_plugin_grant_id}"
                    )
                );
                assert_eq!(success, ["200"]);
            }
            "list_environment_environment_plugin_grants" | "create_environment_plugin_grant" => {
                assert_eq!(path, "/v1/envs/{environment_id}/plugins");
                assert_eq!(success, ["200"]);
                if method == "post" {
                    assert!(op["requestBody"]["content"].get(json_media).is_some());
                }
            }
            _ => continue,
        }
        assert!(
            op["responses"]["200"].is_null()
                || op["responses"]["200"]["content"].get(json_media).is_some(),
            "{id}"
        );
        seen.push(id);
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "create_environment_plugin_grant",
            "delete_environment_plugin_grant",
            "get_environment_plugin_grant",
            "list_environment_environment_plugin_grants"
        ]
    );
    // Path ids are UUIDs, given as named id schemas.
    for (parameter, schema) in [
        ("EnvironmentId", "EnvironmentId"),
        ("PluginGrantId", "PluginGrantId"),
    ] {
        let reference = &raw["components"]["parameters"][parameter]["schema"]["$ref"];
        assert_eq!(reference, &json!(format!("#/components/schemas/{schema}")));
        assert_eq!(raw["components"]["schemas"][schema]["format"], "uuid");
    }
}
