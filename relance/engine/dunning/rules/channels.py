"""Channels: each customer's reachable channels as a bit mask, the first of the step's that reaches them."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from relance.engine.dunning.contract import (
    DunningTables,
)
from relance.engine.dunning.policy import (
    CHANNELS,
)
from relance.engine.dunning.rules.common import _Suppressed


def channel_masks(tables: DunningTables, customer_ids: ir.Column | None = None) -> ir.Table:
    """Per customer (of ``customer_ids`` when given), its channels as a bit mask (bit i: ``CHANNELS[i]``)."""
    channels = tables.customer_channels
    if customer_ids is not None:
        channels = channels.filter(channels.customer_id.isin(customer_ids))
    channels = channels.distinct()
    bit = ibis.cases(
        *[(channels.channel == name, 1 << position) for position, name in enumerate(CHANNELS)], else_=0
    )
    return channels.group_by(_m_customer_id=channels.customer_id).aggregate(
        channel_mask=bit.sum().cast("int64")
    )


def _pick_channel(masks: np.ndarray, options: Sequence[str]) -> np.ndarray:
    """The first of ``options`` in each mask (None when none is)."""
    chosen = np.full(len(masks), None, dtype=object)
    for channel in reversed(options):
        has = (masks & (1 << CHANNELS.index(channel))) != 0
        chosen = np.where(has, channel, chosen)
    return chosen


def _choose_channels(
    decisions: pd.DataFrame,
    candidates: pd.DataFrame,
    is_contact: np.ndarray,
    blocked: np.ndarray,
    out: _Suppressed,
) -> np.ndarray:
    """The first of the step's channels the customer can be reached on (``channel``, and
    ``fallback`` when it is not the first); none of them: ``no_channel``."""
    channel = np.full(len(decisions), None, dtype=object)
    fallback = np.zeros(len(decisions), dtype=bool)
    masks_of = decisions.channel_mask.to_numpy(np.int64)
    # Once per distinct list of channels (a few steps), not once per decision.
    codes, distinct = pd.factorize(decisions.channels.to_numpy(dtype=object), use_na_sentinel=False)
    for code in np.unique(codes[is_contact]).tolist():
        options = tuple(distinct[code])
        positions = np.flatnonzero(is_contact & (codes == code))
        chosen = _pick_channel(masks_of[positions], options)
        channel[positions] = chosen
        fallback[positions] = (chosen != None) & (chosen != options[0])  # noqa: E711 - elementwise
    decisions["channel"] = channel
    decisions["fallback"] = fallback
    no_channel = is_contact & ~blocked & pd.isna(channel)
    if no_channel.any():
        rows = decisions[no_channel]
        out.groups(
            candidates,
            rows.group_no,
            "no_channel",
            [f"none of {', '.join(c)} available" for c in rows.channels],
        )
        blocked = blocked | no_channel
    return blocked
