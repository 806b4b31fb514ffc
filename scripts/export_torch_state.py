#!/usr/bin/env python3
"""Exports PyTorch weights to the HDF5 file melgrad loads (io::load_module / load_tensor_file).

    python3 scripts/export_torch_state.py model.pt weights.h5 [--strip-prefix module.]
        [--key state_dict] [--attr KEY=VALUE ...] [--full-pickle]

The layout is the one engine/io/tensor_file.cpp reads and writes:
  - one dataset per tensor at the file's root, named by its state_dict key
    ("features.0.weight", "lstm.weight_hh_l0_reverse"); 0-d tensors (e.g. BatchNorm's
    num_batches_tracked) are scalar datasets;
  - float32 stays float32 and float64 float64 ('<f4', '<f8'); float16/bfloat16 are widened
    to float32; every integer or bool becomes int64 ('<i8');
  - contiguous storage, no compression or chunking, C order;
  - metadata as fixed-length ASCII/UTF-8 string attributes on the root (melgrad skips
    variable-length strings);
  - written as NAME.tmp-PID, fsync'd, then renamed over NAME (as melgrad's own saves).
The file format is limited to HDF5 1.10 features so Debian 12's libhdf5 reads it.

melgrad's load is strict: names and shapes must match the melgrad model's
(`melgrad`'s models use PyTorch's names: see models/cnn.h, models/lstm.h).

Checkpoints of the study's notebook (its own module names, its [B, 1, F, T] CNN image):

    python3 scripts/export_torch_state.py CNN.pt weights.h5 --from-notebook cnn \
        --frames T --bands F --pool P [--orientation time-major|frequency-major] \
        [--model-config-out model_config.json]

renames the tensors to melgrad's, transposes the conv kernels and permutes the first FC
layer's columns for melgrad's [B, 1, T, F] image (scripts/notebook_import.py has the map
and the derivation), stores float32, and writes the melgrad model_config that loads them
(kinds: cnn, lstm, multitask; --frames/--bands/--pool only for the CNNs).

Needs numpy and h5py; torch only to read .pt files (write_melgrad_h5 takes plain numpy
arrays, so tests/fixtures/make_torch_export_fixture.py uses it without torch).
"""

import argparse
import json
import os
import sys
from collections import OrderedDict
from typing import Mapping, Optional

import h5py
import numpy as np


def as_melgrad_array(name: str, value) -> np.ndarray:
    """A numpy array in one of melgrad's dtypes (<f4, <f8, <i8), C-contiguous."""
    if hasattr(value, "detach"):  # a torch.Tensor, without importing torch here
        value = value.detach().cpu()
        if str(value.dtype) in ("torch.bfloat16", "torch.float16"):
            value = value.float()
        value = value.numpy()
    arr = np.asarray(value)
    kind = arr.dtype.kind
    if kind == "f":
        dtype = "<f8" if arr.dtype.itemsize >= 8 else "<f4"  # float16 widens
    elif kind in "iub":
        if kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise ValueError(f"{name}: unsigned values beyond int64")
        dtype = "<i8"
    else:
        raise TypeError(f"{name}: dtype {arr.dtype} is not supported (melgrad reads float32, "
                        "float64 and integers)")
    # np.array, not np.ascontiguousarray: that one turns 0-d arrays into shape (1,).
    return np.array(arr, dtype=dtype, order="C")


def write_melgrad_h5(path: str, arrays: Mapping[str, np.ndarray],
                     attributes: Optional[Mapping[str, str]] = None) -> None:
    """Writes name -> array as melgrad's HDF5 tensor file at `path` (atomically)."""
    for name in arrays:
        if not name or "/" in name:
            raise ValueError(f"tensor name {name!r} is empty or contains '/' (melgrad "
                             "keeps tensors at the file's root)")
    converted = [(name, as_melgrad_array(name, a)) for name, a in arrays.items()]
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with h5py.File(tmp, "w", libver=("earliest", "v110")) as f:
            for name, arr in converted:
                f.create_dataset(name, data=arr)
            for key, value in (attributes or {}).items():
                raw = str(value).encode("utf-8")
                # Fixed-length string, at least one byte (an empty value is one NUL, as
                # melgrad writes it).
                f.attrs.create(key, np.array(raw, dtype=f"S{max(1, len(raw))}"))
            f.flush()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def state_to_arrays(state, strip_prefix: str = "") -> "OrderedDict[str, np.ndarray]":
    """A module (anything with .state_dict()) or a state_dict -> name -> numpy array."""
    if hasattr(state, "state_dict") and callable(state.state_dict):
        state = state.state_dict()
    if not isinstance(state, Mapping):
        raise TypeError(f"expected a module or a state_dict, got {type(state).__name__}")
    out = OrderedDict()
    for name, value in state.items():
        if not (hasattr(value, "detach") or isinstance(value, np.ndarray)):
            raise TypeError(f"{name}: not a tensor ({type(value).__name__}); pass --key to pick "
                            "the state_dict inside a checkpoint")
        if strip_prefix and name.startswith(strip_prefix):
            name = name[len(strip_prefix):]
        if name in out:
            raise ValueError(f"{name}: appears twice after stripping {strip_prefix!r}")
        out[name] = as_melgrad_array(name, value)
    return out


