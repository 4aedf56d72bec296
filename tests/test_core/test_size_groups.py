"""Equal-size groups with a bounded look-ahead: known answers, every item once, the delay bound."""
import random

import pytest

from advcam_mm.core.size_groups import group_by_size, size_groups

KEYS = list('AABABCCA')


def test_known_groups_on_a_hand_made_stream():
    assert size_groups(KEYS, lookahead=2) == [[0, 1], [2, 4], [3], [5, 6], [7]]
    assert size_groups(KEYS, lookahead=10, max_group=2) == [[0, 1], [2, 4], [5, 6], [3, 7]]
    assert size_groups(KEYS, lookahead=10) == [[0, 1, 3, 7], [2, 4], [5, 6]]  # by first appearance
    assert size_groups(KEYS, lookahead=0) == [[i] for i in range(len(KEYS))]
    assert size_groups(KEYS, lookahead=1) == [[0, 1], [2], [3], [4], [5, 6], [7]]  # only neighbours join
    assert size_groups([], lookahead=3) == []


@pytest.mark.parametrize('lookahead,max_group', [(0, None), (3, None), (7, 4), (50, 5), (1000, None)])
def test_every_item_once_in_equal_key_groups_within_the_delay_bound(lookahead, max_group):
    rng = random.Random(lookahead)
    keys = [rng.choice([(375, 500), (500, 375), (333, 500)]) for _ in range(200)]
    read = []

    def stream():
        for i in range(len(keys)):
            read.append(i)
            yield i

    emitted = []
    for group in group_by_size(stream(), keys.__getitem__, lookahead, max_group):
        assert len({keys[i] for i in group}) == 1 and group == sorted(group)
        assert max_group is None or len(group) <= max_group
        for i in group:  # emitted before more than `lookahead` later items were read
            assert len(read) - 1 - i <= lookahead
        emitted.extend(group)
    assert sorted(emitted) == list(range(len(keys)))
    again = size_groups(keys, lookahead, max_group)
    assert sum(again, []) == emitted  # deterministic: same input, same groups in the same order
    if lookahead >= len(keys) and max_group is None:
        assert len(again) == 3


def test_bad_settings():
    with pytest.raises(ValueError, match='lookahead'):
        size_groups(KEYS, lookahead=-1)
    with pytest.raises(ValueError, match='max_group'):
        size_groups(KEYS, lookahead=2, max_group=0)
