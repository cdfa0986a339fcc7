"""The Inception Score (Salimans et al. 2016) and the domain classifier's logits."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch

from genzoo.errors import UserInputError
from genzoo.metrics import ISResult, inception_score


def one_hot_logits(labels: torch.Tensor, k: int, scale: float = 50.0) -> torch.Tensor:
    return scale * torch.nn.functional.one_hot(labels, k).double()  # (N, K)


def reference_is(logits: np.ndarray, splits: int) -> tuple[float, float]:
    """The original code's loop, with scipy's softmax and KL (scipy.stats.entropy)."""
    preds = scipy.special.softmax(logits, axis=1)
    n, scores = len(preds), []
    for i in range(splits):
        part = preds[i * n // splits : (i + 1) * n // splits]
        py = part.mean(0)
        scores.append(np.exp(np.mean([scipy.stats.entropy(row, py) for row in part])))
    return float(np.mean(scores)), float(np.std(scores))


@pytest.mark.parametrize("k", [2, 10, 37])
def test_confident_balanced_predictions_score_the_number_of_classes(k):
    splits = 4
    labels = torch.arange(k * splits * 3) % k  # every chunk holds every class 3 times
    r = inception_score(one_hot_logits(labels, k), splits=splits)
    assert isinstance(r, ISResult) and r.splits == splits and r.n == len(labels)
    assert r.mean == pytest.approx(k, abs=1e-6) and r.std == pytest.approx(0, abs=1e-6)


def test_confident_predictions_of_one_class_score_one():
    r = inception_score(one_hot_logits(torch.full((50,), 3), 10), splits=5)
    assert r.mean == pytest.approx(1, abs=1e-9) and r.std == pytest.approx(0, abs=1e-9)


def test_uniform_predictions_score_one():
    r = inception_score(torch.zeros(40, 10), splits=4)
    assert r.mean == pytest.approx(1, abs=1e-12) and r.std == pytest.approx(0, abs=1e-12)
    r = inception_score(torch.full((40, 10), 7.5), splits=4)
    assert r.mean == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize("n", [100, 103])  # 103: chunks of 20 and 21 rows
def test_matches_an_independent_scipy_computation(n):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, 7, generator=g, dtype=torch.float64) * 3
    mean, std = reference_is(logits.numpy(), splits=5)
    r = inception_score(logits, splits=5)
    assert r.mean == pytest.approx(mean, abs=1e-10) and r.std == pytest.approx(std, abs=1e-10)
    assert r.std > 1e-3  # random chunks differ: the std is not trivially 0
    assert inception_score(logits.float(), splits=5).mean == pytest.approx(mean, abs=1e-5)


def test_each_chunk_uses_its_own_marginal_over_contiguous_rows():
    k, splits = 5, 5
    labels = torch.arange(k).repeat_interleave(10)  # sorted: chunk i is all class i
    logits = one_hot_logits(labels, k)
    assert inception_score(logits, splits=splits).mean == pytest.approx(1, abs=1e-6)
    assert inception_score(logits, splits=1).mean == pytest.approx(k, abs=1e-6)
    shuffled = logits[torch.arange(len(labels)).reshape(10, k).T.reshape(-1)]  # interleaved
    assert inception_score(shuffled, splits=splits).mean == pytest.approx(k, abs=1e-6)


def test_invariant_to_per_row_shifts_and_to_the_order_of_the_chunks():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(60, 6, generator=g, dtype=torch.float64) * 2
    r = inception_score(logits, splits=6)
    shifted = logits + torch.randn(60, 1, generator=g, dtype=torch.float64) * 100
    s = inception_score(shifted, splits=6)
    assert s.mean == pytest.approx(r.mean, abs=1e-10) and s.std == pytest.approx(r.std, abs=1e-10)
    chunks = logits.reshape(6, 10, 6)  # (splits, rows per chunk, classes)
    reordered = chunks[torch.tensor([3, 0, 5, 1, 4, 2])].reshape(60, 6)
    o = inception_score(reordered, splits=6)
    assert o.mean == pytest.approx(r.mean, abs=1e-12) and o.std == pytest.approx(r.std, abs=1e-12)


def test_zero_probabilities_give_finite_scores():
    labels = torch.arange(20) % 4
    r = inception_score(one_hot_logits(labels, 4, scale=1e4), splits=5)  # softmax has exact 0s
    assert np.isfinite(r.mean) and r.mean == pytest.approx(4, abs=1e-12)


@pytest.mark.parametrize(
    ("logits", "splits", "match"),
    [
        (torch.zeros(10), 2, "2-D"),
        (torch.zeros(2, 3, 4), 2, "2-D"),
        (torch.zeros(5, 3), 10, "fewer than splits"),
        (torch.zeros(5, 3), 0, "splits"),
        (torch.tensor([[0.0, float("nan")], [1.0, 2.0]]), 1, "NaN or infinite"),
        (torch.tensor([[0.0, float("inf")], [1.0, 2.0]]), 1, "NaN or infinite"),
    ],
)
def test_rejects_bad_input_with_a_message(logits, splits, match):
    with pytest.raises(ValueError, match=match) as info:
        inception_score(logits, splits=splits)
    assert isinstance(info.value, UserInputError) and "\n" not in str(info.value)


def test_domain_classifier_logits_agree_with_its_features_and_accuracy(tmp_path):
    from genzoo.data import load_dataset
    from genzoo.metrics import DomainFeatures

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    net = DomainFeatures(
        train.images, train.labels, test.images, test.labels,
        dataset="digits", steps=60, cache_dir=tmp_path, log=None,
    )  # fmt: skip
    seen: list[int] = []
    logits = net.logits(test.images, progress=seen.append)
    k = int(test.labels.max()) + 1
    assert logits.shape == (len(test.images), k) and logits.dtype == torch.float32
    assert logits.device.type == "cpu" and torch.isfinite(logits).all()
    assert sum(seen) == len(test.images)
    correct = (logits.argmax(1) == test.labels).double().mean().item()
    assert correct == pytest.approx(net.accuracy, abs=1e-6)
    # The head applied to the features: the same network, the same inputs.
    head = net.net.head
    raw = net.features(test.images) * net.scale  # features are returned at unit RMS
    expected = raw @ head.weight.detach().T + head.bias.detach()
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
    # Batches of 500: 600 images take two batches; the rows do not depend on the batching.
    twice = net.logits(torch.cat([test.images, test.images]))
    torch.testing.assert_close(twice[: len(test.images)], logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(twice[len(test.images) :], logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(net.logits(test.images[:7]), logits[:7], atol=1e-5, rtol=1e-5)
    r = inception_score(logits, splits=3)
    assert 1 <= r.mean <= k
