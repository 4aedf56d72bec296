"""The label-map convention every stage shares (PASCAL VOC's).

Label maps hold dataset class ids: 0 is background, 1..K the foreground
classes (mask value ``k + 1`` is entry ``k`` of an image-level label vector and
of a class-map file's ``keys``), and :data:`IGNORE_INDEX` marks pixels that no
loss or metric counts (VOC's void border, unsure pixels of IR labels, crowd
regions of converted COCO masks).
"""
IGNORE_INDEX = 255
