# The IRNet schedule of the embedded setup: IRN's (poly, 10x displacement branch, wd 1e-4); 3 epochs of
# IRN's SGD (10 iterations each here, momentum 1e-4) leave the boundary branch untrained on this small
# set: 20 epochs with momentum 0.9, lr 0.5 (5.0 for the displacement branch).
_base_ = ['./irnet_poly_3ep.py']
optim_wrapper = dict(optimizer=dict(lr=0.5, momentum=0.9))
train_cfg = dict(max_epochs=20)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=20, convert_to_iter_based=True)
]
default_hooks = dict(logger=dict(interval=10))
