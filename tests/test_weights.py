import hashlib
import io

import pytest
import torch

from helpers.httpserver import serve
from kolorize.errors import MissingWeightsError
from kolorize.weights import WEIGHTS, WeightFile, hub_dir_with, locate_weights


def _state_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save({"w": torch.arange(6.0)}, buf)
    return buf.getvalue()


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def _register(monkeypatch, url: str, data: bytes, name: str = "tiny") -> WeightFile:
    digest = hashlib.sha256(data).hexdigest()[:8]
    spec = WeightFile(name, f"{name}-{digest}.pth", url, "a test network")
    monkeypatch.setitem(WEIGHTS, name, spec)
    return spec


def test_downloads_into_the_hub_cache_and_checks_the_hash(torch_home, monkeypatch):
    data = _state_bytes()
    with serve({"/w.pth": data}) as srv:
        spec = _register(monkeypatch, f"{srv.url}/w.pth", data)
        path = locate_weights("tiny")
        assert path == torch_home / "hub" / "checkpoints" / spec.filename
        assert path.read_bytes() == data
        locate_weights("tiny")  # found in the cache: no second request
        assert len(srv.requests) == 1


def test_a_corrupted_download_is_refused(torch_home, monkeypatch):
    data = _state_bytes()
    with serve({"/w.pth": data[:-1] + b"x"}) as srv:
        _register(monkeypatch, f"{srv.url}/w.pth", data)
        with pytest.raises(MissingWeightsError, match="checksum"):
            locate_weights("tiny")


def test_weights_dir_wins_and_offline_error_names_file_and_places(
    torch_home, tmp_path, monkeypatch
):
    spec = _register(monkeypatch, "http://127.0.0.1:9/nothing.pth", _state_bytes())
    with pytest.raises(MissingWeightsError) as err:
        locate_weights("tiny", tmp_path / "mine")
    message = str(err.value)
    assert spec.filename in message and str(tmp_path / "mine") in message and "hub" in message
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / spec.filename).write_bytes(_state_bytes())
    assert locate_weights("tiny", tmp_path / "mine") == tmp_path / "mine" / spec.filename
    with pytest.raises(MissingWeightsError, match="not found"):
        locate_weights("tiny", download_missing=False)


def test_hub_dir_with_lets_torch_hub_find_a_local_file(torch_home, tmp_path, monkeypatch):
    data = _state_bytes()
    spec = _register(monkeypatch, "http://127.0.0.1:9/x.pth", data)
    local = tmp_path / spec.filename
    local.write_bytes(data)
    with hub_dir_with(local):
        state = torch.hub.load_state_dict_from_url(spec.url, file_name=spec.filename)
    assert torch.equal(state["w"], torch.arange(6.0))


def test_registry_names_the_real_files():
    assert WEIGHTS["inception"].filename == "weights-inception-2015-12-05-6726825d.pth"
    assert WEIGHTS["alexnet"].sha256_prefix == "7be5be79"
    assert WEIGHTS["resnet18"].url.endswith("resnet18-f37072fd.pth")
