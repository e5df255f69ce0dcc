"""Pretrained models shipped with fastdrum (.npz model files, format 1, 2 or 3, and their model cards)."""
