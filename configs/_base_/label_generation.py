# How pseudo labels are drawn from the classifier and refined by IRN: the authors' values, the one place
# they live (the stages read these dicts from the configs; there are no defaults in the code).
#
# Class maps (advcam_mm/stages/class_maps.py; AdvCAM's obtain_CAM_masking.py): scales in the order of the
# reference's MSF dataset, flip; method='advcam' climbs 27 steps of 0.08 on the max-normalised gradient
# with the restricting mask at tau 0.5 and lambda 7 (Eq. 7); method='cam' gives IRN's multi-scale CAM.
# amp='bfloat16'/'float16' climbs under autocast. storage: the class-map files' form
# (advcam_mm/fileio/cam_files.py): IRN's float16 dict; 'uint8' halves it, 'strided' keeps the stride-4
# maps only (high_res rebuilt on read) for datasets of COCO's size. The rest change only the speed:
# images of one size climb together (grouped within a look-ahead of `lookahead` images, at most
# `max_group`), in batches of at most `max_batch` views and `max_batch_pixels` view pixels (memory);
# `channels_last` and `compile` (torch.compile options, e.g. dict(mode='reduce-overhead') for CUDA
# graphs) for GPUs; `num_workers` processes decode the images.
label_generation = dict(
    method='advcam', scales=(1.0, 0.5, 1.5, 2.0), flip=True,
    steps=27, step_size=0.08, mask_thresh=0.5, mask_coef=7.0, amp=None, storage='float16',
    max_batch=None, max_batch_pixels=None, lookahead=64, max_group=None, channels_last=False, compile=None,
    num_workers=2)
# IR labels (advcam_mm/stages/ir_labels.py; AdvCAM's run_sample.py; IRN's own are 0.30 / 0.05): background
# scores of the confident foreground / background seeds, each refined by IRN's dense CRF.
ir_labels = dict(conf_fg_thres=0.35, conf_bg_thres=0.15)
# Random walk (advcam_mm/stages/pseudo_masks.py, refiner 'irn'; AdvCAM's run_sample.py and
# step/make_sem_seg_labels.py): affinity exponent beta, 2 ** exp_times steps over pairs within radius 5
# of IRN's stride-4 grid, class maps ** cam_power before the walk, background score after it.
random_walk = dict(beta=10, exp_times=8, sem_seg_bg_thres=0.25, radius=5, cam_power=1.5)
# The dense CRF of the "+CRF" seeds, the IR labels and the 'crf' refiner (IRN's misc/imutils.py
# crf_inference_label): 10 mean-field iterations, unary confidence 0.7, a smoothness kernel (3 px,
# weight 3) and an appearance kernel (50 px, 5 colour levels, weight 10): lengths in pixels of VOC's
# ~500-pixel images.
seed_crf = dict(t=10, gt_prob=0.7, gaussian_sxy=3, gaussian_compat=3, bilateral_sxy=50, bilateral_srgb=5,
                bilateral_compat=10)
