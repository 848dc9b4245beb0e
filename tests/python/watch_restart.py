"""Watch ConfigMaps across a restart of kapi, resuming from resourceVersion.

Usage: python3 watch_restart.py KUBECONFIG
Prints READY once its watch (from the list's resourceVersion) is open, then one
line per event: "EVENT TYPE NAME". When the connection breaks (kapi killed) it
prints RECONNECT and watches again from the last resourceVersion it saw — the
`watch.Watch` object keeps it in `resource_version`; while kapi is down, the
client's own connection retries (urllib3 `Retry`, short backoff) wait for it.
It ends after ADDED py-r3, and fails after 40 s.
"""

import sys
import time

import urllib3
from kubernetes import client, config, watch

NS = "default"


def main():
    config.load_kube_config(config_file=sys.argv[1])
    conf = client.Configuration.get_default_copy()
    # Connection refused while kapi restarts: retried with backoff
    # 20 ms, 40 ms, ... at most 200 ms, for up to 40 s in all.
    conf.retries = urllib3.util.Retry(total=None, connect=400, read=0, status=0,
                                      backoff_factor=0.02, backoff_max=0.2)
    v1 = client.CoreV1Api(client.ApiClient(conf))
    rv = v1.list_namespaced_config_map(NS).metadata.resource_version
    w = watch.Watch()
    deadline = time.time() + 40
    ready = False
    while time.time() < deadline:
        try:
            stream = w.stream(
                v1.list_namespaced_config_map,
                NS,
                resource_version=rv,
                allow_watch_bookmarks=True,
                timeout_seconds=30,
                _request_timeout=35,
            )
            if not ready:
                print("READY", flush=True)
                ready = True
            for ev in stream:
                if ev["type"] == "BOOKMARK":
                    continue
                print(f"EVENT {ev['type']} {ev['object'].metadata.name}", flush=True)
                if ev["type"] == "ADDED" and ev["object"].metadata.name == "py-r3":
                    print("DONE", flush=True)
                    return
        except Exception as e:  # the connection broke: resume from the last version
            print(f"RECONNECT {type(e).__name__}", flush=True)
        if w.resource_version:
            rv = w.resource_version
    print("FAIL: no ADDED py-r3 within 40 s", flush=True)
    sys.exit(1)


if __name__ == "__main__":
    main()
