"""Training throughput of the seeds' stack: the same convolutional AE in Keras 3 on TensorFlow.

Run by benchmarks/bench_training.py with the interpreter of the Keras virtual
environment (benchmarks/baselines/setup_keras.sh); never imported by zspace.
The model mirrors zspace's conv builder (stride-2 3x3 'same' convolutions with
LeakyReLU 0.3, Flatten, Dense to z; Dense, Reshape and mirrored stride-2
transposed convolutions to logits; cropped to H x W where the stride-2 stack
overshoots, e.g. 28 -> 32), summed binary cross-entropy from logits, Adam 5e-4,
trained with ``model.fit`` on float32 images in [0, 1] as the seeds did.

Prints one JSON line: {"images_per_s": [...per repeat...], "policy", "tf", "keras", "threads"}.

    python keras_ae.py --images x.npy --z-dim 256 --policy mixed_bfloat16 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def build(shape: tuple[int, int, int], z_dim: int, filters: list[int]) -> keras.Model:
    h, w, c = shape
    inputs = keras.Input(shape)
    x = inputs
    for f in filters:
        x = keras.layers.Conv2D(f, 3, strides=2, padding="same")(x)
        x = keras.layers.LeakyReLU(negative_slope=0.3)(x)
    h0, w0 = x.shape[1], x.shape[2]
    x = keras.layers.Flatten()(x)
    z = keras.layers.Dense(z_dim)(x)
    y = keras.layers.Dense(h0 * w0 * filters[-1])(z)
    y = keras.layers.Reshape((h0, w0, filters[-1]))(y)
    for f in filters[-2::-1]:
        y = keras.layers.Conv2DTranspose(f, 3, strides=2, padding="same")(y)
        y = keras.layers.LeakyReLU(negative_slope=0.3)(y)
    y = keras.layers.Conv2DTranspose(c, 3, strides=2, padding="same", dtype="float32")(y)
    if y.shape[1] != h or y.shape[2] != w:
        y = keras.layers.Cropping2D(((0, y.shape[1] - h), (0, y.shape[2] - w)))(y)
    return keras.Model(inputs, y)


def summed_bce(target, logits):
    per_pixel = keras.ops.binary_crossentropy(target, logits, from_logits=True)
    return keras.ops.sum(keras.ops.reshape(per_pixel, (keras.ops.shape(per_pixel)[0], -1)), axis=1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", required=True, help="uint8 (N, H, W, C) .npy")
    parser.add_argument("--z-dim", type=int, default=256)
    parser.add_argument("--filters", default="32,64,128,256")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--policy", default="float32", help="float32 or mixed_bfloat16")
    args = parser.parse_args()
    keras.mixed_precision.set_global_policy(args.policy)
    images = np.load(args.images).astype(np.float32) / 255.0
    model = build(images.shape[1:], args.z_dim, [int(f) for f in args.filters.split(",")])
    model.compile(optimizer=keras.optimizers.Adam(5e-4), loss=summed_bce)
    warm = images[: 2 * args.batch_size]
    model.fit(warm, warm, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=True)
    rates = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        history = model.fit(images, images, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=True)
        rates.append(len(images) / (time.perf_counter() - t0))
    print(json.dumps({"images_per_s": rates, "policy": args.policy, "tf": tf.__version__, "keras": keras.__version__,
                      "threads": tf.config.threading.get_intra_op_parallelism_threads() or os.cpu_count(),
                      "loss": float(history.history["loss"][-1])}))


if __name__ == "__main__":
    main()
