//! kapi's build-time generator: the schema files in `api-defs/` → a
//! Kubernetes-aware model → Rust code.
//!
//! Three stages, each a module: [`parse`] reads the OpenAPI 3.0 documents,
//! [`model`] turns them into groups, versions, kinds, resources and types with
//! Kubernetes' schema extensions, and [`emit`] writes formatted Rust. [`openapi`]
//! prepares the schemas the server publishes at `/openapi/v3`; [`protobuf`]
//! emits the protobuf encoding of the types with field numbers.

pub mod emit;
pub mod error;
pub mod model;
pub mod openapi;
pub mod parse;
pub mod protobuf;

use std::path::Path;

pub use emit::Output;
pub use error::Error;
pub use model::Api;

/// Reads every schema file under `dir` into the model.
pub fn load(dir: &Path) -> Result<Api, Error> {
    let mut files = Vec::new();
    for path in parse::find_files(dir)? {
        files.push(parse::read_file(&path)?);
    }
    let api = model::build(&files)?;
    protobuf::check(&api)?;
    Ok(api)
}

/// Generates the Rust code for every schema file under `dir`.
pub fn generate(dir: &Path) -> Result<Output, Error> {
    let api = load(dir)?;
    Ok(generate_from_model(&api))
}

/// Generates the Rust code for a model.
pub fn generate_from_model(api: &Api) -> Output {
    let schemas = openapi::schemas_by_group_version(api);
    emit::emit(api, &schemas)
}

/// Generates into `out_dir` (what `build.rs` calls); returns the files it read.
pub fn generate_into(dir: &Path, out_dir: &Path) -> Result<Vec<std::path::PathBuf>, Error> {
    let inputs = parse::find_files(dir)?;
    let output = generate(dir)?;
    for (name, text) in &output.files {
        let path = out_dir.join(name);
        // Rewrite only what changed, so that unchanged output keeps its timestamp.
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text)
                .map_err(|e| Error::new(path.display().to_string(), None, e.to_string()))?;
        }
    }
    Ok(inputs)
}
