"""Who may do what on Kafka: one SCRAM principal per service, one for POS systems, and the admin.

A service's rights come from what its code declares, so they cannot drift from it: it **reads** the
topics its consumer's decoder names (``READS`` in ``services/<name>/main.py``, the same list its
``Consumes`` decoder is built from) and its consumer group ``vafa-<service>``; it **writes** (and may
create) the topics of the contracts it emits (``EMITS``, what ``create_app`` publishes) and its own
dead-letter topic. POS systems (``vafa-pos``) may only write ``pos.raw``. ``vafa-admin`` (tests, repair
redrive, operators' tooling) and ``vafa-broker`` (the broker itself) are super users in the broker's
configuration and need no ACLs.

``python -m shared.kafka_acls show [--prefix P]``   the ACLs, one line each
``python -m shared.kafka_acls apply [--prefix P]``  create every catalog topic and the ACLs (idempotent)
``python -m shared.kafka_acls remove --prefix P``   delete the ACLs of a prefix (a test's slice)
``python -m shared.kafka_acls principals``          the principals vafactl gives SCRAM credentials

``apply`` and ``remove`` connect with the ``VAFA_KAFKA_*`` settings, which must name a super user.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import (
    CreateAclsRequest,
    CreateAclsRequest_v1,
    DeleteAclsRequest,
    DeleteAclsRequest_v1,
    DescribeAclsRequest,
)

from shared.contracts import Contract
from shared.topics import CATALOG, Topic, TopicSpec, dead_letter_spec, dead_letter_topic, ensure_topics

SERVICES = ("ingest", "points", "tiers", "notify", "analytics")
ADMIN = "vafa-admin"  # super user: tests, repair redrive, the ACLs and topics themselves
BROKER = "vafa-broker"  # super user: the broker and controller talking to each other (PLAIN)
POS = "vafa-pos"  # POS systems producing straight to Kafka


class Resource(IntEnum):
    TOPIC = 2
    GROUP = 3


class Operation(IntEnum):
    READ = 3
    WRITE = 4
    CREATE = 5
    DESCRIBE = 8


LITERAL = 3
ALLOW = 3


@dataclass(frozen=True)
class Access:
    """What one principal may do, topic and group names without the deployment's prefix."""

    principal: str
    reads: frozenset[str] = frozenset()
    writes: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    creates: bool = True  # may create the topics it writes (services ensure them at start)


@dataclass(frozen=True, order=True)
class Binding:
    resource: Resource
    name: str
    principal: str
    operation: Operation

    def __str__(self) -> str:
        return f"User:{self.principal} {self.operation.name} {self.resource.name.lower()} {self.name}"


def principal_of(service: str) -> str:
    return f"vafa-{service}"


def service_access(service: str, reads: Iterable[str], emits: Iterable[Contract[Any]]) -> Access:
    """A service's rights from its declarations: the topics its decoder reads, those of the contracts
    it emits and its dead-letter topic (which it reads too: its ops status counts them by reason), and
    its consumer group (``ServiceSettings.consumer_group``). Re-driving them to the topics they came
    from is not among them: those are other services' topics (shared/ops.py writes as the repair
    principal)."""
    reads = frozenset(str(t) for t in reads)
    return Access(
        principal=principal_of(service),
        reads=reads | {dead_letter_topic(service)} if reads else reads,
        writes=frozenset({str(c.topic) for c in emits} | {dead_letter_topic(service)}),
        groups=frozenset({f"vafa-{service}"}) if reads else frozenset(),
    )


def declared(service: str) -> Access:
    """The rights ``services/<service>/main.py`` declares (its ``READS`` and ``EMITS``)."""
    main = importlib.import_module(f"services.{service}.main")
    return service_access(service, main.READS, main.EMITS)


def principals() -> list[Access]:
    """Every principal with ACLs: the five services and POS systems."""
    pos = Access(POS, writes=frozenset({str(Topic.POS_RAW)}), creates=False)
    return [*(declared(s) for s in SERVICES), pos]


def bindings(accesses: Iterable[Access], prefix: str = "") -> list[Binding]:
    found: set[Binding] = set()
    for a in accesses:
        for topic in a.reads:
            found.add(Binding(Resource.TOPIC, prefix + topic, a.principal, Operation.READ))
        for topic in a.writes:
            found.add(Binding(Resource.TOPIC, prefix + topic, a.principal, Operation.WRITE))
            found.add(Binding(Resource.TOPIC, prefix + topic, a.principal, Operation.DESCRIBE))
            if a.creates:
                found.add(Binding(Resource.TOPIC, prefix + topic, a.principal, Operation.CREATE))
        for group in a.groups:
            found.add(Binding(Resource.GROUP, prefix + group, a.principal, Operation.READ))
    return sorted(found)


def topic_specs(topics: Iterable[str]) -> list[TopicSpec]:
    """The catalog's spec of each topic (dead-letter topics included)."""
    catalog = {s.name: s for s in CATALOG}
    specs = []
    for topic in sorted(topics):
        if topic in catalog:
            specs.append(catalog[topic])
        elif topic.startswith(dead_letter_topic("")):
            specs.append(dead_letter_spec(topic.removeprefix(dead_letter_topic(""))))
        else:
            raise ValueError(f"{topic} is not in the catalog (shared/topics.py)")
    return specs


