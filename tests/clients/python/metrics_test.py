"""Scrapes sagad's /metrics, parses it with the Prometheus client library's text-format parser
(prometheus-client, pinned in python_client_test.sh), runs sagas through the Python client,
and checks that the counters moved: sagas started and ended by definition, the participant
call histogram, the commits; and that the shipped Grafana dashboard and Prometheus alerting
rules (helm/sagad) name only metrics sagad exports. Run by python_client_test.sh against the quickstart's sagad."""
import argparse
import glob
import os
import re
import sys
import time
import urllib.request

import grpc
from prometheus_client.parser import text_string_to_metric_families

from saga.v1 import saga_pb2, saga_service_pb2, saga_service_pb2_grpc

OUT_OF_STOCK = b"\x0a\x0cout-of-stock\x10\x01"


def scrape(http_addr):
    """Every sample as {(name, frozenset(labels)): value}; the parser raises on bad text."""
    text = urllib.request.urlopen(f"http://{http_addr}/metrics", timeout=10).read().decode()
    samples = {}
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = family.type
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return families, samples


def exported_names(families):
    """Every name a query may use: families, counters' _total, histograms' series."""
    names = set()
    for name, kind in families.items():
        names.add(name)
        if kind == "counter":
            names.add(name + "_total")
        if kind == "histogram":
            names.update({name + "_bucket", name + "_sum", name + "_count"})
    return names


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--addr", required=True)
    parser.add_argument("--http", required=True)
    parser.add_argument("--root", required=True, help="the repository, for helm/sagad")
    args = parser.parse_args()
    failures = []

    def check(name, ok, detail=""):
        print(("ok   " if ok else "FAIL ") + name + ("" if ok else f" {detail}"))
        if not ok:
            failures.append(name)

    families, before = scrape(args.http)
    for name, kind in [("sagad_sagas_started", "counter"), ("sagad_sagas_ended", "counter"),
                       ("sagad_sagas_past_deadline", "gauge"),
                       ("sagad_participant_call_seconds", "histogram"),
                       ("sagad_compensations", "counter"), ("sagad_sagas_quarantined", "gauge"),
                       ("sagad_db_pool_connections", "gauge"), ("sagad_commits", "counter")]:
        check(f"{name} is a {kind}", families.get(name) == kind, families.get(name))

    stub = saga_service_pb2_grpc.SagaServiceStub(grpc.insecure_channel(args.addr))
    for _ in range(3):
        r = stub.StartSaga(saga_service_pb2.StartSagaRequest(definition_name="order",
                                                             wait_for_completion=True), timeout=20)
        check("an order completes", r.saga.state == saga_pb2.SAGA_STATE_COMPLETED)
    r = stub.StartSaga(saga_service_pb2.StartSagaRequest(
        definition_name="order", wait_for_completion=True,
        payloads={"reserve_stock": OUT_OF_STOCK}), timeout=20)
    check("an out-of-stock order compensates", r.saga.state == saga_pb2.SAGA_STATE_COMPENSATED)

    _, after = scrape(args.http)

    def moved(name, by, **labels):
        delta = value(after, name, **labels) - value(before, name, **labels)
        check(f"{name}{labels} grew by {by}", delta == by, f"grew by {delta}")

    moved("sagad_sagas_started_total", 4, definition="order")
    moved("sagad_sagas_ended_total", 3, definition="order", state="completed")
    moved("sagad_sagas_ended_total", 1, definition="order", state="compensated")
    # Each completed order: reserve_stock, charge, ship; the compensated one: its refused
    # reserve_stock (compensated without a call: it never took effect).
    moved("sagad_participant_call_seconds_count", 10, definition="order", operation="action")
    moved("sagad_participant_call_failures_total", 1, definition="order", operation="action")
    infinite = value(after, "sagad_participant_call_seconds_bucket", definition="order",
                     operation="action", le="+Inf")
    check("the +Inf bucket counts every call",
          infinite == value(after, "sagad_participant_call_seconds_count", definition="order",
                            operation="action"))
    check("commits grew", value(after, "sagad_commits_total") > value(before, "sagad_commits_total"))
    # The shipped dashboard and alerting rules name only metrics sagad exports.
    names = exported_names(families)
    shipped = glob.glob(os.path.join(args.root, "helm/sagad/dashboards/*.json")) + \
        glob.glob(os.path.join(args.root, "helm/sagad/alerts/*.yaml"))
    check("the dashboard and the alerting rules are there", len(shipped) >= 2, shipped)
    for path in shipped:
        used = set(re.findall(r"\bsagad_[a-z0-9_]+", open(path).read()))
        unknown = sorted(used - names)
        check(f"{os.path.relpath(path, args.root)} names only exported metrics ({len(used)})",
              used and not unknown, unknown)
    print(f"metrics test: {len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
