#!/usr/bin/env python3
"""CRD benchmarks against a running kapi (or any Kubernetes API server on
plain HTTP without auth). Prints figures; asserts nothing.

  KUBE_URL=http://127.0.0.1:6443 KAPI_PID=<pid> python3 tests/bench/crd_bench.py

1. CRD create -> Established and -> served (first 200 on the resource's list),
   for a small CRD and for Gateway API's HTTPRoute CRD (52 CEL rules), N runs each.
2. Create throughput, one keep-alive connection per thread: HTTPRoute (CEL on)
   versus a ConfigMap of similar JSON size.
3. RSS of KAPI_PID before and after installing every CRD in ../shared/testdata/crds.
"""
import http.client
import json
import os
import pathlib
import statistics
import threading
import time
import urllib.parse

import yaml

URL = urllib.parse.urlparse(os.environ.get("KUBE_URL", "http://127.0.0.1:6443"))
PID = os.environ.get("KAPI_PID")
ROOT = pathlib.Path(__file__).resolve().parents[3] / "shared" / "testdata"
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


def conn():
    return http.client.HTTPConnection(URL.hostname, URL.port, timeout=30)


def call(c, method, path, body=None, ctype="application/json"):
    data = None if body is None else json.dumps(body).encode()
    c.request(method, path, body=data, headers={"Content-Type": ctype} if data else {})
    r = c.getresponse()
    raw = r.read()
    return r.status, (json.loads(raw) if raw else None)


def rss_kib():
    if not PID:
        return None
    for line in open(f"/proc/{PID}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def established(crd):
    for c in (crd.get("status") or {}).get("conditions") or []:
        if c["type"] == "Established" and c["status"] == "True":
            return True
    return False


def time_crd(c, crd):
    name = crd["metadata"]["name"]
    spec = crd["spec"]
    v = next(v["name"] for v in spec["versions"] if v.get("served"))
    ns = "/namespaces/default" if spec.get("scope") == "Namespaced" else ""
    list_path = f"/apis/{spec['group']}/{v}{ns}/{spec['names']['plural']}"
    call(c, "DELETE", f"{CRDS}/{name}")
    while call(c, "GET", list_path)[0] == 200:
        time.sleep(0.001)
    t0 = time.perf_counter()
    st, body = call(c, "POST", CRDS, crd)
    assert st == 201, (st, body)
    t_created = time.perf_counter() - t0
    est = served = None
    while est is None or served is None:
        now = time.perf_counter() - t0
        if est is None and established(call(c, "GET", f"{CRDS}/{name}")[1]):
            est = time.perf_counter() - t0
        if served is None and call(c, "GET", list_path)[0] == 200:
            served = time.perf_counter() - t0
        if now > 10:
            raise SystemExit(f"{name}: not established/served after 10 s")
    return t_created, est, served


def ms(xs):
    return f"median {statistics.median(xs) * 1000:.1f} ms, max {max(xs) * 1000:.1f} ms"


def load(path):
    return [d for d in yaml.safe_load_all(open(path)) if d]


def throughput(label, make, threads, per_thread):
    def worker(t, out):
        c = conn()
        for i in range(per_thread):
            st, body = call(c, "POST", make.path, make(t, i))
            if st != 201:
                raise SystemExit(f"{label}: {st} {body}")
        out.append(1)

    done = []
    ts = [threading.Thread(target=worker, args=(t, done)) for t in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    return threads * per_thread / dt


def main():
    c = conn()
    runs = int(os.environ.get("RUNS", "10"))
    small = {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "benchwidgets.example.com"},
        "spec": {"group": "example.com", "scope": "Namespaced",
                 "names": {"plural": "benchwidgets", "kind": "BenchWidget"},
                 "versions": [{"name": "v1", "served": True, "storage": True,
                               "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                                   "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}]}}
    httproute_crd = load(ROOT / "crds/gateway-api/gateway.networking.k8s.io_httproutes.yaml")[0]
    for label, crd in [("small CRD", small), ("HTTPRoute CRD", httproute_crd)]:
        res = [time_crd(c, crd) for _ in range(runs)]
        print(f"{label}: create answered {ms([r[0] for r in res])}; "
              f"Established {ms([r[1] for r in res])}; served {ms([r[2] for r in res])} ({runs} runs)")
    call(c, "DELETE", f"{CRDS}/benchwidgets.example.com")

    # Throughput: HTTPRoute (CEL on) vs a ConfigMap of similar size.
    route = load(ROOT / "examples/gateway-api/valid/http-routing/foo-httproute.yaml")
    route = next(d for d in route if d["kind"] == "HTTPRoute")
    route["metadata"]["namespace"] = "default"
    size = len(json.dumps(route))
    cm_data = {"k": "x" * max(1, size - 120)}
    run = str(int(time.time()))

    def mk_route(t, i):
        r = json.loads(json.dumps(route))
        r["metadata"]["name"] = f"r-{run}-{t}-{i}"
        return r
    mk_route.path = "/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes"

    def mk_cm(t, i):
        return {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": f"c-{run}-{t}-{i}", "namespace": "default"}, "data": cm_data}
    mk_cm.path = "/api/v1/namespaces/default/configmaps"
    n = int(os.environ.get("CREATES", "2000"))
    for threads in (1, 8):
        r = throughput("httproute", mk_route, threads, n // threads)
        m = throughput("configmap", mk_cm, threads, n // threads)
        print(f"creates, {threads} thread(s), {n} objects of ~{size} B JSON: "
              f"HTTPRoute {r:.0f}/s, ConfigMap {m:.0f}/s, ratio {r / m:.2f}")

    # Memory per installed CRD.
    crds = [d for p in sorted((ROOT / "crds").rglob("*.yaml")) for d in load(p)]
    for d in crds:
        call(c, "DELETE", f"{CRDS}/{d['metadata']['name']}")
    # Deletion is asynchronous (the objects go first, then the finalizer).
    for d in crds:
        deadline = time.time() + 120
        while call(c, "GET", f"{CRDS}/{d['metadata']['name']}")[0] != 404:
            if time.time() > deadline:
                raise SystemExit(f"{d['metadata']['name']} not deleted in 120 s")
            time.sleep(0.05)
    time.sleep(1)
    before = rss_kib()
    for d in crds:
        st, body = call(c, "POST", CRDS, d)
        assert st == 201, (st, body)
    for d in crds:
        while not established(call(c, "GET", f"{CRDS}/{d['metadata']['name']}")[1]):
            time.sleep(0.005)
    time.sleep(1)
    after = rss_kib()
    if before and after:
        print(f"RSS: {before / 1024:.1f} MiB before, {after / 1024:.1f} MiB with {len(crds)} CRDs: "
              f"{(after - before) / 1024 / len(crds):.2f} MiB per CRD")


if __name__ == "__main__":
    main()
