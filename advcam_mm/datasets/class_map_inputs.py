"""Inputs of class-map generation, decoded and normalised in DataLoader workers.

Each sample (image id, image path, present class ids) becomes a
:class:`ClassMapInput`: the image as a normalised ``(3, H, W)`` float32
tensor, ``(x - mean) / std`` on the RGB values (as the classifier's data
preprocessor does), its class ids and original size. Decoding JPEGs is the
CPU-heavy part of feeding the climb; a ``DataLoader`` with workers and
``pin_memory`` (:func:`class_map_loader`) does it while the GPU climbs,
and pinned images reach the GPU by asynchronous copies.
"""
from typing import NamedTuple, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..core.image_tensor import normalise_image
from ..fileio.images import read_rgb


class ClassMapInput(NamedTuple):
    image_id: str
    image: torch.Tensor  # (3, H, W) float32, normalised
    class_ids: torch.Tensor  # (C,) int64, 0-based foreground classes
    size: Tuple[int, int]  # (H, W) of the image file


def class_map_samples(dataset, indices: Sequence[int]) -> list:
    """``(image id, image path, class ids)`` of ``indices`` of a classification dataset.

    ``dataset`` offers ``get_data_info(i)`` with ``img_id``, ``img_path`` and
    the multi-hot ``gt_class_labels`` (:class:`VOCClassificationDataset`).
    """
    samples = []
    for index in indices:
        info = dataset.get_data_info(index)
        samples.append((info['img_id'], info['img_path'], np.flatnonzero(np.asarray(info['gt_class_labels']) > 0)))
    return samples


class ClassMapInputs(Dataset):
    """Decoded, normalised images with their class ids, in the order of ``samples``.

    Args:
        samples: ``(image id, image path, class ids)`` triples.
        mean, std: per-channel RGB normalisation (the classifier's).
    """

    def __init__(self, samples: Sequence[tuple], mean: Sequence[float], std: Sequence[float]):
        self.samples = []
        for position, sample in enumerate(samples):
            if len(sample) != 3:
                raise ValueError(f'sample {position} must be (image id, image path, class ids), got {sample!r}')
            image_id, path, class_ids = sample
            self.samples.append((str(image_id), str(path), np.asarray(class_ids, dtype=np.int64).reshape(-1)))
        if len(mean) != 3 or len(std) != 3:
            raise ValueError(f'mean and std must have 3 values (RGB), got {mean} and {std}')
        self.mean, self.std = tuple(float(m) for m in mean), tuple(float(s) for s in std)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> ClassMapInput:
        image_id, path, class_ids = self.samples[index]
        image_rgb = read_rgb(path)
        return ClassMapInput(image_id, normalise_image(image_rgb, self.mean, self.std),
                             torch.from_numpy(class_ids.copy()), tuple(image_rgb.shape[:2]))


def _as_is(sample: ClassMapInput) -> ClassMapInput:
    """No collation (the default would turn the size tuple into a list)."""
    return sample


def class_map_loader(inputs: ClassMapInputs, num_workers: int = 2, pin_memory: bool = False,
                     prefetch_factor: int = 4) -> DataLoader:
    """Unbatched, in-order ``DataLoader`` over ``inputs`` (grouping into batches is the climb's).

    ``pin_memory``: page-locked images for asynchronous host-to-GPU copies
    (only with CUDA).
    """
    return DataLoader(inputs, batch_size=None, shuffle=False, num_workers=num_workers, collate_fn=_as_is,
                      pin_memory=pin_memory and torch.cuda.is_available(),
                      prefetch_factor=prefetch_factor if num_workers > 0 else None)
