"""pnf-wavenet: a WaveNet prior and annealed Langevin sampling for audio inverse problems."""

__version__ = "0.1.0"
