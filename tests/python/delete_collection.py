"""deletecollection with the `kubernetes` PyPI client: Secrets by label, then
every ConfigMap of the namespace (no selector, no body options).

Usage: python3 delete_collection.py KUBECONFIG
Prints what each call answered; exits 1 if an answer is not the list of the
objects it selected.
"""

import sys

from kubernetes import client, config

NS = "default"


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def names(answer):
    # The client decodes the answer as a V1Status (its declared type); the
    # list's items are still there in the raw answer it keeps.
    items = answer.get("items") if isinstance(answer, dict) else None
    if items is None:
        fail(f"answer is not a list: {answer!r}")
    return ",".join(sorted(i["metadata"]["name"] for i in items))


def main():
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()
    answer = v1.delete_collection_namespaced_secret(
        NS, label_selector="app=x", _preload_content=False
    )
    import json

    print(f"deleted secrets: {names(json.loads(answer.data))}", flush=True)
    answer = v1.delete_collection_namespaced_config_map(NS, _preload_content=False)
    print(f"deleted configmaps: {names(json.loads(answer.data))}", flush=True)
    left = [s.metadata.name for s in v1.list_namespaced_secret(NS, label_selector="app=x").items]
    if left:
        fail(f"secrets left: {left}")


if __name__ == "__main__":
    main()
