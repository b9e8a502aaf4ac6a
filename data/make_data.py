#!/usr/bin/python3
"""Make prunescope's bundled demo models and validation CSVs.

Run by hand from the project root with Debian's Python (python3-torch, python3-onnx,
python3-numpy, python3-sklearn and the dataset-fashion-mnist package installed):

    /usr/bin/python3 data/make_data.py

Writes data/digits_mlp.onnx, data/digits.csv, data/fashion_cnn.onnx,
data/fashion-mnist-test.csv.gz, data/reference.json and data/README.md. Never run by
the build or CI: the outputs are committed.
"""
import gzip
import io
import json
import os
import platform
import struct
import time

import numpy as np
import onnx
import sklearn
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION = "/usr/share/datasets/fashion-mnist"
SCALE_1_255 = 0.00392156862745098  # the --scale for Fashion-MNIST pixels

torch.set_num_threads(2)
torch.use_deterministic_algorithms(True)


class DigitsMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 32)
        self.fc2 = nn.Linear(32, 16)
        self.fc3 = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))


class FashionCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 7 * 7, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(torch.relu(self.fc1(x)))


def train(model, x, y, epochs, lr, batch, seed):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = x.shape[0]
    for epoch in range(epochs):
        perm = torch.randperm(n)
        model.train()
        total = 0.0
        for i in range(0, n, batch):
            idx = perm[i:i + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"  epoch {epoch + 1}: train loss {total / n:.4f}", flush=True)
    model.eval()


def measure(model, x, y):
    """What prunescope must reproduce: correct rows, accuracy, mean cross-entropy."""
    with torch.no_grad():
        logits = model(x)
    correct = int((logits.argmax(dim=1) == y).sum())
    loss = float(F.cross_entropy(logits.double(), y))
    top2 = torch.topk(logits, 2, dim=1).values
    gap = float((top2[:, 0] - top2[:, 1]).min())
    return {
        "rows": int(x.shape[0]),
        "correct": correct,
        "accuracy": correct / int(x.shape[0]),
        "loss": loss,
        "min_top2_gap": gap,
        "first_logits": [[float(v) for v in row] for row in logits[:5]],
    }


def export(model, example, path, input_shape_text):
    torch.onnx.export(model, example, path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)
    onnx.checker.check_model(onnx.load(path))
    print(f"  wrote {path} (input {input_shape_text})")


def write_csv(path, header, rows, gz):
    text = io.StringIO()
    text.write(",".join(header) + "\n")
    for r in rows:
        text.write(",".join(str(int(v)) for v in r) + "\n")
    data = text.getvalue().encode()
    if gz:
        with open(path, "wb") as f:
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0, compresslevel=9) as g:
                g.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)
    print(f"  wrote {path} ({os.path.getsize(path)} bytes)")


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, rows * cols)
    return np.frombuffer(data, dtype=np.uint8, offset=8)


def digits():
    print("digits MLP", flush=True)
    d = load_digits()
    x_tr, x_va, y_tr, y_va = train_test_split(d.data, d.target, test_size=360, random_state=0,
                                              stratify=d.target)
    # Raw features 0..16 (no --scale needed): float32 of the integers.
    xt = torch.tensor(x_tr, dtype=torch.float32)
    xv = torch.tensor(x_va, dtype=torch.float32)
    yt = torch.tensor(y_tr, dtype=torch.long)
    yv = torch.tensor(y_va, dtype=torch.long)
    torch.manual_seed(0)
    model = DigitsMLP()
    t0 = time.time()
    train(model, xt, yt, epochs=60, lr=0.003, batch=32, seed=1)
    ref = measure(model, xv, yv)
    ref.update({"model": "digits_mlp.onnx", "csv": "digits.csv", "scale": 1})
    print(f"  trained in {time.time() - t0:.1f} s", flush=True)
    export(model, xv[:1], os.path.join(HERE, "digits_mlp.onnx"), "[N,64]")
    header = [f"pixel{i}" for i in range(64)] + ["label"]
    write_csv(os.path.join(HERE, "digits.csv"), header,
              [list(r) + [y] for r, y in zip(x_va, y_va)], gz=False)
    print(f"  validation: {ref['correct']}/{ref['rows']} correct", flush=True)
    return ref


