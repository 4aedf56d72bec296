"""A sampler that puts a fixed number of labelled and weak samples in every batch."""
import math
from typing import Iterator, Optional

import torch
from mmengine.dist import get_dist_info, sync_random_seed
from mmseg.registry import DATA_SAMPLERS
from torch.utils.data import Sampler


@DATA_SAMPLERS.register_module()
class SemiSupervisedSampler(Sampler):
    """Indices of a ``SemiSupervisedDataset`` in batches of ``labelled_per_batch`` + ``weak_per_batch``.

    CCT (Ouali et al., CVPR 2020; ``trainer.py``) draws each iteration one
    batch from the labelled loader (cycled) and one from the unlabelled loader
    (10 + 10 on VOC); an epoch is one pass over the unlabelled part. Here the
    same stream feeds one dataloader whose ``batch_size`` must be
    ``labelled_per_batch + weak_per_batch``: each consecutive run of that many
    indices is the labelled ones, then the weak ones. Per epoch the weak part
    is shuffled once (padded by wrapping round to whole batches on every rank)
    and the labelled part is drawn from fresh permutations as often as
    needed. Ranks take interleaved shares of the same permutations (like
    mmengine's ``DefaultSampler``), so each rank sees the same ratio and the
    same number of batches. ``set_epoch`` reshuffles (called by mmengine's
    loops). With ``infinite=True`` (for ``IterBasedTrainLoop``, like
    mmengine's ``InfiniteSampler``) the epochs follow one another without end.

    With BatchNorm in the encoder each part needs at least 2 samples per
    process (the pyramid pooling's 1x1 bin normalises over the batch).

    Args:
        dataset: a ``SemiSupervisedDataset`` (needs ``num_labelled``, ``num_weak``).
        labelled_per_batch (int), weak_per_batch (int): per-rank batch composition.
        shuffle (bool): random order (False: sequential, for checks).
        seed (int, optional): shared by all ranks; drawn and synchronised when None.
        infinite (bool): yield epoch after epoch without end.
    """

    def __init__(self, dataset, labelled_per_batch: int, weak_per_batch: int, shuffle: bool = True,
                 seed: Optional[int] = None, infinite: bool = False):
        for name in ('num_labelled', 'num_weak'):
            if not hasattr(dataset, name):
                raise TypeError(f'SemiSupervisedSampler needs a SemiSupervisedDataset (with {name}), got '
                                f'{type(dataset).__name__}')
        if labelled_per_batch < 1 or weak_per_batch < 1:
            raise ValueError(f'SemiSupervisedSampler: labelled_per_batch and weak_per_batch must be >= 1, '
                             f'got {labelled_per_batch}, {weak_per_batch}')
        self.num_labelled, self.num_weak = dataset.num_labelled, dataset.num_weak
        if self.num_labelled == 0 or self.num_weak == 0:
            raise ValueError(f'SemiSupervisedSampler: both parts must be non-empty, got '
                             f'{self.num_labelled} labelled and {self.num_weak} weak samples')
        self.labelled_per_batch, self.weak_per_batch = int(labelled_per_batch), int(weak_per_batch)
        self.batch_size = self.labelled_per_batch + self.weak_per_batch
        self.rank, self.world_size = get_dist_info()
        self.shuffle = shuffle
        self.infinite = infinite
        self.seed = sync_random_seed() if seed is None else seed
        self.epoch = 0
        self.num_batches = math.ceil(self.num_weak / (self.weak_per_batch * self.world_size))

    def _order(self, size, generator):
        return torch.randperm(size, generator=generator) if self.shuffle else torch.arange(size)

    def _rank_share(self, size, needed, generator):
        """``needed`` indices from repeated orders of ``range(size)``, this rank's interleaved share."""
        orders, total = [], 0
        while total < needed:
            orders.append(self._order(size, generator))
            total += size
        return torch.cat(orders)[:needed][self.rank::self.world_size].tolist()

    def __iter__(self) -> Iterator[int]:
        if not self.infinite:
            yield from self._epoch_indices(self.epoch)
            return
        epoch = self.epoch
        while True:
            yield from self._epoch_indices(epoch)
            epoch += 1

    def _epoch_indices(self, epoch: int) -> Iterator[int]:
        generator = torch.Generator()
        generator.manual_seed(self.seed + epoch)
        weak = self._rank_share(self.num_weak, self.num_batches * self.weak_per_batch * self.world_size,
                                generator)
        labelled = self._rank_share(self.num_labelled,
                                    self.num_batches * self.labelled_per_batch * self.world_size, generator)
        for batch in range(self.num_batches):
            yield from labelled[batch * self.labelled_per_batch:(batch + 1) * self.labelled_per_batch]
            for index in weak[batch * self.weak_per_batch:(batch + 1) * self.weak_per_batch]:
                yield self.num_labelled + index

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
