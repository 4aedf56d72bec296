# AdvCAM pseudo masks for a segmentor trained on MS COCO 2014 train2014: as pseudo_label_voc12aug.py,
# with the COCO experiments' folders (checkpoints given as work dirs).
custom_hooks = [
    dict(type='AdvCAMPseudoLabelHook',
         maps_dir='work_dirs/advcam_maps/coco14_train2014',
         refiner=dict(type='irn', config='{{ fileDirname }}/../../advcam/irnet_r50_3ep_coco14.py',
                      checkpoint='work_dirs/irnet_r50_3ep_coco14'))
]
