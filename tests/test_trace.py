"""The v1 trace format: round trip, the loader's refusals (one test per kind of bad file), the
synthetic generator and the shipped traces."""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest

from spatten_sim.errors import TraceError
from spatten_sim.trace import (
    FORMAT_VERSION,
    Trace,
    load_trace,
    save_trace,
    synthetic_trace,
    validate_trace,
)

TRACES = Path(__file__).resolve().parents[1] / "traces"


def write_npz(path: Path, arrays: dict[str, np.ndarray], *, allow_pickle: bool = False) -> Path:
    """Write arbitrary members (possibly malformed) into a .npz archive."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, a in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, a, allow_pickle=allow_pickle)
    return path


def parts(trace: Trace) -> tuple[dict, dict[str, np.ndarray]]:
    """The metadata dict and the arrays of ``trace``, to be tampered with."""
    arrays = {"q": trace.q, "k": trace.k, "v": trace.v}
    if trace.bias is not None:
        arrays["bias"] = trace.bias
    return asdict(trace.meta), arrays


def write_parts(path: Path, meta: dict, arrays: dict[str, np.ndarray]) -> Path:
    return write_npz(path, {"meta": np.array(json.dumps(meta)), **arrays})


@pytest.fixture
def small() -> Trace:
    return synthetic_trace(n_layers=2, n_heads=4, n_kv_heads=2, head_dim=8, tokens=12, seed=3)


def refused(path: Path, *needles: str, **kw: int) -> str:
    with pytest.raises(TraceError) as info:
        load_trace(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert str(path) in msg
    for n in needles:
        assert n in msg, msg
    return msg


# --- round trip ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
def test_round_trip_is_bit_identical(tmp_path: Path, dtype: type) -> None:
    t = synthetic_trace(tokens=20, generated_tokens=5, n_kv_heads=2, dtype=dtype)
    t = replace(t, token_ids=np.arange(20, dtype=np.int32))
    p = save_trace(t, tmp_path / "a.npz")
    u = load_trace(p)
    assert u.meta == t.meta
    for name in ("q", "k", "v", "token_ids"):
        a, b = getattr(t, name), getattr(u, name)
        assert a.dtype == b.dtype and a.shape == b.shape
        assert a.tobytes() == b.tobytes()
    # writing the loaded trace again gives the same bytes: the writer is deterministic
    p2 = save_trace(u, tmp_path / "b.npz")
    assert p.read_bytes() == p2.read_bytes()


def test_round_trip_with_bias(tmp_path: Path, small: Trace) -> None:
    bias = np.linspace(-2, 2, 4 * 12 * 12, dtype=np.float32).reshape(1, 4, 12, 12)
    t = replace(small, bias=bias.astype(np.float16), meta=replace(small.meta, bias="stored"))
    u = load_trace(save_trace(t, tmp_path / "b.npz"))
    assert u.bias is not None and u.bias.tobytes() == t.bias.tobytes()
    assert np.allclose(u.layer_bias(1), bias[0], atol=1e-2)


def test_loaded_arrays_are_read_only(tmp_path: Path, small: Trace) -> None:
    u = load_trace(save_trace(small, tmp_path / "a.npz"))
    with pytest.raises(ValueError):
        u.q[0, 0, 0, 0] = 1


def test_save_refuses_an_invalid_trace(tmp_path: Path, small: Trace) -> None:
    bad = replace(small, q=small.q[:, :, :5])
    with pytest.raises(TraceError, match="'q' has shape"):
        save_trace(bad, tmp_path / "x.npz")


# --- the loader's refusals, one per kind of bad file -------------------------------------------


def test_refuses_a_missing_file(tmp_path: Path) -> None:
    refused(tmp_path / "nope.npz", "no such file")


def test_refuses_a_directory(tmp_path: Path) -> None:
    refused(tmp_path, "not a regular file")


def test_refuses_a_file_that_is_not_a_zip(tmp_path: Path) -> None:
    p = tmp_path / "x.npz"
    p.write_text("q,k,v\n1,2,3\n")
    refused(p, "not a zip archive")


def test_refuses_a_truncated_file(tmp_path: Path, small: Trace) -> None:
    p = save_trace(small, tmp_path / "a.npz")
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    refused(p, "not a zip archive")  # the central directory at the end is gone


def test_refuses_corrupt_array_data(tmp_path: Path, small: Trace) -> None:
    p = save_trace(small, tmp_path / "a.npz")
    data = bytearray(p.read_bytes())
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo("q.npy")
    # overwrite the middle of q's compressed stream (after its local header)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 40
    data[start : start + 64] = bytes(64)
    p.write_bytes(bytes(data))
    refused(p, "cannot read 'q'", "truncated or corrupt")


def test_refuses_a_missing_meta(tmp_path: Path, small: Trace) -> None:
    _, arrays = parts(small)
    refused(write_npz(tmp_path / "x.npz", arrays), "missing the 'meta' array")


def test_refuses_a_missing_array(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    del arrays["v"]
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "missing the 'v' array")


def test_refuses_an_unknown_array(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    arrays["attn"] = np.zeros(3, np.float16)
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "unknown arrays ['attn']")


def test_refuses_a_member_that_is_not_npy(tmp_path: Path, small: Trace) -> None:
    p = save_trace(small, tmp_path / "a.npz")
    with zipfile.ZipFile(p, "a") as zf:
        zf.writestr("payload.pkl", b"\x80\x04N.")
    refused(p, "unexpected member 'payload.pkl'")


def test_refuses_a_pickle_inside(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    arrays["q"] = np.array([{"evil": 1}], dtype=object)
    p = write_npz(
        tmp_path / "x.npz", {"meta": np.array(json.dumps(meta)), **arrays}, allow_pickle=True
    )
    refused(p, "'q' holds Python objects (a pickle)")


def test_refuses_a_pickled_meta(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    p = write_npz(
        tmp_path / "x.npz", {"meta": np.array(meta, dtype=object), **arrays}, allow_pickle=True
    )
    refused(p, "'meta' holds Python objects (a pickle)")


def test_refuses_meta_that_is_not_json(tmp_path: Path, small: Trace) -> None:
    _, arrays = parts(small)
    refused(
        write_npz(tmp_path / "x.npz", {"meta": np.array("{not json"), **arrays}), "not valid JSON"
    )


def test_refuses_meta_that_is_not_a_string(tmp_path: Path, small: Trace) -> None:
    _, arrays = parts(small)
    refused(write_npz(tmp_path / "x.npz", {"meta": np.zeros(3), **arrays}), "0-d unicode array")


def test_refuses_missing_metadata_fields(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    del meta["n_heads"], meta["softmax_scale"]
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "missing metadata fields", "n_heads")


def test_refuses_unknown_metadata_fields(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    meta["colour"] = "blue"
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "unknown metadata fields ['colour']")


def test_refuses_a_metadata_field_of_the_wrong_type(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    meta["tokens"] = "12"
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "'tokens' has the wrong type (str)")
    meta["tokens"] = True
    refused(write_parts(tmp_path / "y.npz", meta, arrays), "'tokens' has the wrong type (bool)")


@pytest.mark.parametrize("version", [2, 0, None, "1"])
def test_refuses_an_unknown_format_version(tmp_path: Path, small: Trace, version: object) -> None:
    meta, arrays = parts(small)
    meta["format_version"] = version
    refused(
        write_parts(tmp_path / "x.npz", meta, arrays),
        "unknown format_version",
        f"reads {FORMAT_VERSION}",
    )


def test_refuses_a_wrong_shape(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    arrays["k"] = arrays["k"][:, :, :-1]
    refused(
        write_parts(tmp_path / "x.npz", meta, arrays),
        "'k' has shape (2, 2, 11, 8)",
        "(2, 2, 12, 8)",
    )


def test_refuses_metadata_that_contradicts_itself(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    meta["prompt_tokens"] = 5
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "must equal tokens 12")
    meta, arrays = parts(small)
    meta["n_kv_heads"] = 3
    refused(write_parts(tmp_path / "y.npz", meta, arrays), "not a multiple of n_kv_heads")
    meta, arrays = parts(small)
    meta["softmax_scale"] = -1.0
    refused(write_parts(tmp_path / "z.npz", meta, arrays), "softmax_scale must be finite and > 0")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_refuses_nan_or_inf(tmp_path: Path, small: Trace, bad: float) -> None:
    meta, arrays = parts(small)
    q = arrays["q"].copy()
    q[1, 2, 3, 4] = bad
    arrays["q"] = q
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "'q' contains NaN or inf")


@pytest.mark.parametrize("dtype", ["<f8", "<i2", ">f2", "<c8"])
def test_refuses_a_wrong_dtype(tmp_path: Path, small: Trace, dtype: str) -> None:
    meta, arrays = parts(small)
    arrays["v"] = arrays["v"].astype(dtype)
    refused(
        write_parts(tmp_path / "x.npz", meta, arrays),
        "'v' has dtype",
        "expected float16 or float32",
    )


def test_refuses_token_ids_of_the_wrong_dtype(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    arrays["token_ids"] = np.arange(12, dtype=np.int64)
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "'token_ids' has dtype <i8")


def test_refuses_an_array_above_the_cap(tmp_path: Path, small: Trace) -> None:
    p = save_trace(small, tmp_path / "a.npz")
    refused(p, "'q' has 768 elements, above the cap of 700", max_elements=700)
    assert load_trace(p, max_elements=768).q.size == 768


def test_the_cap_is_checked_before_reading(tmp_path: Path, small: Trace) -> None:
    """A header that claims 2**40 elements is refused from the header, without allocating."""
    meta, arrays = parts(small)
    header = np.lib.format.header_data_from_array_1_0(arrays["q"])
    header["shape"] = (1 << 20, 1 << 20)
    p = tmp_path / "x.npz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("meta.npy", _npy_bytes(np.array(json.dumps(meta))))
        for n in ("k", "v"):
            zf.writestr(f"{n}.npy", _npy_bytes(arrays[n]))
        with zf.open("q.npy", "w") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            fh.write(b"\0" * 16)  # far less data than the header claims
    refused(p, "'q' has 1099511627776 elements, above the cap")


def test_refuses_an_array_whose_data_is_cut_short(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    p = tmp_path / "x.npz"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("meta.npy", _npy_bytes(np.array(json.dumps(meta))))
        for n in ("q", "k"):
            zf.writestr(f"{n}.npy", _npy_bytes(arrays[n]))
        zf.writestr("v.npy", _npy_bytes(arrays["v"])[:-100])
    refused(p, "cannot read 'v'")


def test_refuses_a_bias_flag_without_a_bias(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    meta["bias"] = "stored"
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "no 'bias' array")


def test_refuses_a_bias_of_the_wrong_shape(tmp_path: Path, small: Trace) -> None:
    meta, arrays = parts(small)
    meta["bias"] = "stored"
    arrays["bias"] = np.zeros((2, 4, 12, 11), np.float16)
    refused(write_parts(tmp_path / "x.npz", meta, arrays), "'bias' has shape (2, 4, 12, 11)")


def _npy_bytes(a: np.ndarray) -> bytes:
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


# --- probabilities and the synthetic generator -------------------------------------------------


def test_probabilities_are_softmax_of_scaled_scores(small: Trace) -> None:
    p = small.probabilities(1)
    assert p.shape == (4, 12, 12)
    q = small.q[1, 3].astype(np.float64)
    k = small.k[1, 3 // 2].astype(np.float64)  # query head 3 shares K/V head 1 (GQA, group 2)
    s = q @ k.T * small.meta.softmax_scale
    e = np.exp(s - s.max(axis=1, keepdims=True))
    assert np.allclose(p[3], e / e.sum(axis=1, keepdims=True), atol=1e-6)


def test_causal_probabilities_ignore_later_tokens() -> None:
    t = synthetic_trace(tokens=10, generated_tokens=3, head_dim=8)
    p = t.probabilities(0)
    assert np.all(np.triu(p[0], k=1) == 0)
    assert np.allclose(p.sum(axis=-1), 1, atol=1e-5)
    assert p[0, 0, 0] == pytest.approx(1.0)


def test_synthetic_is_marked_and_valid() -> None:
    t = synthetic_trace(n_layers=3, n_heads=6, n_kv_heads=2, tokens=40, generated_tokens=8)
    validate_trace(t)
    m = t.meta
    assert m.synthetic and m.model == "synthetic" and m.text_source == "synthetic"
    assert (m.n_layers, m.n_heads, m.n_kv_heads, m.tokens) == (3, 6, 2, 40)
    assert (m.prompt_tokens, m.generated_tokens, m.causal) == (32, 8, True)
    assert t.q.shape == (3, 6, 40, 64) and t.k.shape == (3, 2, 40, 64)


def test_synthetic_is_deterministic_per_seed() -> None:
    a, b, c = (synthetic_trace(seed=s) for s in (1, 1, 2))
    assert a.q.tobytes() == b.q.tobytes()
    assert a.q.tobytes() != c.q.tobytes()


def test_synthetic_concentration_controls_peakedness() -> None:
    def mean_max_prob(conc: float) -> float:
        t = synthetic_trace(tokens=128, concentration=conc, dtype=np.float32, seed=5)
        return float(t.probabilities(0).max(axis=-1).mean())

    flat, mid, peaked = mean_max_prob(0.0), mean_max_prob(1.0), mean_max_prob(4.0)
    assert flat < mid < peaked
    assert peaked > 5 * flat


def test_synthetic_hot_tokens_get_the_attention() -> None:
    t = synthetic_trace(tokens=64, concentration=4.0, dtype=np.float32, seed=7)
    received = t.probabilities(0).sum(axis=(0, 1))  # attention each key receives
    hot = t.meta.extra["hot_tokens"]
    cold = np.setdiff1d(np.arange(64), hot)
    assert received[hot].mean() > 5 * received[cold].mean()


def test_synthetic_rejects_impossible_shapes() -> None:
    with pytest.raises(ValueError):
        synthetic_trace(n_heads=4, n_kv_heads=3)
    with pytest.raises(ValueError):
        synthetic_trace(tokens=8, generated_tokens=8)
    with pytest.raises(ValueError):
        synthetic_trace(generated_tokens=2, causal=False)


# --- the shipped traces ------------------------------------------------------------------------

SHIPPED = {
    # file: (model substring, tokens, prompt, generated, n_layers, n_heads, n_kv_heads, head_dim)
    "minilm-sst-25.npz": ("MiniLM", 25, 25, 0, 6, 12, 12, 32),
    "minilm-sst-60.npz": ("MiniLM", 60, 60, 0, 6, 12, 12, 32),
    "mpnet-wiki-128.npz": ("mpnet", 128, 128, 0, 12, 12, 12, 64),
    "smollm2-wiki-96+16.npz": ("SmolLM2", 112, 96, 16, 30, 9, 3, 64),
}


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_trace_is_real_and_valid(name: str) -> None:
    model, tokens, prompt, gen, layers, heads, kv, hd = SHIPPED[name]
    t = load_trace(TRACES / name)
    m = t.meta
    assert model in m.model and not m.synthetic and m.model_package and m.text_source
    assert (m.tokens, m.prompt_tokens, m.generated_tokens) == (tokens, prompt, gen)
    assert (m.n_layers, m.n_heads, m.n_kv_heads, m.head_dim) == (layers, heads, kv, hd)
    assert m.causal == (gen > 0)
    assert t.q.dtype == np.float16
    assert t.token_ids is not None and t.token_ids.shape == (tokens,)
    assert m.softmax_scale == pytest.approx(hd**-0.5)
    assert m.extra["command"].startswith("spatten-sim trace ")
    assert (TRACES / name).stat().st_size < 10_000_000
    p = t.probabilities(m.n_layers - 1)
    assert np.allclose(p.sum(axis=-1), 1, atol=1e-4)


def test_shipped_mpnet_trace_stores_its_shared_bias() -> None:
    t = load_trace(TRACES / "mpnet-wiki-128.npz")
    assert t.meta.bias == "stored" and t.bias is not None and t.bias.shape == (1, 12, 128, 128)
    b = t.bias[0].astype(np.float32)
    # a relative-position bias depends only on the offset j - i: constant along each diagonal
    for offset in (-5, 0, 3, 40):
        d = np.diagonal(b, offset=offset, axis1=1, axis2=2)
        assert np.all(d == d[:, :1])


def test_shipped_decoder_trace_has_generated_tokens() -> None:
    t = load_trace(TRACES / "smollm2-wiki-96+16.npz")
    assert t.meta.extra["generated_text"].strip()
    assert t.meta.extra["qk_after_rope"] is True


def test_repr_is_one_line_of_the_shape_without_arrays() -> None:
    t = load_trace(TRACES / "minilm-sst-25.npz")
    assert repr(t) == (
        "Trace(model='sentence-transformers/all-MiniLM-L6-v2', layers=6, heads=12, head_dim=32, "
        "tokens=25 prompt + 0 generated, bidirectional, float16)"
    )
    gqa = synthetic_trace(n_layers=3, n_heads=8, n_kv_heads=2, tokens=20, generated_tokens=4)
    text = repr(gqa)
    assert "heads=8 (2 kv)" in text and "tokens=16 prompt + 4 generated" in text
    assert "causal" in text and "array" not in text and "\n" not in text