def export_module(module_or_state, path: str, attributes: Optional[Mapping[str, str]] = None,
                  strip_prefix: str = "") -> None:
    """Python API: export_module(model, "weights.h5") from a running PyTorch session."""
    write_melgrad_h5(path, state_to_arrays(module_or_state, strip_prefix), attributes)


def load_torch_file(path: str, key: Optional[str], full_pickle: bool):
    import torch  # only here: the writer itself does not need torch

    obj = torch.load(path, map_location="cpu", weights_only=not full_pickle)
    if key is not None:
        if not isinstance(obj, Mapping) or key not in obj:
            has = list(obj)[:10] if isinstance(obj, Mapping) else type(obj).__name__
            raise KeyError(f"{path}: no entry {key!r} (has: {has})")
        obj = obj[key]
    return obj, torch.__version__


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="a .pt/.pth file: a state_dict, a checkpoint dict (with --key) "
                                  "or a pickled nn.Module (with --full-pickle)")
    ap.add_argument("output", help="the .h5 file to write (replaced atomically)")
    ap.add_argument("--key", help="take the state_dict from this entry of a checkpoint dict, "
                                  "e.g. state_dict or model_state_dict")
    ap.add_argument("--strip-prefix", default="", help="remove this prefix from every name "
                                                       "(e.g. 'module.' from DataParallel)")
    ap.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE",
                    help="string attribute to store on the file (repeatable)")
    ap.add_argument("--full-pickle", action="store_true",
                    help="allow arbitrary pickles (needed for whole nn.Module files; only for "
                         "files you trust)")
    ap.add_argument("--from-notebook", choices=("cnn", "lstm", "multitask"),
                    help="the input is a state_dict of the study notebook's CNNBackbone, "
                         "LSTMBackbone or multitask CNNBackbone: map its names to melgrad's")
    ap.add_argument("--frames", type=int, default=0, help="notebook CNN: input frames T")
    ap.add_argument("--bands", type=int, default=0, help="notebook CNN: input bands F")
    ap.add_argument("--pool", type=int, default=0, help="notebook CNN: max-pool size")
    ap.add_argument("--orientation", default="time-major",
                    choices=("time-major", "frequency-major"),
                    help="notebook CNN: the melgrad image to convert for ([B,1,T,F], melgrad's "
                         "default, or [B,1,F,T] as the notebook and --recipe seed)")
    ap.add_argument("--dropout", type=float, default=0.2,
                    help="notebook import: the dropout written to the model_config")
    ap.add_argument("--model-config-out", help="notebook import: write the melgrad model_config "
                                               "that loads the weights to this JSON file")
    args = ap.parse_args(argv)
    obj, torch_version = load_torch_file(args.input, args.key, args.full_pickle)
    arrays = state_to_arrays(obj, args.strip_prefix)
    attributes = {"source": "pytorch", "torch_version": torch_version,
                  "exported_from": os.path.basename(args.input)}
    if args.from_notebook:
        from notebook_import import convert_notebook_state
        arrays, model_config = convert_notebook_state(
            args.from_notebook, arrays, args.frames, args.bands, args.pool, args.orientation,
            args.dropout)
        attributes["source"] = f"study notebook {args.from_notebook} ({args.orientation})"
        if args.model_config_out:
            with open(args.model_config_out, "w") as f:
                json.dump(model_config, f, indent=2)
                f.write("\n")
    for kv in args.attr:
        if "=" not in kv:
            ap.error(f"--attr {kv!r}: expected KEY=VALUE")
        k, v = kv.split("=", 1)
        attributes[k] = v
    write_melgrad_h5(args.output, arrays, attributes)
    for name, arr in arrays.items():
        print(f"{name:40s} {arr.dtype.str} {list(arr.shape)}")
    print(f"{len(arrays)} tensors -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
