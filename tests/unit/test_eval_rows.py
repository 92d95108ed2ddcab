"""A capped evaluation scores examples spread over the whole held-out split, not its first batches."""

from __future__ import annotations

import datasets
import pytest

from toolkit.tasks.eval_rows import scored_count, scored_examples, scored_indices


@pytest.mark.parametrize("total,max_batches,batch_size", [(100, 2, 8), (1104, 20, 32), (10, 3, 4), (7, 7, 1), (5, 1, 5)])
def test_capped_positions_are_distinct_ordered_and_span_the_split(total, max_batches, batch_size):
    positions = scored_indices(total, max_batches, batch_size)
    assert len(positions) == scored_count(total, max_batches, batch_size) == min(total, max_batches * batch_size)
    assert positions == sorted(set(positions)) and positions[0] == 0 and positions[-1] < total
    if len(positions) < total:  # the last one lies in the final stretch of the split, not near the start
        assert positions[-1] >= total - total // len(positions) - 1


def test_no_cap_or_a_cap_beyond_the_split_scores_everything_in_order():
    assert scored_indices(9, None, 4) == list(range(9))
    assert scored_indices(9, 5, 4) == list(range(9))


def test_a_split_ordered_by_part_is_scored_in_every_part():
    # As a mixed card's validation split: 60 news rows, then 30 novel rows, then 30 reviews.
    rows = datasets.Dataset.from_dict({"part": ["news"] * 60 + ["novel"] * 30 + ["reviews"] * 30})
    scored = scored_examples(rows, max_batches=3, batch_size=4)
    assert len(scored) == 12
    assert scored["part"].count("news") == 6 and scored["part"].count("novel") == 3 and scored["part"].count("reviews") == 3
    assert scored_examples(rows, max_batches=None, batch_size=4) is rows
