"""Field selectors with the `kubernetes` PyPI client against kapi.

Usage: python3 field_selector.py KUBECONFIG
Expects the secrets k1 (type example.com/tls) and k2 (Opaque) in `default`.
Exits 0 on success; prints what failed and exits 1 otherwise.
"""

import sys

from kubernetes import client, config
from kubernetes.client.rest import ApiException


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def main():
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()
    names = sorted(
        s.metadata.name
        for s in v1.list_namespaced_secret("default", field_selector="type=example.com/tls").items
    )
    if names != ["k1"]:
        fail(f"type=example.com/tls selected {names}")
    names = sorted(
        s.metadata.name
        for s in v1.list_secret_for_all_namespaces(field_selector="type!=example.com/tls").items
    )
    if names != ["k2"]:
        fail(f"type!=example.com/tls selected {names}")
    try:
        v1.list_namespaced_secret("default", field_selector="spec.nodeName=n1")
        fail("an undeclared field was accepted")
    except ApiException as e:
        if e.status != 400 or "field label not supported: spec.nodeName" not in e.body:
            fail(f"expected 400 field label not supported, got {e.status}: {e.body}")
    print("OK", flush=True)


if __name__ == "__main__":
    main()
