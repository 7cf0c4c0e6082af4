"""PyTorch reference for the simulation bench: McMahan et al.'s IID FedAvg experiment in one process, as Flower's simulation runs it.

Usage: python3 simulation-torch.py MODEL ROUNDS TRAIN_IMAGES TRAIN_LABELS [INSTITUTIONS FRACTION EPOCHS BATCH LR SEED]
MODEL: mlp (the 2NN, 784-200-200-10) or cnn (5x5 conv 32, pool, 5x5 conv 64, pool, dense 512, dense 10).
Prints one JSON line per round and a last line with the totals. One thread (torch.set_num_threads(1)); the rounds'
CPU time is time.process_time() of this process; data loading is not timed.
"""
import json
import sys
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def build(model):
    if model == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 200), nn.ReLU(), nn.Linear(200, 200), nn.ReLU(), nn.Linear(200, 10))
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 512), nn.ReLU(), nn.Linear(512, 10),
    )


def train_local(net, state, x, y, epochs, batch, lr, gen):
    net.load_state_dict(state)
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    last = 0.0
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=gen)
        for start in range(0, len(y), batch):
            idx = order[start:start + batch]
            opt.zero_grad()
            loss = loss_fn(net(x[idx]), y[idx])
            loss.backward()
            opt.step()
            last = float(loss)
    return {k: v.detach().clone() for k, v in net.state_dict().items()}, last


def main():
    model, rounds, images, labels = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    extra = sys.argv[5:]
    institutions = int(extra[0]) if len(extra) > 0 else 100
    fraction = float(extra[1]) if len(extra) > 1 else 0.1
    epochs = int(extra[2]) if len(extra) > 2 else 5
    batch = int(extra[3]) if len(extra) > 3 else 10
    lr = float(extra[4]) if len(extra) > 4 else 0.05
    seed = int(extra[5]) if len(extra) > 5 else 0
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_all = torch.from_numpy(read_idx(images).astype(np.float32) / 255.0)
    y_all = torch.from_numpy(read_idx(labels).astype(np.int64))
    x_all = x_all.reshape(-1, 784) if model == "mlp" else x_all.reshape(-1, 1, 28, 28)
    parts = torch.randperm(len(y_all), generator=gen).reshape(institutions, -1)
    net = build(model)
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    per_round = max(1, round(fraction * institutions))
    total_samples, total_cpu, total_wall = 0, 0.0, 0.0
    for r in range(1, rounds + 1):
        picked = torch.randperm(institutions, generator=gen)[:per_round].tolist()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        updates, losses = [], []
        for i in picked:
            rows = parts[i]
            s, loss = train_local(net, state, x_all[rows], y_all[rows], epochs, batch, lr, gen)
            updates.append((s, len(rows)))
            losses.append(loss)
        n = sum(w for _, w in updates)
        state = {k: sum(s[k] * (w / n) for s, w in updates) for k in state}
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        samples = n * epochs
        total_samples, total_cpu, total_wall = total_samples + samples, total_cpu + cpu, total_wall + wall
        print(json.dumps({"round": r, "samples": samples, "cpuSeconds": cpu, "seconds": wall, "lastLoss": float(np.mean(losses))}), flush=True)
    print(json.dumps({
        "model": model, "torch": torch.__version__, "threads": torch.get_num_threads(), "rounds": rounds,
        "samples": total_samples, "cpuSeconds": total_cpu, "seconds": total_wall,
        "samplesPerCpuSec": total_samples / total_cpu, "secondsPerRound": total_wall / rounds,
    }), flush=True)


if __name__ == "__main__":
    main()
