# AdvCAM's semi-supervised result (Sec. 5.3, Table 6): CCT trained on VOC 2012 `train` (1,464
# pixel-labelled images) and `train_aug` minus `train` (9,118 images with AdvCAM pseudo masks),
# with CCT's published settings (ResNet-50 OS8 + PPM, 30 auxiliary decoders, unsupervised weight 30
# ramped over 10 % of training, weak-label weight 0.4, SGD lr 0.01 / 0.001 backbone, poly,
# batch 10 + 10, crop 320, 80 epochs = 72,960 iterations); evaluated by mmseg's IoUMetric on val.
#   python tools/train.py configs/advcam/cct_r50_80ep_voc12aug-semi.py \
#       --cfg-options train_dataloader.dataset.weak.mask_dir=$PWD/<pseudo masks>
#   bash tools/dist_train.sh configs/advcam/cct_r50_80ep_voc12aug-semi.py 2 --cfg-options \
#       train_dataloader.batch_size=10 train_dataloader.sampler.labelled_per_batch=5 \
#       train_dataloader.sampler.weak_per_batch=5 train_dataloader.dataset.weak.mask_dir=...
# Two test protocols:
#   python tools/test.py configs/advcam/cct_r50_80ep_voc12aug-semi.py CKPT
#       single scale, no CRF (what CCT's trainer reports during training);
#   python tools/test.py configs/advcam/cct_r50_80ep_voc12aug-semi.py CKPT --tta \
#       --cfg-options model.test_cfg.crf.enabled=True
#       the author's protocol for 77.8 (jbeomlee93/AdvCAM #12, where single-scale testing gave a
#       user 74.8): CCT's multi-scale inference (scales 0.5-1.5 + flip, logits averaged, as CCT's
#       inference.py) followed by DeepLab-v2's dense CRF (deeplab-pytorch's settings).
_base_ = [
    '../_base_/models/cct_r50.py', '../_base_/datasets/voc12aug_semi.py',
    '../_base_/default_runtime.py', '../_base_/schedules/cct_poly_80ep.py'
]
tta_model = dict(type='SegTTAModelWithCRF', view_average='logits')
