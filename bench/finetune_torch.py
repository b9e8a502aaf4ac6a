#!/usr/bin/python3
"""`make bench` (bench_finetune), PyTorch's side: one epoch of masked fine-tuning of the
bundled Fashion-MNIST CNN over the 10,000 rows of data/fashion-mnist-train.csv.gz, as
prunescope's `finetune` runs it (SGD lr 0.01 momentum 0.9, batch 32, every weight of the
Gemm and Conv layers at 90% magnitude sparsity, the mask applied after every step), with
2 threads. Prints one line: `torch_epoch_s SECONDS` (the best of 3 epochs). Needs Debian's
python3-torch and python3-onnx; run by bench_finetune when /usr/bin/python3 has them.
Usage: finetune_torch.py SRCDIR"""
import gzip
import sys
import time

import numpy as np
import onnx
import torch
from onnx import numpy_helper

src = sys.argv[1] if len(sys.argv) > 1 else "."
torch.set_num_threads(2)
model = onnx.load(f"{src}/data/fashion_cnn.onnx")
init = {t.name: torch.tensor(numpy_helper.to_array(t).copy()) for t in model.graph.initializer}


class Net(torch.nn.Module):
    """The bundled CNN (data/make_data.py): conv 1-8, ReLU, max pool, conv 8-16, ReLU, max
    pool, flatten, Linear 784-64, ReLU, Linear 64-10."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.fc1 = torch.nn.Linear(784, 64)
        self.fc2 = torch.nn.Linear(64, 10)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


net = Net()
with torch.no_grad():
    for name, p in net.named_parameters():
        p.copy_(init[name])
with gzip.open(f"{src}/data/fashion-mnist-train.csv.gz", "rt") as f:
    rows = np.loadtxt(f, delimiter=",", skiprows=1, dtype=np.float32)
# The label is the first column (label,pixel0,...), the pixels 0..255 scaled as prunescope's
# --scale 0.00392156862745098 does.
x = torch.tensor(rows[:, 1:] * np.float32(0.00392156862745098)).reshape(-1, 1, 28, 28)
y = torch.tensor(rows[:, 0], dtype=torch.int64)
masks = {}
for name, p in net.named_parameters():
    if name.endswith("weight"):
        k = int(0.9 * p.numel())
        order = torch.argsort(p.detach().abs().flatten(), stable=True)
        m = torch.ones(p.numel())
        m[order[:k]] = 0
        masks[name] = m.reshape(p.shape)
with torch.no_grad():
    for name, p in net.named_parameters():
        if name in masks:
            p.mul_(masks[name])
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
net.eval()
best = float("inf")
g = torch.Generator().manual_seed(0)
for epoch in range(3):
    perm = torch.randperm(len(y), generator=g)
    t0 = time.perf_counter()
    for i in range(0, len(y), 32):
        idx = perm[i:i + 32]
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x[idx]), y[idx])
        loss.backward()
        opt.step()
        with torch.no_grad():
            for name, p in net.named_parameters():
                if name in masks:
                    p.mul_(masks[name])
    best = min(best, time.perf_counter() - t0)
print(f"torch_epoch_s {best:.4f}")
