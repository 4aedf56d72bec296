# DeepLab-v2's COCO schedule: the VOC one (deeplabv2_poly_20k.py: SGD, momentum 0.9, weight decay
# 5e-4, lr 2.5e-4 with 10x on the ASPP-v2 head, poly 0.9, batch 10) run for 100k iterations, as
# kazuto1011/deeplab-pytorch configs/cocostuff164k.yaml (ITER_MAX 100000, batch 5 x ITER_SIZE 2,
# crop 321), the DeepLab-v2 code that ReCAM, AMN and CLIP-ES train their COCO segmentors with.
_base_ = ['./deeplabv2_poly_20k.py']
max_iters = 100000
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=20000)  # val2014: 40,137 images per validation
default_hooks = dict(checkpoint=dict(interval=10000))
