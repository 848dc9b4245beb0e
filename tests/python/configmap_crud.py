"""ConfigMap CRUD with the `kubernetes` PyPI client against kapi.

Usage: python3 configmap_crud.py KUBECONFIG
Exits 0 on success; prints what failed and exits 1 otherwise.
"""

import sys

from kubernetes import client, config
from kubernetes.client.rest import ApiException

NS = "default"
NAME = "py-crud"


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def expect_api_error(status, fn, what):
    try:
        fn()
    except ApiException as e:
        check(e.status == status, f"{what}: expected HTTP {status}, got {e.status}: {e.body}")
        return e
    fail(f"{what}: expected ApiException {status}, got success")


def main():
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()

    code = client.VersionApi().get_code()
    print(f"server version: {code.git_version} (major {code.major}, minor {code.minor})")
    check(code.major == "1", f"version major: {code}")
    check(code.git_version.startswith("v1."), f"version gitVersion: {code}")

    body = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=NAME, labels={"app": "py"}),
        data={"k": "v1"},
    )
    created = v1.create_namespaced_config_map(NS, body)
    check(created.metadata.name == NAME, f"create returned {created.metadata}")
    check(bool(created.metadata.uid), "create: no uid")
    check(bool(created.metadata.resource_version), "create: no resourceVersion")
    check(created.metadata.creation_timestamp is not None, "create: no creationTimestamp")
    check(created.data == {"k": "v1"}, f"create: data {created.data}")
    print(f"created {NAME} rv={created.metadata.resource_version} uid={created.metadata.uid}")

    expect_api_error(409, lambda: v1.create_namespaced_config_map(NS, body), "second create")

    read = v1.read_namespaced_config_map(NAME, NS)
    check(read.metadata.uid == created.metadata.uid, "read: uid differs")
    check(read.data == {"k": "v1"}, f"read: data {read.data}")

    listed = v1.list_namespaced_config_map(NS)
    check(bool(listed.metadata.resource_version), "list: no metadata.resourceVersion")
    names = [i.metadata.name for i in listed.items]
    check(NAME in names, f"list: {NAME} not in {names}")

    selected = v1.list_namespaced_config_map(NS, label_selector="app=py")
    check([i.metadata.name for i in selected.items] == [NAME],
          f"list app=py: {[i.metadata.name for i in selected.items]}")

    stale_rv = read.metadata.resource_version
    read.data = {"k": "v2"}
    replaced = v1.replace_namespaced_config_map(NAME, NS, read)
    check(replaced.data == {"k": "v2"}, f"replace: data {replaced.data}")
    check(replaced.metadata.resource_version != stale_rv, "replace: resourceVersion unchanged")
    check(replaced.metadata.uid == created.metadata.uid, "replace: uid changed")
    print(f"replaced, rv={replaced.metadata.resource_version}")

    stale = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=NAME, resource_version=stale_rv),
        data={"k": "stale"},
    )
    e = expect_api_error(
        409, lambda: v1.replace_namespaced_config_map(NAME, NS, stale), "stale replace"
    )
    check("Conflict" in e.body, f"stale replace body: {e.body}")
    check(v1.read_namespaced_config_map(NAME, NS).data == {"k": "v2"},
          "stale replace changed the object")

    v1.delete_namespaced_config_map(NAME, NS)
    expect_api_error(404, lambda: v1.read_namespaced_config_map(NAME, NS), "read after delete")
    expect_api_error(404, lambda: v1.delete_namespaced_config_map(NAME, NS), "second delete")

    print("OK")


if __name__ == "__main__":
    main()
