"""A deal's state at a point in time, replayed from its flow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from l2c_demo.simulator.catalog import STAGE_IDS, STAGE_NAMES
from l2c_demo.simulator.model import Deal, FlowChange


@dataclass
class DealState:
    stage_id: int
    status: str
    value: float
    owner_id: int
    lost_reason: str | None
    stage_change_time: int | None
    won_time: int | None
    lost_time: int | None
    close_time: int | None
    update_time: int
    custom: dict[str, Any]
    flow: list[FlowChange] = field(default_factory=list)
    stages_entered: list[str] = field(default_factory=list)


def deal_state(deal: Deal, as_of: int) -> DealState:
    st = DealState(
        stage_id=STAGE_IDS[(deal.pipeline, deal.creation_stage)],
        status="open",
        value=deal.initial_value,
        owner_id=deal.owner_id,
        lost_reason=None,
        stage_change_time=None,
        won_time=None,
        lost_time=None,
        close_time=None,
        update_time=deal.add_time,
        custom={},
        stages_entered=[deal.creation_stage],
    )
    for ch in deal.flow:
        if ch.ts > as_of:
            break
        st.flow.append(ch)
        st.update_time = ch.ts
        key = ch.field_key
        if key == "stage_id":
            st.stage_id = ch.new
            st.stage_change_time = ch.ts
            st.stages_entered.append(STAGE_NAMES[ch.new][1])
        elif key == "status":
            st.status = ch.new
            if ch.new == "won":
                st.won_time = st.close_time = ch.ts
            elif ch.new == "lost":
                st.lost_time = st.close_time = ch.ts
            else:
                st.won_time = st.lost_time = st.close_time = None
        elif key == "value":
            st.value = ch.new
        elif key == "user_id":
            st.owner_id = ch.new
        elif key == "lost_reason":
            st.lost_reason = ch.new
        else:
            st.custom[key] = ch.new
    for line in deal.lines:
        if line.revised_at is not None and line.revised_at <= as_of:
            st.update_time = max(st.update_time, line.revised_at)
    for disc in deal.discounts:
        if disc.created_at <= as_of:
            st.update_time = max(st.update_time, disc.created_at)
    return st
