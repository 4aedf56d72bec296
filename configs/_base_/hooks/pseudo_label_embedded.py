# AdvCAM pseudo masks for a segmentor trained on the embedded dataset's train_aug: as
# pseudo_label_voc12aug.py, with the embedded experiments' folders (checkpoints given as work dirs).
custom_hooks = [
    dict(type='AdvCAMPseudoLabelHook',
         maps_dir='work_dirs/advcam_maps/embedded_train_aug',
         refiner=dict(type='irn', config='{{ fileDirname }}/../../advcam/irnet_r18-w16_100ep_embedded.py',
                      checkpoint='work_dirs/irnet_r18-w16_100ep_embedded'))
]
