"""Readers and writers of the files each pipeline stage produces (one module per format)."""
from .atomic import atomic_write, atomic_save_npy, atomic_save_png
from .authors_checkpoints import AuthorsCheckpointError, authors_layout_kind, convert_authors_state_dict
from .cam_files import load_cam_file, save_cam_file, cam_file_path
from .checkpoints import (CheckpointError, file_sha256, load_model_weights, read_state_dict,
                          save_checkpoint)

__all__ = ['atomic_write', 'atomic_save_npy', 'atomic_save_png', 'load_cam_file',
           'save_cam_file', 'cam_file_path', 'AuthorsCheckpointError', 'authors_layout_kind',
           'convert_authors_state_dict', 'CheckpointError', 'file_sha256', 'load_model_weights',
           'read_state_dict', 'save_checkpoint']
