"""Networks a stage runs for inference: built from a config, weights from a checkpoint, eval mode."""
import copy
import os


def build_inference_model(cfg, checkpoint, device='cpu', what='model', required=(), strict=True):
    """Build ``cfg.model``, load ``checkpoint`` and return it on ``device`` in eval mode.

    The backbone's ``init_cfg`` is dropped (the checkpoint holds the trained
    weights, so no ImageNet download); ``required`` names the methods the
    caller needs, checked with an error that says what the model lacks. The
    checkpoint must fit the model exactly (:func:`advcam_mm.fileio.checkpoints.load_model_weights`
    lists what does not; an authors' checkpoint is pointed to ``tools/convert_checkpoint.py``);
    ``strict=False`` is the escape hatch: it loads what fits and logs the rest.
    """
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from ..fileio.checkpoints import load_model_weights
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.get('backbone', {}).pop('init_cfg', None)
    model = MODELS.build(model_cfg)
    missing = [name for name in required if not hasattr(model, name)]
    if missing:
        raise TypeError(f'{type(model).__name__} is not a usable {what}: it lacks {", ".join(missing)}')
    if checkpoint is not None:
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f'{checkpoint}: {what} checkpoint not found (train it with tools/train.py)')
        load_model_weights(model, checkpoint, strict=strict, what=what)
    return model.to(device).eval()


def build_cam_model(cfg, checkpoint, device='cpu'):
    """The classifier of ``cfg.model`` with ``checkpoint``, offering the CAM protocol."""
    try:
        return build_inference_model(cfg, checkpoint, device, 'classifier', ('cam_features', 'cam_weight'))
    except TypeError as error:
        raise TypeError(f'{error} (wrap a torchvision classifier with TorchvisionCAMAdapter)') from error


def build_irnet(cfg, checkpoint, device='cpu'):
    """The IRNet of ``cfg.model`` with ``checkpoint`` (its boundary map drives the random walk)."""
    return build_inference_model(cfg, checkpoint, device, 'IRNet', ('boundary_and_displacement',))
