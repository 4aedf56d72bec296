# IRN's IRNet schedule (step/train_irn.py): 3 epochs, SGD, poly (power 0.9) per iteration,
# lr 0.1 for the boundary branch and 10x (1.0) for the displacement branch, weight decay 1e-4.
# IRN's PolyOptimizer hands weight_decay to SGD's positional momentum slot, so its SGD runs
# with momentum 1e-4 (none in effect); we keep that behaviour. The frozen backbone gets no update.
optimizer = dict(type='SGD', lr=0.1, momentum=1e-4, weight_decay=1e-4)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    paramwise_cfg=dict(custom_keys={'displacement_branch': dict(lr_mult=10.0)}))
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=3,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=3)  # no validation: IRNet is judged by its masks
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=True)
