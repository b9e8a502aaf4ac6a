#!/usr/bin/python3
"""Make prunescope's bundled demo models and validation CSVs.

Run by hand from the project root with Debian's Python (python3-torch, python3-onnx,
python3-numpy, python3-sklearn and the dataset-fashion-mnist package installed):

    /usr/bin/python3 data/make_data.py

Writes data/digits_mlp.onnx, data/digits.csv, data/fashion_cnn.onnx,
data/fashion-mnist-test.csv.gz, data/reference.json and data/README.md, and the training
splits for `finetune`: data/digits-train.csv and data/fashion-mnist-train.csv.gz. Never
run by the build or CI: the outputs are committed.
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
from onnx import numpy_helper
import sklearn
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION = "/usr/share/datasets/fashion-mnist"
FASHION_TRAIN_ROWS = 10000  # the first rows of the training set, in file order
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
    }, logits


def onnx_forward(path, x):
    """Run an exported model with numpy in float64. onnx 1.12 has no onnx.reference and
    onnxruntime is not packaged in Debian 12, so this handles just the operators these
    two models use (Gemm, Relu, Conv, MaxPool, Flatten) with the attributes torch gives."""
    m = onnx.load(path)
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    env[m.graph.input[0].name] = x.astype(np.float64)
    for node in m.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in node.attribute}
        i = [env[n] for n in node.input]
        if node.op_type == "Gemm":
            assert a.get("alpha", 1.0) == 1.0 and a.get("beta", 1.0) == 1.0
            assert not a.get("transA", 0)
            w = i[1].T if a.get("transB", 0) else i[1]
            y = i[0] @ w + (i[2] if len(i) > 2 else 0)
        elif node.op_type == "Relu":
            y = np.maximum(i[0], 0)
        elif node.op_type == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif node.op_type == "Conv":
            k = i[1].shape[2]
            assert a.get("strides", [1, 1]) == [1, 1] and a.get("dilations", [1, 1]) == [1, 1]
            assert a.get("group", 1) == 1 and a["pads"] == [k // 2] * 4
            n, c, h, wd = i[0].shape
            xp = np.pad(i[0], ((0, 0), (0, 0), (k // 2, k // 2), (k // 2, k // 2)))
            y = np.zeros((n, i[1].shape[0], h, wd))
            for dy in range(k):
                for dx in range(k):
                    y += np.einsum("nchw,oc->nohw", xp[:, :, dy:dy + h, dx:dx + wd],
                                   i[1][:, :, dy, dx])
            y += i[2][None, :, None, None]
        elif node.op_type == "MaxPool":
            assert a["kernel_shape"] == [2, 2] and a["strides"] == [2, 2]
            assert not any(a.get("pads", [0])) and a.get("ceil_mode", 0) == 0
            n, c, h, wd = i[0].shape
            y = i[0].reshape(n, c, h // 2, 2, wd // 2, 2).max(axis=(3, 5))
        else:
            raise SystemExit(f"{path}: unexpected operator {node.op_type}")
        env[node.output[0]] = y
    return env[m.graph.output[0].name]


def check_onnx(path, x, logits):
    """The exported file must give PyTorch's logits and PyTorch's argmax on every row."""
    worst, flips = 0.0, 0
    for i in range(0, x.shape[0], 500):
        ref = onnx_forward(path, x[i:i + 500].numpy())
        got = logits[i:i + 500].numpy().astype(np.float64)
        worst = max(worst, float(np.abs(ref - got).max()))
        flips += int((ref.argmax(axis=1) != got.argmax(axis=1)).sum())
    print(f"  ONNX (numpy, float64) vs PyTorch: max |logit diff| {worst:.2e}, "
          f"{flips} argmax changes", flush=True)
    assert worst < 1e-4 and flips == 0, path


def check_csv(path, x, y, label_first, scale):
    """Read the CSV back as prunescope does: float32(cell) * float32(scale)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", newline="") as f:
        text = f.read()
    assert "\r" not in text and text.endswith("\n"), path
    cells = np.array([line.split(",") for line in text.split("\n")[1:-1]], dtype=np.int64)
    labels = cells[:, 0] if label_first else cells[:, -1]
    feats = cells[:, 1:] if label_first else cells[:, :-1]
    feats = feats.astype(np.float32) * np.float32(scale)
    assert np.array_equal(labels, y.numpy()), path
    assert np.array_equal(feats, x.reshape(x.shape[0], -1).numpy()), path
    print(f"  read back {path}: {len(labels)} rows match", flush=True)


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
    ref, logits = measure(model, xv, yv)
    ref.update({"model": "digits_mlp.onnx", "csv": "digits.csv", "scale": 1})
    print(f"  trained in {time.time() - t0:.1f} s", flush=True)
    export(model, xv[:1], os.path.join(HERE, "digits_mlp.onnx"), "[N,64]")
    header = [f"pixel{i}" for i in range(64)] + ["label"]
    write_csv(os.path.join(HERE, "digits.csv"), header,
              [list(r) + [y] for r, y in zip(x_va, y_va)], gz=False)
    check_onnx(os.path.join(HERE, "digits_mlp.onnx"), xv, logits)
    check_csv(os.path.join(HERE, "digits.csv"), xv, yv, label_first=False, scale=1)
    # The 1437 training rows, in train_test_split's order, in the same format.
    write_csv(os.path.join(HERE, "digits-train.csv"), header,
              [list(r) + [y] for r, y in zip(x_tr, y_tr)], gz=False)
    check_csv(os.path.join(HERE, "digits-train.csv"), xt, yt, label_first=False, scale=1)
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
    ref, logits = measure(model, xv, yv)
    ref.update({"model": "fashion_cnn.onnx", "csv": "fashion-mnist-test.csv.gz",
                "scale": SCALE_1_255})
    print(f"  trained in {time.time() - t0:.1f} s", flush=True)
    export(model, xv[:1], os.path.join(HERE, "fashion_cnn.onnx"), "[N,1,28,28]")
    header = ["label"] + [f"pixel{i}" for i in range(784)]
    write_csv(os.path.join(HERE, "fashion-mnist-test.csv.gz"), header,
              [[y] + list(r) for r, y in zip(x_te, y_te)], gz=True)
    check_onnx(os.path.join(HERE, "fashion_cnn.onnx"), xv, logits)
    check_csv(os.path.join(HERE, "fashion-mnist-test.csv.gz"), xv, yv, label_first=True,
              scale=SCALE_1_255)
    # A training split for finetune: the first rows of the training set, in file order,
    # in the same format (the model was trained on all 60,000).
    k = FASHION_TRAIN_ROWS
    write_csv(os.path.join(HERE, "fashion-mnist-train.csv.gz"), header,
              [[y] + list(r) for r, y in zip(x_tr[:k], y_tr[:k])], gz=True)
    check_csv(os.path.join(HERE, "fashion-mnist-train.csv.gz"), xt[:k], yt[:k],
              label_first=True, scale=SCALE_1_255)
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

