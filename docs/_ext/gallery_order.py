"""The gallery's reading order: a newcomer's path, not the alphabet."""

from pathlib import Path

ORDER = [
    "plot_quick_start.py",
    "plot_decoupling.py",
    "plot_tune_tau.py",
    "plot_calibration.py",
    "plot_stage1_samplers_losses.py",
    "plot_power_resampler.py",
    "plot_swag_and_meta.py",
    "plot_save_load_pipeline.py",
    "train_data_parallel.py",
]


class ExampleOrder:
    """sphinx-gallery ``within_subsection_order`` key: ``ORDER`` first, others by name after."""

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        name = Path(filename).name
        return (ORDER.index(name), name) if name in ORDER else (len(ORDER), name)

    def __repr__(self):  # sphinx caches the configuration by its repr
        return f"<{type(self).__name__}>"
