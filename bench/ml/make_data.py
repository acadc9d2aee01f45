#!/usr/bin/python3
"""bench/ml/make_data.py: the tabular data sets of hone's algorithmic side, as CSV files.

Writes into bench/ml/cache/ (ignored; pass another folder as the first argument):
  digits.csv, breast_cancer.csv, wine.csv, iris.csv, diabetes.csv
      scikit-learn's bundled sets: the feature columns, then the target column "target".
  mixed.csv
      50 000 rows made here (seeded, the same on every machine): 8 numeric columns n0..n7 with
      5% of each missing (empty cells), 3 string columns (city: 12 values, plan: 4, channel: 6;
      2% missing), and a binary target "churn" drawn from a logistic model of some numeric
      columns, the strings and an interaction, so that a linear model reaches about 0.78.
"""
import os
import sys

import numpy as np
from sklearn import datasets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_bundled(out):
    for name, load in [("digits", datasets.load_digits), ("breast_cancer", datasets.load_breast_cancer),
                       ("wine", datasets.load_wine), ("iris", datasets.load_iris),
                       ("diabetes", datasets.load_diabetes)]:
        path = os.path.join(out, name + ".csv")
        if os.path.exists(path):
            continue
        d = load()
        names = [f"f{i}" for i in range(d.data.shape[1])]
        with open(path, "w") as f:
            f.write(",".join(names + ["target"]) + "\n")
            for row, t in zip(d.data, d.target):
                f.write(",".join(repr(float(v)) for v in row) + "," + repr(t.item()) + "\n")


def write_mixed(out, rows=50_000, seed=0):
    path = os.path.join(out, "mixed.csv")
    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    scales = np.array([1.0, 10.0, 0.1, 100.0, 1.0, 5.0, 1.0, 1000.0])
    num = rng.normal(size=(rows, 8)) * scales + np.arange(8)
    cities = [f"city_{i:02d}" for i in range(12)]
    plans = ["basic", "plus", "pro", "enterprise"]
    channels = ["web", "store", "phone", "partner", "app", "mail"]
    city = rng.integers(0, len(cities), rows)
    plan = rng.choice(len(plans), rows, p=[0.4, 0.3, 0.2, 0.1])
    channel = rng.integers(0, len(channels), rows)
    city_effect = rng.normal(scale=0.6, size=len(cities))
    plan_effect = np.array([0.5, 0.1, -0.4, -0.9])
    channel_effect = rng.normal(scale=0.4, size=len(channels))
    z = (0.9 * (num[:, 0] - 0) / 1.0 - 0.6 * (num[:, 1] - 1) / 10.0 + 0.4 * (num[:, 3] - 3) / 100.0
         + 0.3 * (num[:, 5] - 5) / 5.0 + 0.35 * ((num[:, 0]) * (num[:, 6] - 6))
         + city_effect[city] + plan_effect[plan] + channel_effect[channel] - 0.2)
    churn = (rng.random(rows) < 1 / (1 + np.exp(-z))).astype(int)
    with open(path, "w") as f:
        f.write(",".join([f"n{i}" for i in range(8)] + ["city", "plan", "channel", "churn"]) + "\n")
        miss_num = rng.random((rows, 8)) < 0.05
        miss_str = rng.random((rows, 3)) < 0.02
        for r in range(rows):
            cells = ["" if miss_num[r, j] else f"{num[r, j]:.6g}" for j in range(8)]
            strs = [cities[city[r]], plans[plan[r]], channels[channel[r]]]
            cells += ["" if miss_str[r, j] else strs[j] for j in range(3)]
            cells.append(str(churn[r]))
            f.write(",".join(cells) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "bench", "ml", "cache")
    os.makedirs(out, exist_ok=True)
    write_bundled(out)
    write_mixed(out)
    print(f"data in {out}")


if __name__ == "__main__":
    main()
