"""patch_namespaced_config_map with the `kubernetes` PyPI client against kapi:
a dict body (sent as a strategic merge patch by the client) and a list body
(a JSON patch), then a patch that cannot apply.

Usage: python3 patch_configmap.py KUBECONFIG
Exits 0 on success; prints what failed and exits 1 otherwise.
"""

import sys

from kubernetes import client, config
from kubernetes.client.rest import ApiException

NS = "default"
NAME = "py-patch"


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def main():
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()
    v1.create_namespaced_config_map(
        NS,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name=NAME), data={"a": "1", "b": "2"}),
    )

    out = v1.patch_namespaced_config_map(
        NAME, NS, {"data": {"a": None, "c": "3"}, "metadata": {"labels": {"p": "y"}}}
    )
    check(out.data == {"b": "2", "c": "3"}, f"dict patch: data {out.data}")
    check(out.metadata.labels == {"p": "y"}, f"dict patch: labels {out.metadata.labels}")

    out = v1.patch_namespaced_config_map(
        NAME, NS, [{"op": "replace", "path": "/data/b", "value": "two"}]
    )
    check(out.data == {"b": "two", "c": "3"}, f"json patch: data {out.data}")

    try:
        v1.patch_namespaced_config_map(
            NAME, NS, [{"op": "test", "path": "/data/b", "value": "nope"}]
        )
        fail("a failing JSON patch test op succeeded")
    except ApiException as e:
        check(e.status == 422, f"failing test op: expected 422, got {e.status}: {e.body}")

    got = v1.read_namespaced_config_map(NAME, NS)
    check(got.data == {"b": "two", "c": "3"}, f"read back: {got.data}")
    print("OK", flush=True)


if __name__ == "__main__":
    try:
        main()
    except ApiException as e:
        fail(f"unexpected API error {e.status}: {e.body}")
