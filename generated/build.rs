//! Generates the API types from the schema files: `api-defs/` at the top of the
//! workspace, or the directory named by `KAPI_API_DEFS`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=KAPI_API_DEFS");
    let dir = match std::env::var_os("KAPI_API_DEFS") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("api-defs"),
    };
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed={}", dir.display());
    match kapi_codegen::generate_into(&dir, &out) {
        Ok(inputs) => {
            for f in inputs {
                println!("cargo:rerun-if-changed={}", f.display());
            }
        }
        Err(e) => {
            // One line naming the file and the schema location, no backtrace.
            println!("cargo::error={e}");
        }
    }
}
