"""The AdvCAM pseudo-label hook: makes the training masks of a segmentor before its first iteration."""
import copy
from typing import Optional

from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ..apis.pseudo_labels import PseudoLabelGenerator


@HOOKS.register_module()
class AdvCAMPseudoLabelHook(Hook):
    """Before training, fill the training dataset's mask folder with AdvCAM pseudo labels.

    Lets any MMSeg segmentor train on AdvCAM's labels with one command
    (``tools/train.py`` or ``tools/dist_train.sh``): in ``before_train`` -
    only when training, after checkpoint loading/resuming and before the
    first iteration - it hands ``runner.train_dataloader.dataset`` to
    :class:`advcam_mm.apis.pseudo_labels.PseudoLabelGenerator`, which

    * takes the images and the label folder from the dataset itself (each
      sample's ``seg_map_path``), so the folder the hook fills is the folder
      the dataset reads: set it once, as the dataset's ``mask_dir`` (absolute
      path; ``check_files=False`` because the files appear only now);
    * reuses a complete folder whose manifest matches the configured
      settings, makes only what is missing, refuses a folder made with
      other settings unless ``regenerate=True``;
    * splits the images over all ranks and ends with a barrier.

    When labels were written and the loop's dataloader iterator already
    exists with worker processes (``IterBasedTrainLoop`` creates it when the
    loop is built, and its workers start prefetching batches whose masks do
    not exist yet), the training dataloader is rebuilt from
    ``runner.cfg.train_dataloader`` with the runner's seed (same sampling
    order) and the stale iterator's workers are shut down. Only rebuilding
    works: ``InfiniteSampler`` shares one index generator between iterators.

    Args:
        classifier_config (str): the CAM classifier config (e.g. ``configs/advcam/cls_resnet50_voc.py``).
        classifier_checkpoint (str): its checkpoint.
        method (str, optional): ``'cam'`` or ``'advcam'``; default the classifier config's ``label_generation``.
        label_generation (dict, optional): overrides of the config's
            ``label_generation`` (scales, flip, steps, step_size, mask_thresh, mask_coef, ...).
        refiner (str | dict): ``'none'`` / ``'crf'`` (seeds at ``bg_threshold``, default 0.25,
            without / with IRN's CRF) or ``dict(type='irn', config=..., checkpoint=...,
            [beta, exp_times, sem_seg_bg_thres, radius, cam_power])``. Default ``'crf'``.
        maps_dir (str, optional): class-map folder; default ``<mask folder>_class_maps``.
        label_dir (str, optional): if given, must equal the dataset's mask folder.
        regenerate (bool): replace labels made with other settings instead of refusing them.
        device (str, optional): default the rank's GPU, else CPU.
    """

    priority = 'VERY_HIGH'

    def __init__(self, classifier_config: str, classifier_checkpoint: str, method: Optional[str] = None,
                 label_generation: Optional[dict] = None, refiner='crf', maps_dir: Optional[str] = None,
                 label_dir: Optional[str] = None, regenerate: bool = False, device: Optional[str] = None):
        self.generator = PseudoLabelGenerator(
            classifier_config, classifier_checkpoint, method=method, label_generation=label_generation,
            refiner=refiner, maps_dir=maps_dir, label_dir=label_dir, regenerate=regenerate, device=device)
        self.summary = None

    def make_labels(self, dataset) -> dict:
        """Make the labels ``dataset`` reads: what ``before_train`` does, and ``tools/make_pseudo_labels.py``."""
        self.summary = self.generator.run(dataset)
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
            raise RuntimeError('AdvCAMPseudoLabelHook made labels after the dataloader workers started reading; '
                               'it needs runner.cfg.train_dataloader to rebuild the dataloader. Use num_workers=0 '
                               'or make the labels first with tools/make_pseudo_labels.py')
        diff_rank_seed = (runner.cfg.get('randomness') or {}).get('diff_rank_seed', False)
        stale = getattr(iterator, '_iterator', None)
        loop.dataloader = runner.build_dataloader(copy.deepcopy(dataloader_cfg), seed=runner.seed,
                                                  diff_rank_seed=diff_rank_seed)
        loop.dataloader_iterator = type(iterator)(loop.dataloader)
        if hasattr(stale, '_shutdown_workers'):
            stale._shutdown_workers()
