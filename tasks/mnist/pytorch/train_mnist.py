"""Trains dagwright's MNIST network in PyTorch and writes it as ONNX.

Run by tasks/mnist/pytorch/train-task.ts with /usr/bin/python3 (Debian's
python3-torch); no Python package of dagwright's is needed. The file
protocol (see tasks/python/python-step-protocol.ts):

  python3 train_mnist.py JOB_DIR OUT_DIR

  JOB_DIR/job.json      {"epochs", "batchSize", "learningRate", "seed", "augmentShift", "threads",
                         "tensors": {name: {"file", "dtype": "float32"|"uint8", "shape"}}}
                        with trainImages [n,28,28,1] float32 in [0,1], trainLabels [n] uint8,
                        validationImages, validationLabels (raw little-endian files in JOB_DIR)
  OUT_DIR/metrics.jsonl one JSON object a line, appended as training goes:
                        {"key": "loss", "value": 0.12, "step": 1}
  OUT_DIR/model.onnx    the network: input "input" [batch,1,28,28], outputs "logits" and "embedding"
  OUT_DIR/signature.json
  OUT_DIR/result.json   written last: {"final": {...}, "wallSeconds", "samplesPerSecond", "torch", "threads"}
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class MnistCnn(nn.Module):
    """conv 5x5/2 relu -> conv 5x5/2 relu -> dense relu (the embedding) -> dense logits, as tasks/mnist/model.ts."""

    def __init__(self, conv1=16, conv2=32, dense=128, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, conv1, 5, stride=2, padding=2)
        self.conv2 = nn.Conv2d(conv1, conv2, 5, stride=2, padding=2)
        self.hidden = nn.Linear(conv2 * 7 * 7, dense)
        self.logits = nn.Linear(dense, classes)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        embedding = F.relu(self.hidden(torch.flatten(x, 1)))
        return self.logits(embedding), embedding


def load(job_dir, spec):
    dtype = {"float32": "<f4", "uint8": "u1"}[spec["dtype"]]
    return np.fromfile(os.path.join(job_dir, spec["file"]), dtype=dtype).reshape(spec["shape"])


def images(array):
    """[n,28,28,1] NHWC -> [n,1,28,28] NCHW tensor."""
    return torch.from_numpy(np.ascontiguousarray(array.transpose(0, 3, 1, 2)))


def shifted(batch, generator, limit):
    """Each image moved by up to `limit` pixels per axis (zeros fill in)."""
    if limit == 0:
        return batch
    n = batch.shape[0]
    shifts = torch.randint(-limit, limit + 1, (n, 2), generator=generator)
    padded = F.pad(batch, (limit, limit, limit, limit))
    out = torch.empty_like(batch)
    for i in range(n):
        dy, dx = int(shifts[i, 0]) + limit, int(shifts[i, 1]) + limit
        out[i] = padded[i, :, dy:dy + 28, dx:dx + 28]
    return out


def accuracy(model, x, y, batch=1000):
    if len(y) == 0:
        return float("nan")
    correct = 0
    with torch.no_grad():
        for start in range(0, len(y), batch):
            logits, _ = model(x[start:start + batch])
            correct += int((logits.argmax(1) == y[start:start + batch]).sum())
    return correct / len(y)


def main(job_dir, out_dir):
    job = json.load(open(os.path.join(job_dir, "job.json")))
    torch.set_num_threads(job["threads"])
    torch.manual_seed(job["seed"])
    generator = torch.Generator().manual_seed(job["seed"])
    t = job["tensors"]
    x_train, y_train = images(load(job_dir, t["trainImages"])), torch.from_numpy(load(job_dir, t["trainLabels"]).astype(np.int64))
    x_val, y_val = images(load(job_dir, t["validationImages"])), torch.from_numpy(load(job_dir, t["validationLabels"]).astype(np.int64))
    model = MnistCnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=job["learningRate"])
    steps_per_epoch = math.ceil(len(y_train) / job["batchSize"])
    total, warmup = job["epochs"] * steps_per_epoch, min(100, job["epochs"] * steps_per_epoch // 10)
    # Warm-up then cosine decay to 2% of the peak, as the TF.js loop does.
    schedule = lambda s: (s + 1) / warmup if s < warmup else 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * (s - warmup) / max(1, total - warmup)))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    metrics = open(os.path.join(out_dir, "metrics.jsonl"), "a", buffering=1)
    started = time.time()
    final = {}
    for epoch in range(1, job["epochs"] + 1):
        model.train()
        epoch_start, seen, loss_sum, correct = time.time(), 0, 0.0, 0
        order = torch.randperm(len(y_train), generator=generator)
        for start in range(0, len(y_train), job["batchSize"]):
            idx = order[start:start + job["batchSize"]]
            x, y = shifted(x_train[idx], generator, job["augmentShift"]), y_train[idx]
            logits, _ = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            seen += len(y)
            loss_sum += float(loss) * len(y)
            correct += int((logits.argmax(1) == y).sum())
        model.eval()
        final = {"loss": loss_sum / seen, "accuracy": correct / seen, "valAccuracy": accuracy(model, x_val, y_val)}
        rate = seen / (time.time() - epoch_start)
        for key, value in [("loss", final["loss"]), ("accuracy", final["accuracy"]), ("val_accuracy", final["valAccuracy"]), ("samples_per_second", rate)]:
            if not math.isnan(value):
                metrics.write(json.dumps({"key": key, "value": value, "step": epoch}) + "\n")
        print(f"epoch {epoch}/{job['epochs']} loss {final['loss']:.4f} accuracy {final['accuracy']:.4f} val {final['valAccuracy']:.4f} {rate:.0f} samples/s", file=sys.stderr, flush=True)
    wall = time.time() - started
    model.eval()
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), os.path.join(out_dir, "model.onnx"),
        input_names=["input"], output_names=["logits", "embedding"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=13,
    )
    signature = {
        "input": {"name": "input", "shape": [1, 28, 28], "datatype": "float32", "layout": "NCHW"},
        "scaling": "unit",
        "outputs": ["logits", "embedding"],
        "scores": {"output": "logits", "kind": "logits"},
        "classLabels": [str(c) for c in range(10)],
        "embedding": "embedding",
    }
    json.dump(signature, open(os.path.join(out_dir, "signature.json"), "w"), indent=2)
    result = {"final": final, "wallSeconds": wall, "samplesPerSecond": job["epochs"] * len(y_train) / wall, "torch": torch.__version__, "threads": job["threads"]}
    json.dump(result, open(os.path.join(out_dir, "result.json"), "w"), indent=2)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print("usage: train_mnist.py JOB_DIR OUT_DIR", file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1], sys.argv[2])
