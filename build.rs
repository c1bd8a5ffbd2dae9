//! Generates one progenitor client per OpenAPI file in `spec/`, into `OUT_DIR`.
//!
//! Each spec is normalized in memory first (`build/spec.rs`), then handed to progenitor with the
//! settings below; the generated code is pretty-printed and written as it came. Nothing here reads
//! or changes the generated code: what the generator cannot be told is done to its input or, at
//! run time, by the hooks in `src/transport/`.

use std::path::{Path, PathBuf};

use progenitor::{GenerationSettings, Generator, HooksMode, InterfaceStyle, TagStyle, TypePatch};

#[path = "build/spec.rs"]
mod spec;

/// How one spec is generated.
struct Api {
    /// The file in `spec/`, without `.yaml`; the output is `OUT_DIR/<stem with _>.rs`.
    stem: &'static str,
    /// Schemas replaced by hand-written types: `(schema, Rust type)`. Each has a reason below.
    replacements: &'static [(&'static str, &'static str)],
    /// Generated types given the name users know: `(schema, Rust name)`.
    renames: &'static [(&'static str, &'static str)],
    /// Derives added to generated types: `(schema, derives)`.
    derives: &'static [(&'static str, &'static [&'static str])],
}

/// What a UUID id can do beyond typify's defaults: it is a small value, compared and hashed.
const ID_DERIVES: &[&str] = &["Copy", "Eq", "Hash", "PartialOrd", "Ord"];

const APIS: &[Api] = &[
    Api {
        stem: "golem-plugins",
        replacements: &[
            // A tagged union open to plugin `type`s this crate does not know yet; typify's
            // `oneOf` is closed and ignores the discriminator.
            ("PluginSpecDto", "crate::golem::PluginSpec"),
        ],
        renames: &[
            ("PluginRegistrationDto", "Plugin"),
            ("PluginRegistrationCreation", "NewPlugin"),
            ("Page_PluginRegistrationDto", "PluginPage"),
            ("OplogProcessorPluginSpec", "OplogProcessor"),
            ("EnvironmentPluginGrantCreation", "NewPluginGrant"),
            ("EnvironmentPluginGrant", "PluginGrant"),
            ("EnvironmentPluginGrantWithDetails", "PluginGrantDetails"),
            ("Page_EnvironmentPluginGrantWithDetails", "PluginGrantPage"),
        ],
        derives: &[
            ("AccountId", ID_DERIVES),
            ("PluginId", ID_DERIVES),
            ("ComponentId", ID_DERIVES),
            ("EnvironmentId", ID_DERIVES),
            ("PluginGrantId", ID_DERIVES),
            ("OplogProcessorPluginSpec", &["Copy", "Eq"]),
        ],
    },
    Api {
        stem: "confluent-ccpm-v1",
        replacements: &[
            // Open enums (`x-extensible-enum`): the server may add values, which typify's closed
            // enums would refuse; these keep unknown values as `Other(String)`.
            ("Cloud", "crate::confluent::Cloud"),
            ("ContentFormat", "crate::confluent::ContentFormat"),
            ("ConnectorType", "crate::confluent::ConnectorType"),
            ("Phase", "crate::confluent::Phase"),
            ("UploadLocation", "crate::confluent::UploadLocation"),
        ],
        renames: &[
            ("CustomConnectPlugin", "Plugin"),
            ("CustomConnectPluginSpec", "PluginSpec"),
            ("CustomConnectPluginCreate", "NewPlugin"),
            ("CustomConnectPluginUpdate", "PluginUpdate"),
            ("CustomConnectPluginSpecUpdate", "PluginSpecUpdate"),
            ("CustomConnectPluginList", "PluginPage"),
            ("CustomConnectPluginVersion", "PluginVersion"),
            ("CustomConnectPluginVersionSpec", "PluginVersionSpec"),
            ("CustomConnectPluginVersionCreate", "NewPluginVersion"),
            ("CustomConnectPluginVersionStatus", "VersionStatus"),
            ("CustomConnectPluginVersionList", "PluginVersionList"),
            ("UploadSourcePresignedUrl", "UploadSource"),
            ("PresignedUrl", "PresignedUpload"),
            ("PresignedUrlCreate", "NewPresignedUpload"),
            ("EnvScopedObjectReference", "EnvironmentRef"),
        ],
        derives: &[],
    },
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/spec.rs");
    println!("cargo:rerun-if-changed=spec");
    let Some(out_dir) = std::env::var_os("OUT_DIR").map(PathBuf::from) else {
        fail("OUT_DIR is not set; build.rs must run under cargo");
    };
    for api in APIS {
        let path = Path::new("spec").join(format!("{}.yaml", api.stem));
        println!("cargo:rerun-if-changed={}", path.display());
        if let Err(problem) = generate(api, &path, &out_dir) {
            fail(&format!("{}: {problem}", path.display()));
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

fn generate(api: &Api, path: &Path, out_dir: &Path) -> Result<(), String> {
    let doc = spec::load(path)?;
    for open_enum in spec::open_enums(&doc) {
        if !api
            .replacements
            .iter()
            .any(|(schema, _)| *schema == open_enum)
        {
            return Err(format!(
                "open enum `{open_enum}` needs a hand-written replacement in build.rs"
            ));
        }
    }

    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Positional)
        .with_tag(TagStyle::Merged)
        .with_hooks(HooksMode::Expected)
        .with_inner_type(quote::quote!(crate::transport::Transport))
        .with_derive("PartialEq")
        .with_map_type("::std::collections::BTreeMap");
    for (schema, rust_type) in api.replacements {
        settings.with_replacement(schema, rust_type, std::iter::empty());
    }
    // Object types may gain fields as the APIs grow: `#[non_exhaustive]` keeps that from being a
    // breaking change for users (they build request types with the constructors in src/).
    let objects = spec::object_schemas(&doc);
    for schema in spec::schema_names(&doc) {
        if api
            .replacements
            .iter()
            .any(|(replaced, _)| *replaced == schema)
        {
            continue;
        }
        let mut patch = TypePatch::default();
        if let Some((_, name)) = api.renames.iter().find(|(s, _)| *s == schema) {
            patch.with_rename(name);
        }
        for (_, derives) in api.derives.iter().filter(|(s, _)| *s == schema) {
            for derive in *derives {
                patch.with_derive(derive);
            }
        }
        if objects.contains(&schema) {
            patch.with_attr("#[non_exhaustive]");
        }
        settings.with_patch(type_name(&schema), &patch);
    }

    let spec: openapiv3::OpenAPI =
        serde_json::from_value(doc).map_err(|e| format!("not an OpenAPI 3.0 document: {e}"))?;
    // progenitor reports some unsupported constructs by panicking; make that a build error.
    let tokens = std::panic::catch_unwind(|| Generator::new(&settings).generate_tokens(&spec))
        .map_err(|panic| {
            let reason = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_default();
            format!("progenitor panicked: {reason}")
        })?
        .map_err(|e| format!("progenitor: {e}"))?;
    let file = syn::parse2(tokens).map_err(|e| format!("generated code: {e}"))?;
    let out = out_dir.join(format!("{}.rs", api.stem.replace('-', "_")));
    std::fs::write(&out, prettyplease::unparse(&file))
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// The name typify gives the type of schema `name`: its words in Pascal case
/// (`Page_PluginRegistrationDto` is `PagePluginRegistrationDto`).
fn type_name(name: &str) -> String {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .flat_map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
        })
        .collect()
}
