//! kube-rs (`kube` 5 with k8s-openapi 0.29) against kapi: `Api::patch` with
//! `Patch::Apply` (server-side apply, conflicts, force) and `Patch::Merge`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

use crate::harness::Server;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn client(server: &Server) -> Client {
    let kc = Kubeconfig::read_from(server.kubeconfig()).expect("read kubeconfig");
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("kube config");
    Client::try_from(config).expect("kube client")
}

#[test]
fn kube_rs_patch_apply_and_merge() {
    let server = Server::start_in_process();
    runtime().block_on(async {
        let client = client(&server).await;
        let cms: Api<ConfigMap> = Api::namespaced(client, "default");

        let applied = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-rs"},
            "data": {"a": "1"}
        });
        let ssa = PatchParams::apply("kube-rs-test");
        let cm = cms
            .patch("kube-rs", &ssa, &Patch::Apply(&applied))
            .await
            .expect("create by apply");
        assert_eq!(cm.data, Some(BTreeMap::from([("a".into(), "1".into())])));
        let mf = cm.metadata.managed_fields.clone().unwrap_or_default();
        assert_eq!(mf.len(), 1, "{mf:?}");
        assert_eq!(mf[0].manager.as_deref(), Some("kube-rs-test"));
        assert_eq!(mf[0].operation.as_deref(), Some("Apply"));

        // A merge patch by another manager takes `a`.
        let mp = PatchParams {
            field_manager: Some("merger".into()),
            ..Default::default()
        };
        let cm = cms
            .patch(
                "kube-rs",
                &mp,
                &Patch::Merge(json!({"data": {"a": "2", "b": "x"}})),
            )
            .await
            .expect("merge patch");
        assert_eq!(
            cm.data,
            Some(BTreeMap::from([
                ("a".into(), "2".into()),
                ("b".into(), "x".into())
            ]))
        );

        // Applying `a` again now conflicts with the merger...
        let applied3 = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-rs"},
            "data": {"a": "3"}
        });
        let err = cms
            .patch("kube-rs", &ssa, &Patch::Apply(&applied3))
            .await
            .expect_err("conflict");
        match err {
            kube::Error::Api(s) => {
                assert_eq!(s.code, 409, "{s:?}");
                assert!(s.message.contains("conflict with \"merger\""), "{s:?}");
            }
            other => panic!("expected an API error, got {other:?}"),
        }
        // ...until forced.
        let cm = cms
            .patch("kube-rs", &ssa.clone().force(), &Patch::Apply(&applied3))
            .await
            .expect("forced apply");
        assert_eq!(
            cm.data
                .as_ref()
                .and_then(|d| d.get("a"))
                .map(String::as_str),
            Some("3")
        );
    });
}
