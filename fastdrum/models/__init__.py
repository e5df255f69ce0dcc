"""Pretrained models shipped with fastdrum (format-1 .npz files and their model cards)."""
