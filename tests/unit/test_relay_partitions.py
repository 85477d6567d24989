"""The relay puts a record on the partition Kafka's default partitioner gives its key, as a plain
``send`` would, so a member's events share a partition whichever producer wrote them."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.outbox import key_hash


@settings(max_examples=300, deadline=None)
@given(key=st.binary(max_size=64), count=st.integers(1, 64))
def test_the_relays_partition_is_the_default_partitioners(key: bytes, count: int) -> None:
    partitions = list(range(count))
    for _ in range(2):  # the second time from what was kept
        assert partitions[key_hash(key) % count] == DefaultPartitioner()(key, partitions, partitions)
