"""Repairs an operator runs against one service (its ``VAFA_*`` settings say which):

``python -m shared.repair redrive [--from-offset N] [--reason-contains TEXT] [--dry-run]``
    After a fix, send the service's dead letters back to the topics they came from, unchanged, each
    with a ``vafa-redriven-from`` header naming the dead letter. What was re-driven is written to
    ``repairs/redrive-<service>-<time>.jsonl`` (and printed), with the offset to start from next time.
    Every consumer of that topic sees the record again; inboxes make a repeat of a valid event harmless.

``python -m shared.repair rebuild --yes``
    With the service stopped: drop and recreate its database and send its consumer group back to
    offset 0. Started again, the service rebuilds its state from the topics (the events are kept
    forever: ``retention.ms = -1``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.config import ServiceSettings
from shared.contracts.envelope import utcnow
from shared.deadletter import (
    REASON,
    REDRIVEN_FOR,
    REDRIVEN_FROM,
    SOURCE_OFFSET,
    SOURCE_PARTITION,
    SOURCE_TOPIC,
)
from shared.outbox import ID_HEADER, SOURCE_HEADER
from shared.topics import dead_letter_topic

__all__ = ["REDRIVEN_FOR", "REDRIVEN_FROM", "dead_letters", "headers_of", "position_of", "rebuild", "redrive"]


async def dead_letters(settings: ServiceSettings, from_offset: int = 0) -> list[Any]:
    """Every dead letter of the service from ``from_offset`` (in each partition) to the end."""
    topic = settings.topic_prefix + dead_letter_topic(settings.service_name)
    consumer = AIOKafkaConsumer(**settings.kafka_options(), enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
        # The ends first: once partitions are assigned, the consumer's fetch (a long poll of up to 500 ms)
        # is ahead of this request on the broker's connection, and an empty topic waited a second for it.
        end = await consumer.end_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, from_offset)
        found = []
        while any([await consumer.position(tp) < end[tp] for tp in partitions]):
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                found.extend(records)
        return found
    finally:
        await consumer.stop()


def headers_of(letter: Any) -> dict[str, str]:
    return {k: v.decode("utf-8", "replace") for k, v in letter.headers}


def position_of(letter: Any) -> str:
    """How a dead letter is named: ``topic:partition:offset`` (in the record and the audit log)."""
    return f"{letter.topic}:{letter.partition}:{letter.offset}"


async def redrive(
    settings: ServiceSettings,
    *,
    from_offset: int = 0,
    reason_contains: str = "",
    reason_is: str | None = None,
    skip: Collection[str] = (),
    dry_run: bool = False,
) -> dict[str, Any]:
    """``reason_is``: only the dead letters refused for exactly that reason; ``skip``: the positions
    (``position_of``) not to send again (the console's re-drive passes those already re-driven)."""
    letters = await dead_letters(settings, from_offset)
    chosen = []
    for letter in letters:
        headers = headers_of(letter)
        reason = headers.get(REASON, "")
        wanted = reason_contains in reason and reason_is in (None, reason)
        if wanted and position_of(letter) not in skip:
            chosen.append((letter, headers))
    report: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    producer = AIOKafkaProducer(**settings.kafka_options(), acks="all", enable_idempotence=True)
    if not dry_run:
        await producer.start()
    try:
        for letter, headers in chosen:
            origin = position_of(letter)
            source = headers.get(SOURCE_TOPIC)
            if not source:
                # Not a refused record but, e.g., a message notify could not deliver: there is no
                # topic to send it back to (notify's own deliveries log says what to resend).
                skipped.append({"dead_letter": origin, "why": "no source topic: not a refused record"})
                continue
            line: dict[str, Any] = {
                "dead_letter": origin,
                "to": source,
                "was": f"{source}:{headers.get(SOURCE_PARTITION)}:{headers.get(SOURCE_OFFSET)}",
                "reason": headers.get(REASON, ""),
            }
            if not dry_run:
                # Not the dead letter's own outbox position either: a re-driven record is claimed in the
                # inbox (shared.consumer), by its event.
                kept = [
                    (k, v)
                    for k, v in letter.headers
                    if not k.startswith("vafa-dlq-") and k not in (SOURCE_HEADER, ID_HEADER)
                ]
                marks = [(REDRIVEN_FROM, origin.encode()), (REDRIVEN_FOR, settings.service_name.encode())]
                sent = await producer.send_and_wait(
                    source, letter.value, key=letter.key, headers=kept + marks
                )
                line["new_offset"] = f"{sent.partition}:{sent.offset}"
            report.append(line)
    finally:
        if not dry_run:
            await producer.stop()
    next_offset = max((letter.offset for letter in letters), default=from_offset - 1) + 1
    return {"redriven": report, "skipped": skipped, "dry_run": dry_run, "next_from_offset": next_offset}


async def rebuild(settings: ServiceSettings) -> dict[str, Any]:
    """Drop the service's database and rewind its consumer group; refuses while the group has members."""
    group = settings.consumer_group
    admin = AIOKafkaAdminClient(**settings.kafka_options())
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        # The raw DescribeGroups response: per group (error, id, state, protocol type, protocol, members).
        members = response.groups[0][5]
        if members:
            raise SystemExit(f"{group} still has {len(members)} member(s): stop the service first")
        committed = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    password = settings.pg_password.get_secret_value()
    conn = await asyncpg.connect(
        host=settings.pg_host,
        port=settings.pg_port,
        user=settings.pg_user,
        password=password,
        database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{settings.database_name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{settings.database_name}"')
    finally:
        await conn.close()
    consumer = AIOKafkaConsumer(**settings.kafka_options(), group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        if committed:
            consumer.assign(list(committed))
            await consumer.commit({tp: 0 for tp in committed})
    finally:
        await consumer.stop()
    return {"database": settings.database_name, "group": group, "rewound_partitions": len(committed)}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m shared.repair",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    again = commands.add_parser("redrive", help="send dead letters back where they came from")
    again.add_argument("--from-offset", type=int, default=0)
    again.add_argument("--reason-contains", default="")
    again.add_argument("--dry-run", action="store_true")
    anew = commands.add_parser("rebuild", help="drop the store and replay the topics from offset 0")
    anew.add_argument("--yes", action="store_true", help="yes, drop the database")
    args = parser.parse_args()
    settings = ServiceSettings()  # VAFA_SERVICE_NAME and the service's other VAFA_* settings
    if settings.service_name == ServiceSettings.model_fields["service_name"].default:
        raise SystemExit("say which service: VAFA_SERVICE_NAME=points (with its other VAFA_* settings)")
    if args.command == "redrive":
        result = asyncio.run(
            redrive(
                settings,
                from_offset=args.from_offset,
                reason_contains=args.reason_contains,
                dry_run=args.dry_run,
            )
        )
        for line in result["redriven"]:
            print(json.dumps(line))
        for line in result["skipped"]:
            print(json.dumps({"skipped": line}))
        count = len(result["redriven"])
        if args.dry_run:
            print(f"would re-drive {count} dead letter(s)")
            return
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        path = Path("repairs") / f"redrive-{settings.service_name}-{stamp}.jsonl"
        path.parent.mkdir(exist_ok=True)
        path.write_text("".join(json.dumps(line) + "\n" for line in result["redriven"]))
        following = result["next_from_offset"]
        print(f"re-drove {count} dead letter(s); recorded in {path}; next time: --from-offset {following}")
    else:
        if not args.yes:
            raise SystemExit(f"this drops {settings.database_name}: run again with --yes")
        print(json.dumps(asyncio.run(rebuild(settings))))


if __name__ == "__main__":
    main()
