# DeepLab-v2 on the embedded dataset: DeepLab-v2's recipe as the paper's text gives it
# (deeplabv2_r101_20k_voc12aug-papertext.py: plain cross-entropy, rescale 0.5-1.5) with the narrow
# ResNet-18 of the embedded classifier (its trained backbone as the start). The settings that follow from
# the image size or the run's length, by the rules written beside them: crop 96 and the test CRF's
# spatial stds (../_base_/embedded_scale.py); 600 iterations of 10 crops at lr 8.3e-3, DeepLab-v2's
# integrated step size (../_base_/schedules/deeplabv2_poly_600it.py). The pseudo-label hook
# (_base_/hooks/pseudo_label_embedded.py) makes the masks from the classifier's maps and the IRNet
# first; tools/pipeline.py runs it all.
_base_ = [
    '../_base_/models/deeplabv2_r18-w16.py', '../_base_/datasets/embedded_pseudo_masks.py',
    '../_base_/hooks/pseudo_label_embedded.py', '../_base_/default_runtime.py',
    '../_base_/schedules/deeplabv2_poly_600it.py'
]
model = dict(
    backbone=dict(init_cfg=dict(checkpoint='work_dirs/cam_r18-w16_30ep_embedded/epoch_30.pth')),
    decode_head=dict(num_classes=5),
    test_cfg=dict(crf={{_base_.embedded_segmentation_crf}}))
tta_model = dict(type='SegTTAModelWithCRF')
default_hooks = dict(visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
