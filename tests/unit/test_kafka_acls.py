"""The Kafka ACLs follow from the code: what each service's app reads and emits is what its principal
may do, every topic has one writer, POS systems write only pos.raw, and vafactl gives credentials to
exactly these principals."""

from __future__ import annotations

import importlib
import re

import pytest

from shared.kafka_acls import ADMIN, POS, SERVICES, Operation, bindings, declared, principals
from shared.topics import CATALOG, Topic, dead_letter_topic
from sim.harness import REPO


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_app_has_the_rights_its_principal_is_given(service: str) -> None:
    app = importlib.import_module(f"services.{service}.main").create()
    assert app.state.kafka_access == declared(service)


def test_every_topic_has_one_writer_and_every_read_topic_a_writer() -> None:
    accesses = principals()
    writers = {t: [a.principal for a in accesses if t in a.writes] for s in CATALOG for t in [s.name]}
    assert all(len(w) == 1 for w in writers.values()), writers
    assert writers[Topic.POS_RAW] == [POS]
    for service in SERVICES:
        # Its dead letters: it writes them, and reads them back (its ops status counts them by reason).
        assert dead_letter_topic(service) in declared(service).writes & declared(service).reads
    for a in accesses:
        others = a.reads - {dead_letter_topic(s) for s in SERVICES}
        assert others <= set(writers), f"{a.principal} reads a topic nobody writes"


def test_pos_may_only_write_and_describe_pos_raw() -> None:
    granted = {(b.name, b.operation) for b in bindings(principals(), "t1.") if b.principal == POS}
    assert granted == {("t1.pos.raw", Operation.WRITE), ("t1.pos.raw", Operation.DESCRIBE)}


def test_vafactl_gives_credentials_to_exactly_these_principals() -> None:
    script = (REPO / "deploy/local/vafactl").read_text()
    (listed,) = re.findall(r"^KAFKA_PRINCIPALS=\((.*)\)$", script, re.MULTILINE)
    assert sorted(listed.split()) == sorted([ADMIN, *(a.principal for a in principals())])
