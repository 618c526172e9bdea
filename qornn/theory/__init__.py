"""Numerical companions to four theory papers of F. Malgouyres' group.

Each module checks one paper's main results on small cases; none imports the RNN code of
:mod:`qornn` (only :mod:`qornn.results`, to record runs with their provenance), and the RNN code
imports nothing from here.

- :mod:`qornn.theory.landscape`: the loss landscape of deep linear networks, second order
  (Achour, Malgouyres, Gerchinovitz, JMLR 25(242), 2024; arXiv 2107.13289).
- :mod:`qornn.theory.local_identifiability`: local identifiability of deep ReLU networks
  (Bona-Pellissier, Malgouyres, Bachoc, NeurIPS 2022; arXiv 2206.07424).
- :mod:`qornn.theory.parameter_identifiability`: parameter identifiability of a deep feedforward
  ReLU network (Bona-Pellissier, Bachoc, Malgouyres, Machine Learning 2023; arXiv 2112.12982).
- :mod:`qornn.theory.approximation`: a general approximation lower bound in L^p
  (Achour, Foucault, Gerchinovitz, Malgouyres, NeurIPS 2022; arXiv 2206.04360).
- :mod:`qornn.theory.runner`: the experiments of these chapters, with smoke / cpu / paper profiles,
  recorded through :mod:`qornn.results`.
"""
