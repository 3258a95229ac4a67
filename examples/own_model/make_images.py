"""Your own image model, trained the ordinary way, for the README's walkthrough.

Writes OUT/images/{train,test,holdout}/<digit>/*.png (grayscale 16x16 digits, split by you) and
OUT/cnn.ts (a small PyTorch CNN trained on images/train, exported with TorchScript).

    python examples/own_model/make_images.py --out mine
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from sklearn.datasets import load_digits
from torch import nn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("mine"))
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    digits = load_digits()
    g = np.random.default_rng(7)
    split = g.choice(["train", "test", "holdout"], len(digits.target), p=[0.6, 0.2, 0.2])
    train_x, train_y = [], []
    for i, (image, label, part) in enumerate(zip(digits.images, digits.target, split)):
        folder = args.out / "images" / part / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray((image * 255 / 16).astype(np.uint8), mode="L")
        img = img.resize((16, 16), Image.Resampling.BILINEAR)
        img.save(folder / f"{i:04d}.png")
        if part == "train":
            train_x.append(np.asarray(img, dtype=np.float32)[None] / 255.0)
            train_y.append(label)

    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 10),
    )
    X, y = torch.from_numpy(np.stack(train_x)), torch.as_tensor(train_y)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(args.epochs):
        for batch in torch.randperm(len(y)).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(net(X[batch]), y[batch]).backward()
            opt.step()
    net.eval()
    torch.jit.script(net).save(str(args.out / "cnn.ts"))
    print(f"wrote {args.out / 'images'} ({len(y)} train images) and {args.out / 'cnn.ts'}")


if __name__ == "__main__":
    main()
