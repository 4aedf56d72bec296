"""Groups of equal-size items from an ordered stream, with a bounded look-ahead.

Batched AdvCAM climbs images of one size together (VOC is mostly 375x500
and 500x375), but the images arrive in dataset order. :func:`group_by_size`
holds back at most ``lookahead`` items to find partners of equal size, so
memory stays bounded and the groups - which items end up together, and the
order in which groups come out - depend only on the input order: the same
list gives the same groups, hence the same batches and files, on every run.

Framework-free: any iterable and any hashable key.
"""
from collections import OrderedDict
from typing import Callable, Hashable, Iterable, Iterator, List, Optional, Sequence, TypeVar

Item = TypeVar('Item')


def group_by_size(items: Iterable[Item], key: Callable[[Item], Hashable], lookahead: int,
                  max_group: Optional[int] = None) -> Iterator[List[Item]]:
    """Yield lists of items with equal ``key``, each list in input order.

    Items are read one at a time into the pending group of their key. Rules,
    applied after each item is read:

    1. a pending group that holds ``max_group`` items is emitted at once;
    2. while the oldest pending item was read ``lookahead`` items before the
       newest, the group that holds it is emitted, however small;
    3. at the end, the pending groups are emitted, oldest first.

    So every item comes out exactly once, at the latest when the item
    ``lookahead`` places after it has been read; at most ``lookahead`` items
    are pending (``lookahead=0``: one item per group, in input order); groups
    never exceed ``max_group`` (unbounded when None).
    """
    if lookahead < 0:
        raise ValueError(f'lookahead must be >= 0, got {lookahead}')
    if max_group is not None and max_group < 1:
        raise ValueError(f'max_group must be >= 1 or None, got {max_group}')
    pending = OrderedDict()  # key -> (position of its oldest item, items), oldest group first
    for position, item in enumerate(items):
        item_key = key(item)
        _, group = pending.setdefault(item_key, (position, []))
        group.append(item)
        if max_group is not None and len(group) >= max_group:
            del pending[item_key]
            yield group
        while pending and position - next(iter(pending.values()))[0] >= lookahead:
            yield pending.popitem(last=False)[1][1]
    while pending:
        yield pending.popitem(last=False)[1][1]


def size_groups(sizes: Sequence[Hashable], lookahead: int, max_group: Optional[int] = None) -> List[List[int]]:
    """:func:`group_by_size` on positions: lists of indices into ``sizes``."""
    return list(group_by_size(range(len(sizes)), sizes.__getitem__, lookahead, max_group))
