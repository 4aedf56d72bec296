# The classifier schedule of the embedded setup. IRN fine-tunes ImageNet weights (conv1 and BatchNorm
# frozen, lr 0.1, no momentum, 5 epochs); no such weights exist for the embedded backbone, so it trains
# from scratch (BatchNorm and stem trained) with SGD momentum 0.9, lr 0.05 (10x head, wd 1e-4, poly as
# IRN) for 30 epochs = 300 steps of 16 over the 160 train_aug images: the time budget's share (val mAP
# 79 / 85 / 90 after 10 / 20 / 30 epochs on a draft of the generator). Not the authors' recipe: none
# applies from scratch.
_base_ = ['./cls_poly_5ep.py']
optim_wrapper = dict(optimizer=dict(lr=0.05, momentum=0.9))
train_cfg = dict(max_epochs=30, val_interval=10)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=30, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=10))
