import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("ZSPACE_PROGRESS", "0")
