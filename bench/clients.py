"""`python -m bench.clients`: the two Kafka clients faststream can run on, aiokafka (Python over asyncio,
what Vafa runs) and confluent-kafka (librdkafka, in C), doing what a Vafa service does with Kafka: the
relay's produce (idempotent, acks=all, linger 2 ms) and the consumer's fetch of batches of up to 500
with an offset commit after each. The same records (POS purchases as ingest forwards them, keyed by
member over 6 partitions), the same broker, the two clients alternating in one invocation; CPU seconds
of this process per record (librdkafka's threads included) and records per second.

    python -m bench.clients --records 50000 --repeats 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from confluent_kafka import Consumer, Producer
from confluent_kafka import TopicPartition as Position

from bench.handlers import records
from shared.contracts.envelope import utcnow
from shared.topics import TopicSpec, ensure_topics
from sim.harness import Infra, infra_from_env

RESULTS = Path(__file__).resolve().parent / "results"
BATCH = 500
FIGURES = ("cpu_us_per_record", "per_second")


def librdkafka_options(infra: Infra) -> dict[str, Any]:
    """aiokafka's connection settings (SASL/SCRAM, TLS or not) in librdkafka's words."""
    given = infra.kafka_client()
    options: dict[str, Any] = {
        "bootstrap.servers": given["bootstrap_servers"],
        "security.protocol": given.get("security_protocol", "PLAINTEXT"),
    }
    if "sasl_mechanism" in given:
        options |= {
            "sasl.mechanism": given["sasl_mechanism"],
            "sasl.username": given["sasl_plain_username"],
            "sasl.password": given["sasl_plain_password"],
        }
    return options


async def aiokafka_produce(infra: Infra, topic: str, values: Sequence[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(**infra.kafka_client(), enable_idempotence=True, acks="all", linger_ms=2)
    await producer.start()
    try:
        # As the relay does: send() only enqueues, then every ack is awaited.
        acks = [await producer.send(topic, value, key=key) for key, value in values]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def confluent_produce(infra: Infra, topic: str, values: Sequence[tuple[bytes, bytes]]) -> None:
    producer = Producer(
        librdkafka_options(infra) | {"enable.idempotence": True, "acks": "all", "linger.ms": 2}
    )
    for key, value in values:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:  # the local queue is full: let librdkafka send some
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(60)


async def aiokafka_consume(infra: Infra, topic: str, count: int) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        **infra.kafka_client(),
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=BATCH,
    )
    await consumer.start()
    try:
        seen = 0
        while seen < count:
            batches = await consumer.getmany(timeout_ms=1000, max_records=BATCH)
            offsets = {}
            for tp, got in batches.items():
                seen += len(got)
                offsets[tp] = got[-1].offset + 1
            if offsets:
                await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def confluent_consume(infra: Infra, topic: str, count: int) -> None:
    consumer = Consumer(
        librdkafka_options(infra)
        | {
            "group.id": f"bench-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        seen = 0
        while seen < count:
            got = consumer.consume(num_messages=BATCH, timeout=1.0)
            offsets: dict[tuple[str, int], int] = {}
            for message in got:
                where = (message.topic(), message.partition(), message.offset())
                if message.error() is None and None not in where:
                    seen += 1
                    offsets[(str(where[0]), int(where[1] or 0))] = int(where[2] or 0) + 1
            if offsets:
                consumer.commit(
                    offsets=[Position(t, p, o) for (t, p), o in offsets.items()], asynchronous=False
                )
    finally:
        consumer.close()


async def timed(step: Callable[[], Coroutine[Any, Any, None]], count: int) -> dict[str, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    await step()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_us_per_record": 1e6 * cpu / count, "per_second": count / wall}


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.clients", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    infra = infra_from_env()
    values = [(r.key or b"", r.value or b"") for r in records(args.records, "bench.")]
    clients = {
        "aiokafka": (aiokafka_produce, aiokafka_consume),
        "confluent-kafka": (confluent_produce, confluent_consume),
    }
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in clients}
    for n in range(args.repeats):
        order = list(clients) if n % 2 == 0 else list(reversed(clients))
        for name in order:
            produce, consume = clients[name]
            topic = f"bench-clients-{uuid.uuid4().hex[:8]}"
            await ensure_topics(infra.kafka_client(), [TopicSpec(topic, partitions=6, key="member")])
            run = {
                "produce": await timed(lambda: produce(infra, topic, values), len(values)),  # noqa: B023
                "consume": await timed(lambda: consume(infra, topic, len(values)), len(values)),  # noqa: B023
            }
            runs[name].append(run)
            print(
                f"run {n + 1} {name}: produce {run['produce']['cpu_us_per_record']:.1f} µs CPU/record "
                f"({run['produce']['per_second']:,.0f}/s), consume {run['consume']['cpu_us_per_record']:.1f} "
                f"µs ({run['consume']['per_second']:,.0f}/s)",
                flush=True,
            )
    medians = {
        name: {
            step: {
                k: statistics.median(r[step][k] for r in done) for k in ("cpu_us_per_record", "per_second")
            }
            for step in ("produce", "consume")
        }
        for name, done in runs.items()
    }
    for step in ("produce", "consume"):
        a, b = medians["aiokafka"][step], medians["confluent-kafka"][step]
        print(
            f"{step}: aiokafka {a['cpu_us_per_record']:.1f} µs CPU/record, confluent-kafka "
            f"{b['cpu_us_per_record']:.1f} (ratio {b['cpu_us_per_record'] / a['cpu_us_per_record']:.2f})"
        )
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"clients-{utcnow().strftime('%Y%m%dT%H%M%SZ')}.json"
    out.write_text(json.dumps({"records": len(values), "medians": medians, "runs": runs}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    asyncio.run(main())
