# The classifier schedule of the embedded setup: IRN's (poly, 10x head, wd 1e-4) for a backbone trained
# from scratch on a small set: 15 epochs, SGD with momentum 0.9, lr 0.05.
_base_ = ['./cls_poly_5ep.py']
optim_wrapper = dict(optimizer=dict(lr=0.05, momentum=0.9))
train_cfg = dict(max_epochs=15, val_interval=5)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=15, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5))
