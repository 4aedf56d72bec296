# IRN's classifier schedule: 5 epochs, SGD, poly (power 0.9), lr 0.1 backbone / 10x head, wd 1e-4.
# IRN's PolyOptimizer hands weight_decay to SGD's positional momentum slot, so its SGD runs
# with momentum 1e-4 (none in effect); we keep that behaviour.
optimizer = dict(type='SGD', lr=0.1, momentum=1e-4, weight_decay=1e-4)
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=optimizer,
    paramwise_cfg=dict(custom_keys={'classifier': dict(lr_mult=10.0)}))
# Poly decay per iteration, (1 - step / max_step) ** 0.9, as IRN.
param_scheduler = [
    dict(type='PolyLR', power=0.9, eta_min=0.0, by_epoch=True, begin=0, end=5,
         convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=5, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=True),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=True, interval=1, max_keep_ckpts=2),
    sampler_seed=dict(type='DistSamplerSeedHook'))
log_processor = dict(by_epoch=True)
