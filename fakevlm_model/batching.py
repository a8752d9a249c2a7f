"""Batch planning for the adapter: requests grouped by generation settings, sorted by length."""

from __future__ import annotations

import json
from collections import defaultdict


def settings_key(gen_kwargs) -> str:
    """A hashable, order-independent key for a request's generation settings."""
    return json.dumps(gen_kwargs or {}, sort_keys=True, default=repr)


def plan_batches(lengths: list[int], groups: list[str], batch_size: int) -> list[list[int]]:
    """Indices of the requests, cut into batches of at most ``batch_size``.

    Requests with different ``groups`` keys never share a batch; inside a group the
    longest come first, so each batch pads little and an out-of-memory error shows up
    at the start of a run rather than at its end. Ties keep the input order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    by_group: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        by_group[group].append(index)
    batches = []
    for members in by_group.values():
        members.sort(key=lambda i: -lengths[i])
        batches.extend(members[start : start + batch_size] for start in range(0, len(members), batch_size))
    return batches
