# The DeepLab-v2 schedule of the embedded setup: DeepLab-v2's (deeplabv2_poly_20k.py: SGD momentum 0.9,
# wd 5e-4, poly 0.9, 10x head, batch 10) over 600 iterations, the time budget's share (about a minute
# on 2 CPU cores; CCT gets the same budget), at the same integrated step size sum_t lr_t as its 20,000
# poly steps at 2.5e-4: lr = 2.5e-4 * 20,000 / 600 = 8.3e-3.
_base_ = ['./deeplabv2_poly_20k.py']
optim_wrapper = dict(optimizer=dict(lr=8.3e-3))
param_scheduler = [dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=600, by_epoch=False)]
train_cfg = dict(max_iters=600, val_interval=600)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=600))
