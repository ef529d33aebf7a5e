"""The foundation every other layer stands on: errors, the one file writer, checked reading of users'
.npy/.npz files, logging and progress, rank awareness, devices, seeded random state, row subsampling,
neighbour search and result dataclasses.

Nothing here imports from another zspace package (see docs/architecture.md).
"""
