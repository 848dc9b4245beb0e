"""Watch ConfigMaps with kubernetes.watch against kapi.

Usage: python3 watch_configmaps.py KUBECONFIG
Creates one ConfigMap, then watches with timeout_seconds and expects an ADDED
event for it (the synthetic initial ADDED of a watch without resourceVersion),
then a watch from the list's resourceVersion that sees the object created
after that list (and not the one before it).
"""

import sys

from kubernetes import client, config, watch

NS = "default"


def fail(msg):
    print(f"FAIL: {msg}", flush=True)
    sys.exit(1)


def main():
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()

    v1.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-w1"), data={"a": "1"})
    )

    seen = []
    for ev in watch.Watch().stream(v1.list_namespaced_config_map, NS, timeout_seconds=2):
        seen.append((ev["type"], ev["object"].metadata.name))
        if ev["type"] == "ADDED" and ev["object"].metadata.name == "py-w1":
            break
    if ("ADDED", "py-w1") not in seen:
        fail(f"watch without resourceVersion: no ADDED py-w1, saw {seen}")
    print(f"initial events: {seen}")

    rv = v1.list_namespaced_config_map(NS).metadata.resource_version
    if not rv:
        fail("list has no metadata.resourceVersion")

    # Created after the list: a watch from the list's version must show it,
    # whenever the watch's request arrives.
    v1.create_namespaced_config_map(
        NS, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-w2"), data={"b": "2"})
    )
    seen = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_config_map, NS, resource_version=rv, timeout_seconds=5):
        obj = ev["object"]
        seen.append((ev["type"], obj.metadata.name))
        if ev["type"] == "ADDED" and obj.metadata.name == "py-w2":
            if not obj.metadata.resource_version:
                fail("event object has no resourceVersion")
            w.stop()
    if ("ADDED", "py-w2") not in seen:
        fail(f"watch from rv {rv}: no ADDED py-w2, saw {seen}")
    if ("ADDED", "py-w1") in seen:
        fail(f"watch from rv {rv} replayed py-w1: {seen}")
    print(f"events from rv {rv}: {seen}")
    print("OK")


if __name__ == "__main__":
    main()
