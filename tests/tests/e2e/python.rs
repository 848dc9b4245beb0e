//! The `kubernetes` PyPI client against kapi: the scripts live in
//! `tests/python/` and take the kubeconfig path as their first argument.

use crate::harness::{Server, python_client_available, run_python};

fn run_script(script: &str) {
    if !python_client_available() {
        return;
    }
    let server = Server::start();
    let out = run_python(&server, script, &[]);
    let stdout = out.ok();
    eprintln!("{stdout}");
    assert!(
        stdout.lines().any(|l| l.trim() == "OK"),
        "{script} did not finish:\n{stdout}\n{}",
        out.stderr
    );
}

#[test]
pub(crate) fn python_configmap_crud_and_conflict() {
    run_script("configmap_crud.py");
}

#[test]
pub(crate) fn python_watch() {
    run_script("watch_configmaps.py");
}
