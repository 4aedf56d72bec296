# Runtime shared by every advcam_mm config (MMSeg's default_runtime plus the plugin import).
custom_imports = dict(imports=['advcam_mm'], allow_failed_imports=False)
default_scope = 'mmseg'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # NCCL on GPUs; advcam_mm.compat switches to gloo when CUDA is unavailable.
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_level = 'INFO'
load_from = None
resume = False
tta_model = dict(type='SegTTAModel')
