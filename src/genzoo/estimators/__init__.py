"""Monte Carlo estimators of log-likelihoods that model families share (below the models,
above the layers): they take functions of tensors and know no model class.

- :mod:`genzoo.estimators.ais`: annealed importance sampling over a Gaussian latent space
  (Neal 2001; Wu et al. 2017), used by the VAE's ``nll_terms``.
"""
