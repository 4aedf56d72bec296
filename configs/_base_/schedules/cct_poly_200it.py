# The CCT schedule of the embedded setup: CCT's (SGD, momentum 0.9, wd 1e-4, poly) over 200 iterations
# with lr 0.05, the same for the backbone (it is small and starts from the classifier).
_base_ = ['./cct_poly_80ep.py']
max_iters = 200
val_interval = 100
optim_wrapper = dict(optimizer=dict(lr=0.05), paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=1.0)}))
param_scheduler = [dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(max_iters=max_iters, val_interval=val_interval)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=val_interval, save_best=None))