def _acl_rows(rows: Sequence[Binding]) -> list[tuple[Any, ...]]:
    """The bindings as CreateAcls creations and DeleteAcls filters both spell them (v1)."""
    return [(b.resource, b.name, LITERAL, f"User:{b.principal}", "*", b.operation, ALLOW) for b in rows]


# aiokafka sends one ACL per CreateAcls/DeleteAcls request; these send them all in one.
class _CreateAcls(CreateAclsRequest):  # type: ignore[misc]
    def __init__(self, rows: Sequence[Binding]) -> None:
        self._rows = rows

    def build(self, request_struct_class: type[Any]) -> Any:
        if request_struct_class is not CreateAclsRequest_v1:
            raise NotImplementedError("the broker does not take CreateAcls v1")
        return request_struct_class(_acl_rows(self._rows))


class _DeleteAcls(DeleteAclsRequest):  # type: ignore[misc]
    def __init__(self, rows: Sequence[Binding]) -> None:
        self._rows = rows

    def build(self, request_struct_class: type[Any]) -> Any:
        if request_struct_class is not DeleteAclsRequest_v1:
            raise NotImplementedError("the broker does not take DeleteAcls v1")
        return request_struct_class(_acl_rows(self._rows))


def _raise_errors(errors: Iterable[tuple[int, str | None]]) -> None:
    for code, message in errors:
        if code:
            raise for_code(code)(message or "")


async def create_acls(kafka: Mapping[str, Any], rows: Sequence[Binding], wait_s: float = 15.0) -> None:
    """Create the ACLs and wait until the broker applies them (the controller answers once they are
    committed; the broker's authorizer learns them from the metadata log a moment later)."""
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        response = await admin._send_request(_CreateAcls(rows))
        _raise_errors((r[0], r[1]) for r in response.creation_responses)
        deadline = asyncio.get_running_loop().time() + wait_s
        while not set(rows) <= await _described(admin):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"the broker did not apply {len(rows)} ACLs in {wait_s:.0f}s")
            await asyncio.sleep(0.05)
    finally:
        await admin.close()


async def _described(admin: AIOKafkaAdminClient) -> set[Binding]:
    """Every literal ALLOW ACL on topics and groups the broker (its authorizer) knows now."""
    any_ = 1
    request = DescribeAclsRequest(any_, None, LITERAL, None, None, any_, ALLOW)
    response = await admin._send_request(request)
    _raise_errors([(response.error_code, response.error_message)])
    found = set()
    for resource_type, name, _pattern, acls in response.resources:
        if resource_type not in (Resource.TOPIC, Resource.GROUP):
            continue
        for principal, _host, operation, _permission in acls:
            if operation in Operation._value2member_map_:
                found.add(
                    Binding(
                        Resource(resource_type), name, principal.removeprefix("User:"), Operation(operation)
                    )
                )
    return found


async def delete_acls(kafka: Mapping[str, Any], rows: Sequence[Binding]) -> None:
    if not rows:
        return
    admin = AIOKafkaAdminClient(**kafka)
    await admin.start()
    try:
        response = await admin._send_request(_DeleteAcls(rows))
        _raise_errors((r[0], r[1]) for r in response.filter_responses)
    finally:
        await admin.close()


async def apply(kafka: Mapping[str, Any], prefix: str = "", accesses: Sequence[Access] | None = None) -> None:
    """Create every catalog topic and every dead-letter topic (as the admin: a service may create only
    what it writes), then the ACLs for ``prefix``. Both are idempotent."""
    accesses = principals() if accesses is None else accesses
    specs = [*CATALOG, *(dead_letter_spec(s) for s in SERVICES)]
    await ensure_topics(kafka, specs, prefix=prefix)
    await create_acls(kafka, bindings(accesses, prefix))


async def remove(kafka: Mapping[str, Any], prefix: str, accesses: Sequence[Access] | None = None) -> None:
    await delete_acls(kafka, bindings(principals() if accesses is None else accesses, prefix))


def main() -> None:
    from shared.config import ServiceSettings

    parser = argparse.ArgumentParser(
        prog="python -m shared.kafka_acls",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["show", "apply", "remove", "principals"])
    parser.add_argument("--prefix", default="")
    args = parser.parse_args()
    if args.command == "principals":
        print("\n".join([ADMIN, *(a.principal for a in principals())]))
    elif args.command == "show":
        print("\n".join(str(b) for b in bindings(principals(), args.prefix)))
    else:
        kafka = ServiceSettings().kafka_options()
        if args.command == "apply":
            asyncio.run(apply(kafka, args.prefix))
        else:
            asyncio.run(remove(kafka, args.prefix))
        print(f"{args.command}: {len(bindings(principals(), args.prefix))} ACLs for prefix {args.prefix!r}")


if __name__ == "__main__":
    main()
