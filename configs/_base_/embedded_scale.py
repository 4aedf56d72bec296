# The embedded setup's settings that follow from its image size, each beside its rule; the *_embedded
# configs read them as {{_base_.embedded_...}} (the VOC and COCO configs keep the authors' values).
# The embedded images are S = 128 px square (advcam_mm/datasets/embedded_dataset.py); a VOC image is
# about 500 x 375 px, geometric-mean side 433 px, its stride-4 grid 125 x 94 (~108 cells). A length in
# pixels or grid cells on VOC becomes f = 128 / 433 = 0.296 of it here.
embedded_image_size = 128

# IRN's random walk (make_sem_seg_labels.py): 2^8 steps of radius 5 spread a point to an rms 0.27 of
# VOC's grid side; on the 32-cell grid here they mix it completely (max/min 1.00). The same share needs
# 256 f^2 = 22 steps: exp_times = round(8 + 2 log2 f) = round(4.48) = 4 (measured: rms 0.26 of the grid).
# The radius 5 stays: an affinity takes the boundary's maximum along the whole path, so a longer jump
# cannot skip a boundary; distance enters through the number of steps. beta 10, background 0.25 and cam
# power 1.5 are IRN's / AdvCAM's (_base_/label_generation.py).
embedded_random_walk = dict(exp_times=4)

# IRNet learns from pixel pairs closer than 10 stride-4 cells (IRN); the same share of an object is
# round(10 f) = 3 cells here.
embedded_irn_radius = 3

# Crops: IRN crops 512 px (classifier and IRNet) -> 512 f = 151 -> 160, the next multiple of the
# backbone's stride 16 (as IRN's 512 exceeds most VOC images, most crops are the padded image);
# DeepLab-v2's 321 and CCT's 320 -> 95 -> 96 (a multiple of 8, the segmentors' output stride).
embedded_irn_crop = 160
embedded_segmentation_crop = 96

# IRN's dense CRF of the "+CRF" seeds and of the IR labels (_base_/label_generation.py seed_crf: 3 and
# 50 px): the two spatial lengths scale, 3 f = 0.89 and 50 f = 14.8; colour, weights, iterations stay.
embedded_seed_crf = dict(gaussian_sxy=0.89, bilateral_sxy=14.8)

# DeepLab-v2's dense CRF at test time (deeplab-pytorch's VOC: pos_xy_std 1, bi_xy_std 67): the spatial
# stds scale, 1 f = 0.3 and 67 f = 19.8; colour std, weights and iterations stay.
embedded_segmentation_crf = dict(gaussian_sxy=0.3, bilateral_sxy=19.8)
