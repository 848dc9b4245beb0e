//! The `kubernetes` PyPI client against kapi: the scripts live in
//! `tests/python/` and take the kubeconfig path as their first argument.

use crate::harness::{Server, run_python_checks};

#[test]
pub(crate) fn python_configmap_crud_and_conflict() {
    run_python_checks(&Server::start(), "configmap_crud.py");
}

#[test]
pub(crate) fn python_watch() {
    run_python_checks(&Server::start(), "watch_configmaps.py");
}
