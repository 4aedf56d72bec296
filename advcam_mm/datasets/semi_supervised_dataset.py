"""Pixel-labelled and weakly-labelled samples in one dataset, each marked with its kind."""
from mmengine.dataset import BaseDataset, ConcatDataset, force_full_init
from mmseg.registry import DATASETS


def _image_ids(dataset):
    ids = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        ids.append(info.get('img_id', info.get('img_path')))
    return ids


@DATASETS.register_module()
class SemiSupervisedDataset(ConcatDataset):
    """``labelled`` samples (indices ``0..L-1``) followed by ``weak`` ones (``L..L+W-1``).

    The data of semi-supervised training as CCT (Ouali et al., CVPR 2020)
    and AdvCAM (Sec. 5.3) use it: VOC ``train`` with ground-truth masks and
    ``train_aug`` minus ``train`` with pseudo masks
    (``VOCSplitDifferenceDataset``). Every sample's ``data_samples`` gets the
    metainfo ``is_labelled`` (True for the labelled part), which
    ``CCTSegmentor`` reads to pick the loss; ``SemiSupervisedSampler`` puts
    a fixed number of each kind in every batch. Each part has its own
    pipeline; both must produce the same crop size to be batched.

    Args:
        labelled (dict | BaseDataset): the pixel-labelled dataset.
        weak (dict | BaseDataset): the weakly (pseudo-) labelled dataset.
        allow_overlap (bool): by default an image id in both parts is an
            error (a wrong split list would silently train on pseudo masks
            of labelled images, or the other way round).
    """

    def __init__(self, labelled, weak, allow_overlap=False, lazy_init=False):
        parts = []
        for name, part in (('labelled', labelled), ('weak', weak)):
            if isinstance(part, dict):
                part = DATASETS.build(part)
            if not isinstance(part, BaseDataset):
                raise TypeError(f'SemiSupervisedDataset: {name} must be a dataset config or an mmengine '
                                f'BaseDataset, got {type(part).__name__}')
            parts.append(part)
        self.allow_overlap = allow_overlap
        super().__init__(parts, lazy_init=lazy_init)

    def full_init(self):
        if self._fully_initialized:
            return
        super().full_init()
        if not self.allow_overlap:
            both = set(_image_ids(self.datasets[0])) & set(_image_ids(self.datasets[1]))
            if both:
                raise ValueError(f'SemiSupervisedDataset: {len(both)} images are in both the labelled and the '
                                 f'weak part (e.g. {sorted(both)[:3]}); give disjoint splits (the weak part '
                                 f'of VOC is train_aug minus train: VOCSplitDifferenceDataset) or '
                                 f'allow_overlap=True')

    @property
    @force_full_init
    def num_labelled(self):
        return len(self.datasets[0])

    @property
    @force_full_init
    def num_weak(self):
        return len(self.datasets[1])

    @force_full_init
    def __getitem__(self, idx):
        dataset_idx, sample_idx = self._get_ori_dataset_idx(idx)
        packed = self.datasets[dataset_idx][sample_idx]
        if isinstance(packed, dict) and packed.get('data_samples') is not None:
            packed['data_samples'].set_metainfo(dict(is_labelled=dataset_idx == 0))
        return packed
