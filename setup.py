"""pnf-wavenet: a WaveNet prior sampled with annealed Langevin dynamics for audio inverse problems."""
from setuptools import find_packages, setup

setup(
    name="pnf-wavenet",
    version="0.1.0",
    description="Parallel and flexible sampling from a WaveNet prior: super-resolution, inpainting, "
                "source separation and mel-conditioned generation",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["wavenet_vocoder", "wavenet_vocoder.*"]),
    python_requires=">=3.9",
    install_requires=[
        "torch>=1.13",
        "numpy>=1.24",
        "scipy>=1.10",
        "librosa>=0.10",
        "soundfile>=0.12",
        "docopt>=0.6.2",
        "tqdm>=4.60",
        "nnmnkwii>=0.1.2",
        "gdown>=5.2",
        "matplotlib>=3.5",
    ],
    extras_require={"test": ["pytest>=7"]},
    entry_points={
        "console_scripts": [
            "pnf-download=wavenet_vocoder.download:cli",
            "pnf-preprocess=wavenet_vocoder.preprocess:cli",
            "pnf-train=wavenet_vocoder.train:cli",
            "pnf-superres=wavenet_vocoder.pnf.sgld_superres:cli",
            "pnf-inpainting=wavenet_vocoder.pnf.sgld_inpainting:cli",
            "pnf-separation=wavenet_vocoder.pnf.sgld_separation:cli",
            "pnf-spectrogram=wavenet_vocoder.pnf.sgld_spectrogram_descent:cli",
            "pnf-synthesis=wavenet_vocoder.synthesis:cli",
        ],
    },
)
