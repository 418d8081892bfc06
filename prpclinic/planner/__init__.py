"""Centrifuge physics and the PRP yield model: pure Python (NumPy/SciPy), no Django import."""
