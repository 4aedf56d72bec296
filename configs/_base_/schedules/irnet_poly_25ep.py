# The IRNet schedule of the embedded setup: IRN's optimizer unchanged (irnet_poly_3ep.py: SGD lr 0.1,
# 10x for the displacement branch, wd 1e-4, momentum slot 1e-4, poly) for IRN's number of steps: IRN
# trains 3 epochs of 32 crops of 10,582 images = 990 steps; here 25 epochs of 4 crops of the 160
# train_aug images = 1,000 steps (the batch, _base_/datasets/embedded_ir_labels.py, is what the time
# budget allows).
_base_ = ['./irnet_poly_3ep.py']
train_cfg = dict(max_epochs=25)
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=25, convert_to_iter_based=True)
]
