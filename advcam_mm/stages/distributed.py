"""Processes of a per-image stage: starting the group, one decision for all ranks, splitting the images.

Ranks split a stage's images as ``ids[rank::world_size]``; every file is
written atomically, so N processes make the files one would. Rank 0 alone
plans and writes the manifest; :func:`decide_on_rank_zero` hands its plan
(or its error) to every rank, so no rank waits forever on one that failed.
"""
import os
from typing import Callable, Optional


class StageError(RuntimeError):
    """A stage that cannot run as asked; raised on every rank with rank 0's message."""


def init_launcher(launcher: str = 'none', device: Optional[str] = None) -> tuple:
    """Start the process group of a per-image stage; return ``(rank, world_size, device)``.

    ``launcher='pytorch'`` under torchrun: NCCL on GPUs, gloo on CPU. The device
    is ``cuda:LOCAL_RANK`` when CUDA is available, else the CPU, where each of
    ``world_size`` processes gets its share of the cores.
    """
    import torch
    from mmengine.dist import get_dist_info, init_dist, is_distributed
    if launcher != 'none' and not is_distributed():
        init_dist(launcher, backend='nccl' if torch.cuda.is_available() else 'gloo')
    rank, world_size = get_dist_info()
    local_rank = int(os.environ.get('LOCAL_RANK', 0))
    device = device or (f'cuda:{local_rank}' if torch.cuda.is_available() else 'cpu')
    if str(device) == 'cpu' and world_size > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // world_size))
    return rank, world_size, device


def decide_on_rank_zero(decide: Callable[[], object]):
    """Run ``decide()`` on rank 0 and return its result on every rank; its error is raised on every rank."""
    from mmengine.dist import broadcast_object_list, get_dist_info
    rank, world_size = get_dist_info()
    if world_size == 1:
        return decide()
    box = [None]
    if rank == 0:
        try:
            box[0] = ('ok', decide())
        except Exception as error:  # noqa: BLE001 - every rank must learn of it
            box[0] = ('error', f'{type(error).__name__}: {error}')
    broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == 'error':
        raise StageError(value)
    return value


def barrier_if_distributed() -> None:
    from mmengine.dist import barrier, get_dist_info
    if get_dist_info()[1] > 1:
        barrier()


def this_rank_share(items: list, rank: int, world_size: int) -> list:
    """The items rank ``rank`` makes: ``items[rank::world_size]``."""
    return list(items)[rank::world_size]
