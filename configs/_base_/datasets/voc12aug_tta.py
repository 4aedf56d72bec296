# Multi-scale + flip testing of VOC segmentors (tools/test.py --tta): the image at 0.5, 0.75, 1.0,
# 1.25 and 1.5 times its size, each as is and flipped (10 views). These are the scales of
# DeepLab-v2's test in this project and of CCT's inference.py (multi_scale_predict, flip=True);
# the experiment's tta_model says how the views are merged (mean of softmax, or of logits for CCT).
img_ratios = [0.5, 0.75, 1.0, 1.25, 1.5]
tta_pipeline = [
    dict(type='LoadImageWithCheck'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in img_ratios],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='LoadVOCAnnotations')],
            [dict(type='PackSegInputs')],
        ])
]
