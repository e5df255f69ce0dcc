"""Pretrained models shipped with fastdrum (.npz model files, format 1 to 4, and their model cards)."""
