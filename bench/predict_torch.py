"""In-process prediction rate of the MNIST network in PyTorch (the peer of bench/predict.ts).

  /usr/bin/python3 bench/predict_torch.py SECONDS THREADS

Prints one JSON line: {"torch": version, "threads": n, "b1": images/s, "b32": images/s}.
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tasks", "mnist", "pytorch"))
from train_mnist import MnistCnn  # noqa: E402


def rate(model, batch, seconds):
    x = torch.rand(batch, 1, 28, 28)
    with torch.no_grad():
        for _ in range(5):
            torch.softmax(model(x)[0], 1).numpy()
        calls, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            torch.softmax(model(x)[0], 1).numpy()
            calls += 1
    return calls * batch / (time.perf_counter() - start)


def main():
    seconds, threads = float(sys.argv[1]), int(sys.argv[2])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model = MnistCnn().eval()
    print(json.dumps({"torch": torch.__version__, "threads": threads, "b1": rate(model, 1, seconds), "b32": rate(model, 32, seconds)}))


if __name__ == "__main__":
    main()
