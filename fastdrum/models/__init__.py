"""Pretrained models shipped with fastdrum (.npz model files, format 1 or 2, and their model cards)."""