It takes about a minute on 2 cores (training: about 1.5 s for the MLP, 45 s for the CNN).
Never run by the build or CI: the outputs are committed.

Versions used: {versions}.

Reproducibility: the split uses `random_state=0`; each model's initial weights come from
`torch.manual_seed(0)` and its batch order from `torch.manual_seed(1)` (digits) or
`torch.manual_seed(2)` (Fashion-MNIST); PyTorch runs with
`torch.use_deterministic_algorithms(True)` and `torch.set_num_threads(2)` on the CPU;
gzip has a fixed timestamp. With the versions above, a rerun gives byte-identical files
(checked with sha256sum). Other versions of torch, or other CPUs, may train slightly
different weights; regenerating then changes the models, `reference.json` and the
numbers below together.

Both models are exported with `torch.onnx.export` (opset 13, `do_constant_folding`, eval
mode): input `input`, output `logits`, a dynamic batch dimension `N`, and pass
`onnx.checker.check_model`. The script also runs each exported file with a small numpy
evaluator in float64 (onnx {onnx.__version__} has no `onnx.reference`) and checks that it
gives PyTorch's logits within 1e-4 and the same argmax on every row, and reads each CSV
back to check that it gives exactly the features and labels PyTorch was measured on.

`reference.json` holds, for each model, what PyTorch measured on exactly the rows of its
CSV (features computed as prunescope does: float32 cell times float32 scale): `rows`,
`correct`, `accuracy`, `loss` (mean cross-entropy, natural log, computed in float64 from
the float32 logits), `min_top2_gap` (the smallest gap between the two largest logits of
any row, so that float rounding cannot flip an argmax) and `first_logits` (the logits of
the first 5 rows). The test suite checks prunescope against it.

