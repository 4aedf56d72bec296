# Step 3 of AdvCAM: IRN's IRNet on VOC 2012 train_aug IR labels made from AdvCAM maps
# (frozen ResNet-50, crop 512, batch 32, 3 epochs, SGD poly, lr 0.1 / 10x displacement).
#   python tools/cams_to_ir_labels.py --config configs/advcam/irn_resnet50_voc.py --cam-dir <maps>
#   python tools/train.py configs/advcam/irn_resnet50_voc.py
#   python tools/make_sem_seg_labels.py configs/advcam/irn_resnet50_voc.py \
#       work_dirs/irn_resnet50_voc/epoch_3.pth --cam-dir <maps> --out-dir <pseudo masks>
_base_ = [
    '../_base_/models/irn_resnet50.py', '../_base_/datasets/voc_irn.py',
    '../_base_/default_runtime.py', '../_base_/schedules/irn_poly_3ep.py'
]