def fashion():
    print("Fashion-MNIST CNN", flush=True)
    x_tr = read_idx(f"{FASHION}/train-images-idx3-ubyte.gz")
    y_tr = read_idx(f"{FASHION}/train-labels-idx1-ubyte.gz")
    x_te = read_idx(f"{FASHION}/t10k-images-idx3-ubyte.gz")
    y_te = read_idx(f"{FASHION}/t10k-labels-idx1-ubyte.gz")
    scale = torch.tensor(SCALE_1_255, dtype=torch.float32)

    # Exactly what prunescope computes: (float)pixel * (float)scale.
    def prep(x):
        return (torch.tensor(x, dtype=torch.float32) * scale).reshape(-1, 1, 28, 28)

    xt, xv = prep(x_tr), prep(x_te)
    yt = torch.tensor(y_tr, dtype=torch.long)
    yv = torch.tensor(y_te, dtype=torch.long)
    torch.manual_seed(0)
    model = FashionCNN()
    t0 = time.time()
    train(model, xt, yt, epochs=3, lr=0.002, batch=64, seed=2)
    ref = measure(model, xv, yv)
    ref.update({"model": "fashion_cnn.onnx", "csv": "fashion-mnist-test.csv.gz",
                "scale": SCALE_1_255})
    print(f"  trained in {time.time() - t0:.1f} s", flush=True)
    export(model, xv[:1], os.path.join(HERE, "fashion_cnn.onnx"), "[N,1,28,28]")
    header = ["label"] + [f"pixel{i}" for i in range(784)]
    write_csv(os.path.join(HERE, "fashion-mnist-test.csv.gz"), header,
              [[y] + list(r) for r, y in zip(x_te, y_te)], gz=True)
    print(f"  test: {ref['correct']}/{ref['rows']} correct", flush=True)
    return ref


def readme(refs):
    versions = (f"python {platform.python_version()}, torch {torch.__version__}, "
                f"onnx {onnx.__version__}, numpy {np.__version__}, "
                f"scikit-learn {sklearn.__version__}")
    size = lambda f: os.path.getsize(os.path.join(HERE, f))
    d, f = refs["digits_mlp"], refs["fashion_cnn"]
    text = f"""# Bundled demo data

Made by `make_data.py` (this file is written by it too). Regenerate from the project root
with Debian's Python (python3-torch, python3-onnx, python3-numpy, python3-sklearn and the
dataset-fashion-mnist package):

    /usr/bin/python3 data/make_data.py

Versions used: {versions}. Seeds are fixed and PyTorch runs in deterministic mode on 2
threads. `reference.json` holds what PyTorch measured on exactly the rows of each CSV
(features computed as prunescope does: float32 cell times float32 scale): rows, correct
rows, accuracy, mean cross-entropy, the smallest gap between the two largest logits of
any row, and the logits of the first 5 rows. The test suite checks prunescope against it.

## digits_mlp.onnx + digits.csv (the default demo)

scikit-learn's digits (8x8 images, 64 features with values 0..16, 10 classes; from the
UCI optdigits data, BSD licensed with scikit-learn). 1797 rows split with
`train_test_split(test_size=360, random_state=0, stratify=labels)`; the 360 validation
rows are `digits.csv` (header `pixel0..pixel63,label`, raw integer features, no scaling).
MLP 64-32-16-10 (Linear, ReLU, Linear, ReLU, Linear: three Gemm nodes), trained 60
epochs with Adam (lr 0.003, batch 32) on the raw features.

- validation accuracy: {d['correct']}/{d['rows']} = {100 * d['accuracy']:.2f}%, mean cross-entropy {d['loss']:.4f}
- files: digits_mlp.onnx {size('digits_mlp.onnx')} bytes, digits.csv {size('digits.csv')} bytes

    prunescope data/digits_mlp.onnx data/digits.csv

## fashion_cnn.onnx + fashion-mnist-test.csv.gz

Fashion-MNIST (Zalando Research, MIT licensed; Debian's dataset-fashion-mnist): 28x28
grey images of 10 kinds of clothing. CNN: Conv 3x3 (8 filters, pad 1), ReLU, MaxPool 2,
Conv 3x3 (16 filters, pad 1), ReLU, MaxPool 2, Flatten, Linear 784-64, ReLU, Linear
64-10. Trained on the 60,000 training images, 3 epochs of Adam (lr 0.002, batch 64),
inputs pixel * float32(1/255). `fashion-mnist-test.csv.gz` holds the 10,000 test images
(header `label,pixel0..pixel783`, label first, raw pixels 0..255, gzip with a fixed
timestamp), so it needs `--scale {SCALE_1_255}`.

- test accuracy: {f['correct']}/{f['rows']} = {100 * f['accuracy']:.2f}%, mean cross-entropy {f['loss']:.4f}
- files: fashion_cnn.onnx {size('fashion_cnn.onnx')} bytes, fashion-mnist-test.csv.gz {size('fashion-mnist-test.csv.gz')} bytes

    prunescope --scale {SCALE_1_255} data/fashion_cnn.onnx data/fashion-mnist-test.csv.gz
"""
    with open(os.path.join(HERE, "README.md"), "w") as fh:
        fh.write(text)


def main():
    refs = {"digits_mlp": digits(), "fashion_cnn": fashion()}
    with open(os.path.join(HERE, "reference.json"), "w") as fh:
        json.dump(refs, fh, indent=1)
        fh.write("\n")
    readme(refs)


if __name__ == "__main__":
    main()