## digits_mlp.onnx + digits.csv (the default demo)

scikit-learn's digits (`sklearn.datasets.load_digits`: 1797 8x8 images, 64 features with
values 0..16, 10 classes; from the UCI optdigits data, BSD licensed with scikit-learn).
Split with `train_test_split(test_size=360, random_state=0, stratify=labels)`: 1437 rows
to train on, and the 360 validation rows are `digits.csv` (header `pixel0..pixel63,label`,
label last, raw integer features, LF line ends; no `--scale`).
MLP 64-32-16-10 (Linear, ReLU, Linear, ReLU, Linear: three Gemm nodes; input [N,64]),
trained 60 epochs with Adam (lr 0.003, batch 32) on the raw features.

- validation accuracy: {d['correct']}/{d['rows']} = {100 * d['accuracy']:.2f}%, mean cross-entropy {d['loss']:.4f}, min top-2 gap {d['min_top2_gap']:.4f}
- files: digits_mlp.onnx {size('digits_mlp.onnx')} bytes, digits.csv {size('digits.csv')} bytes

    prunescope data/digits_mlp.onnx data/digits.csv

## fashion_cnn.onnx + fashion-mnist-test.csv.gz

Fashion-MNIST (Zalando Research, MIT licensed; Debian's dataset-fashion-mnist): 28x28
grey images of 10 kinds of clothing (labels 0..9: T-shirt/top, trouser, pullover, dress,
coat, sandal, shirt, sneaker, bag, ankle boot). CNN (input [N,1,28,28]): Conv 3x3
(8 filters, pad 1), ReLU, MaxPool 2, Conv 3x3 (16 filters, pad 1), ReLU, MaxPool 2,
Flatten, Linear 784-64, ReLU, Linear 64-10. Trained on the 60,000 training images,
3 epochs of Adam (lr 0.002, batch 64), inputs float32(pixel) * float32(1/255).
`fashion-mnist-test.csv.gz` holds the 10,000 test images (header
`label,pixel0..pixel783`, label first, raw integer pixels 0..255, LF line ends, gzip with
a fixed timestamp), so it needs `--scale {SCALE_1_255}` (pixels/255).

- test accuracy: {f['correct']}/{f['rows']} = {100 * f['accuracy']:.2f}%, mean cross-entropy {f['loss']:.4f}, min top-2 gap {f['min_top2_gap']:.5f}
- files: fashion_cnn.onnx {size('fashion_cnn.onnx')} bytes, fashion-mnist-test.csv.gz {size('fashion-mnist-test.csv.gz')} bytes

    prunescope --scale {SCALE_1_255} data/fashion_cnn.onnx data/fashion-mnist-test.csv.gz

## Training splits (for `finetune`)

`digits-train.csv` holds the 1437 rows the digits MLP was trained on, in
`train_test_split`'s order; `fashion-mnist-train.csv.gz` holds the first {FASHION_TRAIN_ROWS:,} of the
60,000 Fashion-MNIST training images in file order (the CNN was trained on all 60,000).
Each is in exactly the format of its validation file (same header and label column, raw
integer values, LF line ends; gzip with a fixed timestamp), needs the same `--scale`
(none for digits, pixels/255 for Fashion-MNIST), comes from the other side of the split,
and is read back and checked like it. Fine-tune on these, never on the validation files.

- files: digits-train.csv {size('digits-train.csv')} bytes, fashion-mnist-train.csv.gz {size('fashion-mnist-train.csv.gz')} bytes
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
