# AdvCAM pseudo masks for a segmentor trained on VOC 2012 train_aug (advcam_mm/stages/pseudo_masks.py):
# before the first iteration the hook fills the training dataset's mask_dir from the AdvCAM maps of
# train_aug (tools/make_cams.py) by IRN's random walk over the trained IRNet's boundary map, reuses a
# finished folder, refuses one made otherwise (regenerate=True replaces it). A checkpoint may be a
# training work dir (its manifest names the final checkpoint). Other refiners:
#   refiner=dict(type='crf', bg_threshold=0.25)  (seeds + IRN's CRF)   dict(type='none', bg_threshold=0.25)
# Make the masks on N GPUs ahead of training:
#   torchrun --nproc_per_node N tools/make_pseudo_labels.py CONFIG --launcher pytorch
custom_hooks = [
    dict(type='AdvCAMPseudoLabelHook',
         maps_dir='work_dirs/advcam_maps/voc12aug_train_aug',
         refiner=dict(type='irn', config='{{ fileDirname }}/../../advcam/irnet_r50_3ep_voc12aug.py',
                      checkpoint='work_dirs/irnet_r50_3ep_voc12aug'))
]
