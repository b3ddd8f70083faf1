"""Downloads and checksums of the registered data set files, through the public loaders.

A local HTTP server stands in for the hosts. The written files are not the
official ones, so with ``verify=True`` the registry's published checksums
refuse them; the successful verified download is checked with the real files
of ../shared/data (``data``-marked).
"""

import re
import shutil

import numpy as np
import pytest

from sklearn_lt.datasets import load_cifar10, load_fashion_mnist, load_mnist


def test_download_fetches_and_loads(http_folder, tmp_path, dataset_files):
    served, url = http_folder
    arrays = dataset_files.write_mnist_like(served)
    home = tmp_path / "home" / "mnist"
    with pytest.raises(FileNotFoundError):
        load_mnist(home)
    data = load_mnist(home, download=True, verify=False, base_url=url)
    np.testing.assert_array_equal(data.X_train, arrays["train-images-idx3-ubyte.gz"])
    # Every file fetched whole, under its own name: no .part file left.
    assert sorted(p.name for p in home.iterdir()) == sorted(dataset_files.MNIST_FILES)
    for name in dataset_files.MNIST_FILES:
        assert dataset_files.sha256(home / name) == dataset_files.sha256(served / name)
    # Present files are not fetched again: the server could be gone.
    again = load_mnist(home, download=True, verify=False, base_url="http://127.0.0.1:9/")
    np.testing.assert_array_equal(again.y_test, data.y_test)


def test_download_with_wrong_checksum_is_discarded(http_folder, tmp_path, dataset_files):
    served, url = http_folder
    dataset_files.write_mnist_like(served)
    home = tmp_path / "home"
    with pytest.raises(OSError, match=r"Downloaded .*/train-images-idx3-ubyte\.gz has SHA256 "
                                      r"[0-9a-f]{64}, expected [0-9a-f]{64}; the download was "
                                      r"discarded"):
        load_mnist(home, download=True, base_url=url)
    assert "train-images-idx3-ubyte.gz" not in {p.name for p in home.iterdir()}
    assert not list(home.glob("*.part")) and not list(home.glob("*.part*"))


def test_download_base_url_keyword_and_md5(http_folder, tmp_path, dataset_files):
    served, url = http_folder
    dataset_files.write_cifar10_tar(served / "cifar-10-python.tar.gz")
    # CIFAR's registry entry is an MD5 sum (all its authors publish).
    with pytest.raises(OSError, match=r"Downloaded .*cifar-10-python\.tar\.gz has MD5 "
                                      r"[0-9a-f]{32}, expected [0-9a-f]{32}"):
        load_cifar10(tmp_path / "c10", download=True, base_url=url)
    assert not (tmp_path / "c10" / "cifar-10-python.tar.gz").exists()
    data = load_cifar10(tmp_path / "c10", download=True, verify=False, base_url=url)
    assert data.X_train.shape == (5 * 4, 3, 32, 32)
    assert (tmp_path / "c10" / "cifar-10-python.tar.gz").is_file()


def test_download_missing_on_server(http_folder, tmp_path):
    _, url = http_folder  # serves an empty folder
    with pytest.raises(OSError, match=r"Could not download .*train-images-idx3-ubyte\.gz.*404"):
        load_mnist(tmp_path / "home", download=True, base_url=url)
    assert not list((tmp_path / "home").glob("*"))


@pytest.mark.data("fashion-mnist/SHA256SUMS")
def test_verified_download_of_the_official_files(http_folder, tmp_path, data_dir,
                                                 dataset_files):
    served, url = http_folder
    source = data_dir / "fashion-mnist"
    for name in dataset_files.MNIST_FILES:
        shutil.copyfile(source / name, served / name)
    home = tmp_path / "fm"
    data = load_fashion_mnist(home, download=True, base_url=url)  # verify=True
    assert data.X_train.shape == (60000, 28, 28)
    sums = dataset_files.sums(source)
    for name in dataset_files.MNIST_FILES:
        assert dataset_files.sha256(home / name) == sums[name]


@pytest.mark.parametrize("download", [False, True])
def test_data_home_that_is_a_file(tmp_path, download):
    # Before: FileNotFoundError ("not found in data_home") without download, a raw
    # FileExistsError / NotADirectoryError from mkdir with it.
    (tmp_path / "afile").write_text("not a folder")
    for home in (tmp_path / "afile", tmp_path / "afile" / "sub"):
        with pytest.raises(ValueError, match=rf"data_home {re.escape(str(home))} is not a "
                                             rf"folder: {re.escape(str(tmp_path / 'afile'))} "
                                             "is a file"):
            load_mnist(home, download=download, base_url="http://127.0.0.1:9/")
        with pytest.raises(ValueError, match="is not a folder"):
            load_cifar10(home, download=download, base_url="http://127.0.0.1:9/")


@pytest.mark.parametrize("download", [False, True])
def test_download_target_that_is_a_directory(http_folder, tmp_path, dataset_files, download):
    served, url = http_folder
    dataset_files.write_mnist_like(served)
    home = tmp_path / "home"
    target = home / "train-images-idx3-ubyte.gz"
    target.mkdir(parents=True)
    # Before: FileNotFoundError ("not found") without download; with it, the
    # whole file was fetched and os.replace failed with a raw IsADirectoryError.
    with pytest.raises(ValueError, match=rf"{re.escape(str(target))} is a folder, not the "
                                         "file train-images-idx3-ubyte.gz"):
        load_mnist(home, download=download, verify=False, base_url=url)
    assert sorted(p.name for p in home.iterdir()) == ["train-images-idx3-ubyte.gz"]
    assert target.is_dir() and not any(target.iterdir())
