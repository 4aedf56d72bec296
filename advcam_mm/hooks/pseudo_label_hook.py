"""The AdvCAM pseudo-label hook: fills the segmentor's training masks before its first iteration."""
import copy
from typing import Optional

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ..stages.pseudo_masks import make_pseudo_masks, refiner_settings


@HOOKS.register_module()
class AdvCAMPseudoLabelHook(Hook):
    """Before training, make the pseudo masks the training dataset reads (the pseudo-mask stage).

    Lets any MMSeg segmentor train on AdvCAM's labels with one command
    (``tools/train.py``, ``tools/dist_train.sh``): in ``before_train`` -
    after checkpoint loading or resuming, before the first iteration - it
    hands ``runner.train_dataloader.dataset`` to
    :func:`advcam_mm.stages.pseudo_masks.make_pseudo_masks`, which writes into
    the dataset's own ``mask_dir`` (set it once there, absolute, with
    ``check_files=False``: the files appear only now), reuses a complete folder
    made with the same settings, makes what is missing, refuses one made
    otherwise unless ``regenerate=True``, and splits the images over the ranks.
    The class maps must exist already (``tools/make_cams.py``; the hook does not
    run the classifier).

    When masks were written and the loop's dataloader iterator already exists
    with worker processes (``IterBasedTrainLoop`` creates it when the loop is
    built, and its workers start prefetching batches whose masks did not exist
    yet), the training dataloader is rebuilt from ``runner.cfg.train_dataloader``
    with the runner's seed (same sampling order) and the stale iterator's
    workers are shut down.

    Args:
        maps_dir (str): the class-map folder (CAM or AdvCAM maps of every training image).
        refiner (str | dict): ``dict(type='none' | 'crf', bg_threshold=...)`` or
            ``dict(type='irn', config=<IRNet config>, checkpoint=<IRNet checkpoint>)``
            (:func:`advcam_mm.stages.pseudo_masks.refiner_settings`).
        regenerate (bool): replace masks made with other settings instead of refusing them.
        device (str, optional): default the rank's GPU, else the CPU.
    """

    priority = 'VERY_HIGH'

    def __init__(self, maps_dir: str, refiner, regenerate: bool = False, device: Optional[str] = None):
        refiner_settings(refiner)  # a bad refiner fails when the config is built, not after hours
        self.maps_dir = maps_dir
        self.refiner = refiner
        self.regenerate = regenerate
        self.device = device
        self.summary = None

    def make_labels(self, dataset) -> dict:
        """Make the masks ``dataset`` reads: what ``before_train`` does."""
        self.summary = make_pseudo_masks(dataset, self.maps_dir, self.refiner, self.regenerate, self.device)
        return self.summary

    def before_train(self, runner) -> None:
        summary = self.make_labels(runner.train_dataloader.dataset)
        if summary['num_generated']:
            self._drop_prefetched_batches(runner)

    @staticmethod
    def _drop_prefetched_batches(runner):
        loop = runner.train_loop
        iterator = getattr(loop, 'dataloader_iterator', None)
        if iterator is None or getattr(loop.dataloader, 'num_workers', 0) == 0:
            return  # no iterator yet (epoch-based loops) or nothing read ahead (no workers)
        dataloader_cfg = runner.cfg.get('train_dataloader')
        if not dataloader_cfg:
            raise RuntimeError('AdvCAMPseudoLabelHook made masks after the dataloader workers started reading; '
                               'it needs runner.cfg.train_dataloader to rebuild the dataloader. Use num_workers=0 '
                               'or make the masks first with tools/make_pseudo_labels.py')
        diff_rank_seed = (runner.cfg.get('randomness') or {}).get('diff_rank_seed', False)
        stale = getattr(iterator, '_iterator', None)
        loop.dataloader = runner.build_dataloader(copy.deepcopy(dataloader_cfg), seed=runner.seed,
                                                  diff_rank_seed=diff_rank_seed)
        loop.dataloader_iterator = type(iterator)(loop.dataloader)
        if hasattr(stale, '_shutdown_workers'):
            stale._shutdown_workers()
