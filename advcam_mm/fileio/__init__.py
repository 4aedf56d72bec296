"""Readers and writers of the files each pipeline stage produces (one module per format)."""
from .atomic import atomic_write, atomic_save_npy, atomic_save_png
from .cam_files import load_cam_file, save_cam_file, cam_file_path

__all__ = ['atomic_write', 'atomic_save_npy', 'atomic_save_png', 'load_cam_file',
           'save_cam_file', 'cam_file_path']
