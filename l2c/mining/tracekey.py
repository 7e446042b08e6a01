"""Exact per-case keys of activity sequences, built without a second sort."""

from __future__ import annotations

from dataclasses import dataclass

from l2c.mining.eventlog import EventLog


@dataclass(frozen=True)
class TraceKey:
    """How a case's sequence is keyed: packed integer digits when they fit in a few 128-bit
    chunks, else the ordered list of activity codes.

    Packed: digit i of the sequence (0-based position) is code + 1 in `bits` bits at offset
    bits * (i % per_chunk) of chunk i // per_chunk; with the number of events this is an exact,
    injective key built with plain (order-free) aggregates over the numbered events, so no
    second sort per case is needed.
    """

    bits: int
    per_chunk: int
    chunks: int

    @classmethod
    def for_log(cls, log: EventLog, max_chunks: int) -> TraceKey:
        bits = max(1, log.activity_count.bit_length())
        per_chunk = 126 // bits  # signed hugeint: stay below 2^126
        chunks = -(-max(log.longest_case, 1) // per_chunk)
        return cls(bits, per_chunk, chunks if chunks <= max_chunks else 0)

    @property
    def packed(self) -> bool:
        return self.chunks > 0

    def columns(self) -> list[str]:
        if not self.packed:
            return ["trace_key"]
        return ["events_count", *(f"k{j}" for j in range(self.chunks))]

    def aggregates(self) -> str:
        """Per-case key aggregates over `seq`, `act` of the numbered events."""
        if not self.packed:
            return "list(act order by seq) as trace_key"
        return ",\n".join(
            f"coalesce(bit_or(cast(act + 1 as hugeint) << ({self.bits} * ((seq - 1) % "
            f"{self.per_chunk}))) filter (where seq > {j * self.per_chunk} and seq <= "
            f"{(j + 1) * self.per_chunk}), 0) as k{j}"
            for j in range(self.chunks)
        )

    def decode(self) -> str:
        """SQL expression: the list of activity codes from the key columns."""
        if not self.packed:
            return "trace_key"
        chunks = ", ".join(f"k{j}" for j in range(self.chunks))
        mask = (1 << self.bits) - 1
        return (
            f"list_transform(range(events_count), lambda i: cast((([{chunks}])"
            f"[i // {self.per_chunk} + 1] >> ({self.bits} * (i % {self.per_chunk}))) & {mask}"
            " as integer) - 1)"
        )
