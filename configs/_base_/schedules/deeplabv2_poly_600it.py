# The DeepLab-v2 schedule of the embedded setup: DeepLab-v2's (SGD, momentum 0.9, wd 5e-4, poly, 10x head)
# over 600 iterations with lr 0.01 (the backbone is small and training short).
_base_ = ['./deeplabv2_poly_20k.py']
optim_wrapper = dict(optimizer=dict(lr=0.01))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=600, by_epoch=False)]
train_cfg = dict(max_iters=600, val_interval=600)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=600))
