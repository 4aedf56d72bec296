"""The pipeline's stages: one module each, one output folder with a manifest each.

=================  ================================================  ==========================================
module             reads                                             writes
=================  ================================================  ==========================================
embedded_data      (the generator's settings)                        the embedded dataset
coco_conversion    COCO's instances JSON and images, a split         ``<id>.png`` masks, split list, labels
training           a config, its label folders, init checkpoints    a work dir (checkpoints)
class_maps         classifier config + checkpoint, a split          ``<id>.npy`` class maps
seed_evaluation    class maps, ground truth                          ``metrics.json`` (Seed, +CRF)
ir_labels          class maps, IRNet config                          ``<id>.png`` IR labels
pseudo_masks       class maps (+ IRNet), a segmentation dataset      ``<id>.png`` masks in its ``mask_dir``
mask_evaluation    label PNGs, ground truth                          ``metrics.json`` (Mask)
testing            a segmentor config + checkpoint                   ``metrics.json`` (val mIoU)
advcam_analysis    classifier config + checkpoint, ground truth      Fig. 6 CSV and plots
panels             class maps, label folders                         per-image pictures
=================  ================================================  ==========================================

Each is a command (``python -m advcam_mm.stages.<module>`` or its ``tools/`` script);
:mod:`.pipeline` composes them into the recipe and :mod:`.scheduler` runs them in order. The
protocol they share is :mod:`.output_folder`.
"""
