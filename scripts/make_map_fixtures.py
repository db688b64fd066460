#!/usr/bin/env python3
"""Fixtures for vst's multi-label mean average precision (Charades mAP), computed by scikit-learn.

Writes runtime/tests/fixtures/map/cases.json: for each case the scores (videos × classes, row-major), the 0/1
targets, and the expected values — the per-class average precision of `sklearn.metrics.average_precision_score`
(average=None) over the classes that have at least one positive, and their mean (macro), which is how PySlowFast's
Charades evaluation (`slowfast/utils/meters.py: get_map`) computes mAP: classes without a positive video are left
out before averaging. Cases cover ties between scores (a threshold per distinct score), a class without
positives, scores as coarse as a few distinct values, and a perfect ranking.

    pip install scikit-learn numpy
    python3 scripts/make_map_fixtures.py
"""

import json
import os

import numpy as np
from sklearn.metrics import average_precision_score

OUT = os.path.join(os.path.dirname(__file__), "..", "runtime", "tests", "fixtures", "map", "cases.json")


def case(name, scores, targets):
    scores = np.asarray(scores, dtype=np.float32)
    targets = np.asarray(targets, dtype=np.int64)
    keep = targets.sum(axis=0) > 0
    per_class = average_precision_score(targets[:, keep], scores[:, keep].astype(np.float64), average=None)
    per_class = np.atleast_1d(per_class)
    return {
        "name": name,
        "videos": int(scores.shape[0]),
        "classes": int(scores.shape[1]),
        "scores": [float(v) for v in scores.reshape(-1)],
        "targets": [int(v) for v in targets.reshape(-1)],
        "kept_classes": [int(i) for i in np.nonzero(keep)[0]],
        "per_class": [float(v) for v in per_class],
        "map": float(per_class.mean()),
    }


def main():
    rng = np.random.default_rng(0)
    cases = []
    # Charades-like: 157 classes would be large; 12 classes, 40 videos, ~2 labels per video.
    scores = rng.random((40, 12)).astype(np.float32)
    targets = (rng.random((40, 12)) < 0.18).astype(np.int64)
    targets[:, 5] = 0  # a class no video has
    targets[0, 0] = 1
    scores += 0.4 * targets  # some signal
    cases.append(case("random_with_an_empty_class", scores, targets))
    # Coarse scores: many ties within a class.
    scores = rng.integers(0, 4, size=(30, 6)).astype(np.float32) / 4
    targets = (rng.random((30, 6)) < 0.3).astype(np.int64)
    targets[3, :] = 1
    cases.append(case("ties", scores, targets))
    # A perfect ranking: every positive above every negative (AP 1 for each class).
    targets = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1]])
    scores = targets + 0.1 * rng.random(targets.shape)
    cases.append(case("perfect", scores, targets))
    # Every score equal: one threshold, AP = the positives' share.
    targets = np.array([[1, 0], [0, 1], [0, 0], [1, 1], [0, 0]])
    scores = np.full(targets.shape, 0.5)
    cases.append(case("all_tied", scores, targets))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"generator": "scripts/make_map_fixtures.py", "cases": cases}, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
