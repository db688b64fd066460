//! Video datasets, the ρ-clip sampler, T/S/C augmentation, the loader, and the synthetic dataset.
