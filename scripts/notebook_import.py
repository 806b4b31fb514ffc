"""The study notebook's module names -> melgrad's, with the CNN's orientation change.

The study's notebook (lab3.ipynb of PKininis/Multitask-Music-Emotion) saves state_dicts
(torch.save(model.state_dict(), ...)) of three module layouts:

  CNNBackbone (genre / regression CNN)
      fitter = Sequential(per block: Conv2d(k 3, pad 1), ReLU, [BatchNorm2d], MaxPool2d;
                          Flatten; per hidden size: Linear, ReLU, Dropout; Linear)
      forward: x [B, T, F] -> x.transpose(1, 2).unsqueeze(1): an image [B, 1, F, T]
  CNNBackbone of the multitask cell
      fitter = the conv blocks and Flatten only; valence_fcNo1..3, energy_fcNo1..3,
      dance_fcNo1..3: Linear layers (ReLU and dropout between them in forward())
  LSTMBackbone
      lstm = nn.LSTM(batch_first, bidirectional, dropout), drop = Dropout on the LSTM's
      outputs, linear = Linear(2 * hidden -> outputs); readout as melgrad's (forward state at
      length-1 ++ backward state at step 0)

The name map (notebook -> melgrad):
  fitter.<k>.*            (k before Flatten) -> features.<k>.*   (same block order and indices)
  fitter.<k>.*            (k after Flatten)  -> classifier.<k - flatten - 1>.*
  <t>_fcNo<j>.*           (t valence, energy, dance) -> heads.<t'>.<3 (j - 1)>.*
                          (t' = valence, energy, danceability)
  lstm.*                  -> lstm.*          linear.* -> fc.*

The orientation: the notebook's image is [B, 1, F, T]; melgrad's CNN (model_config without
"frequency_major") sees [B, 1, T, F]. With 3x3 kernels, padding 1, stride 1 and square max
pools, every feature map of one is the transpose of the other's when each conv kernel is
transposed (W[o, i, a, b] -> W[o, i, b, a]); BatchNorm's per-channel statistics are the same.
The flatten order differs: the notebook flattens [C, F', T'] (index c F' T' + f T' + t),
melgrad [C, T', F'] (c T' F' + t F' + f), so the first Linear layer's columns are permuted:
W_melgrad = W_nb.reshape(out, C, F', T').transpose(0, 1, 3, 2).reshape(out, -1). With
orientation "frequency-major" (a melgrad network with "frequency_major": true, as
`--recipe seed` builds them) nothing is permuted.

The notebook's BatchNorm comes after the ReLU; melgrad builds that order only for a
model_config with "relu_before_batch_norm": true (the `--recipe seed` networks), which the
model_config written here then says. The notebook trains in float64 (model.double()):
tensors are stored as float32, melgrad's dtype.

Pure numpy: the mapping needs no torch (export_torch_state.py reads the .pt file).
"""

import re
from collections import OrderedDict

import numpy as np

HEAD_NAMES = OrderedDict([("valence", "valence"), ("energy", "energy"), ("dance", "danceability")])
KINDS = ("cnn", "lstm", "multitask")
ORIENTATIONS = ("time-major", "frequency-major")


def _indexed(state, prefix):
    """{index: {param: array}} of keys '<prefix>.<index>.<param>'."""
    out = {}
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(\w+)$")
    for name, value in state.items():
        m = pattern.match(name)
        if m:
            out.setdefault(int(m.group(1)), {})[m.group(2)] = value
    return out


def _pooled(size, blocks, pool):
    for _ in range(blocks):
        size = size // pool  # 3x3 conv with padding 1 keeps the size; floor-mode pooling
        if size < 1:
            raise ValueError(f"the input shrinks below one pixel after {blocks} pools of {pool}")
    return size


def _trunk(state, frames, bands, pool, orientation, out):
    """Maps fitter.<k> conv/BatchNorm tensors to features.<k>; returns the trunk's facts."""
    layers = _indexed(state, "fitter")
    convs = sorted(
        k for k, p in layers.items() if p.get("weight") is not None and p["weight"].ndim == 4
    )
    if not convs:
        raise ValueError("no fitter.<k>.weight of a Conv2d: not a notebook CNNBackbone state_dict")
    norms = sorted(
        k for k, p in layers.items() if p.get("weight") is not None and p["weight"].ndim == 1
    )
    batch_norm = bool(norms)
    stride = 4 if batch_norm else 3  # Conv2d, ReLU, [BatchNorm2d], MaxPool2d
    if convs != [stride * i for i in range(len(convs))]:
        raise ValueError(
            f"conv layers at fitter indices {convs}: expected every {stride}th "
            f"(Conv2d, ReLU, {'BatchNorm2d, ' if batch_norm else ''}MaxPool2d)"
        )
    if batch_norm and norms != [c + 2 for c in convs]:
        raise ValueError(
            f"BatchNorm layers at fitter indices {norms}: expected {[c + 2 for c in convs]} "
            "(the notebook's order Conv2d, ReLU, BatchNorm2d, MaxPool2d)"
        )
    channels = [int(layers[convs[0]]["weight"].shape[1])]
    kernel = int(layers[convs[0]]["weight"].shape[2])
    for c in convs:
        w = layers[c]["weight"]
        if w.shape[2] != 3 or w.shape[3] != 3:
            raise ValueError(
                f"fitter.{c}.weight: kernel {list(w.shape[2:])}; the orientation change "
                "(and melgrad's padding 1) needs 3x3 kernels"
            )
        channels.append(int(w.shape[0]))
        flip = orientation == "time-major"
        out[f"features.{c}.weight"] = np.swapaxes(w, 2, 3) if flip else w
        out[f"features.{c}.bias"] = layers[c]["bias"]
    for k in norms:
        for param, value in layers[k].items():
            out[f"features.{k}.{param}"] = value
    blocks = len(convs)
    trunk_end = blocks * stride  # the Flatten's index
    t_out, f_out = _pooled(frames, blocks, pool), _pooled(bands, blocks, pool)
    return {
        "channels": channels,
        "kernel": kernel,
        "batch_norm": batch_norm,
        "flatten": trunk_end,
        "flat": channels[-1] * t_out * f_out,
        "t_out": t_out,
        "f_out": f_out,
    }


def _first_fc(weight, trunk, orientation, name):
    if weight.shape[1] != trunk["flat"]:
        raise ValueError(
            f"{name}: {weight.shape[1]} inputs, but channels {trunk['channels'][-1]} x "
            f"{trunk['t_out']} x {trunk['f_out']} = {trunk['flat']} for the given "
            "--frames, --bands and --pool"
        )
    if orientation == "frequency-major":
        return weight
    c, f, t = trunk["channels"][-1], trunk["f_out"], trunk["t_out"]
    return (
        weight.reshape(weight.shape[0], c, f, t).transpose(0, 1, 3, 2).reshape(weight.shape[0], -1)
    )


def _cnn_config(trunk, frames, bands, pool, hidden, dropout, orientation):
    mc = {
        "type": "cnn",
        "channels": trunk["channels"],
        "kernel": trunk["kernel"],
        "padding": 1,
        "pool": pool,
        "batch_norm": trunk["batch_norm"],
        "track_running_stats": False,
        "frames": frames,
        "bands": bands,
        "hidden": hidden,
        "dropout": dropout,
    }
    if trunk["batch_norm"]:
        mc["relu_before_batch_norm"] = True
    if orientation == "frequency-major":
        mc["frequency_major"] = True
    return mc


def _linear_chain(layers, first_index, name_of, count):
    """Linear layers every 3 indices (Linear, ReLU, Dropout) from first_index."""
    chain = []
    for j in range(count):
        k = first_index + 3 * j
        if k not in layers or "weight" not in layers[k]:
            raise ValueError(f"{name_of(k)}.weight missing: expected Linear layers every 3 indices")
        chain.append((k, layers[k]))
    return chain


def convert_cnn(state, frames, bands, pool, orientation, dropout):
    out = OrderedDict()
    trunk = _trunk(state, frames, bands, pool, orientation, out)
    layers = _indexed(state, "fitter")
    linear = sorted(k for k in layers if k > trunk["flatten"])
    if not linear:
        raise ValueError(
            "no Linear layer in fitter after its Flatten: a multitask checkpoint "
            "(valence_fcNo1, ...)? use --from-notebook multitask"
        )
    chain = _linear_chain(layers, trunk["flatten"] + 1, lambda k: f"fitter.{k}", len(linear))
    hidden = []
    for j, (k, params) in enumerate(chain):
        w = params["weight"]
        if j == 0:
            w = _first_fc(w, trunk, orientation, f"fitter.{k}.weight")
        out[f"classifier.{3 * j}.weight"] = w
        out[f"classifier.{3 * j}.bias"] = params["bias"]
        if j + 1 < len(chain):
            hidden.append(int(w.shape[0]))
    mc = _cnn_config(trunk, frames, bands, pool, hidden, dropout, orientation)
    mc["outputs"] = int(chain[-1][1]["weight"].shape[0])
    return out, mc


def convert_multitask(state, frames, bands, pool, orientation, dropout):
    out = OrderedDict()
    trunk = _trunk(state, frames, bands, pool, orientation, out)
    hidden = None
    for head, target in HEAD_NAMES.items():
        sizes = []
        for j in (1, 2, 3):
            name = f"{head}_fcNo{j}"
            if f"{name}.weight" not in state:
                raise ValueError(f"{name}.weight missing: not the notebook's multitask CNNBackbone")
            w = state[f"{name}.weight"]
            if j == 1:
                w = _first_fc(w, trunk, orientation, f"{name}.weight")
            out[f"heads.{target}.{3 * (j - 1)}.weight"] = w
            out[f"heads.{target}.{3 * (j - 1)}.bias"] = state[f"{name}.bias"]
            sizes.append(int(w.shape[0]))
        if sizes[-1] != 1:
            raise ValueError(f"{head}_fcNo3 has {sizes[-1]} outputs; melgrad's heads have 1")
        if hidden is not None and hidden != sizes[:-1]:
            raise ValueError(f"the heads' hidden sizes differ ({hidden} vs {sizes[:-1]})")
        hidden = sizes[:-1]
    mc = _cnn_config(trunk, frames, bands, pool, hidden, dropout, orientation)
    mc.update(
        {"type": "multitask_cnn", "outputs": len(HEAD_NAMES), "targets": list(HEAD_NAMES.values())}
    )
    return out, mc


def convert_lstm(state, dropout):
    out = OrderedDict()
    for name, value in state.items():
        if name.startswith("lstm."):
            out[name] = value
        elif name in ("linear.weight", "linear.bias"):
            out["fc." + name.split(".", 1)[1]] = value
    if "lstm.weight_ih_l0" not in out or "fc.weight" not in out:
        raise ValueError(
            "lstm.weight_ih_l0 or linear.weight missing: not the notebook's LSTMBackbone"
        )
    hidden = int(out["lstm.weight_hh_l0"].shape[1])
    layers = 1 + max(
        int(re.match(r"lstm\.\w+_l(\d+)", n).group(1)) for n in out if n.startswith("lstm.")
    )
    bidirectional = "lstm.weight_ih_l0_reverse" in out
    mc = {
        "type": "lstm",
        "input_size": int(out["lstm.weight_ih_l0"].shape[1]),
        "hidden": hidden,
        "layers": layers,
        "bidirectional": bidirectional,
        "dropout": dropout,
        "outputs": int(out["fc.weight"].shape[0]),
        "max_frames": 0,
    }
    return out, mc


def convert_notebook_state(
    kind, state, frames=0, bands=0, pool=0, orientation="time-major", dropout=0.2
):
    """(melgrad name -> float32 array, model_config) of a notebook state_dict of `kind`.

    state: name -> numpy array. frames, bands, pool: the CNN's input T, F and max-pool size
    (not stored in a state_dict; the notebook's runs: beat T = the longest clip, F 128, pool
    2; full clips pool 3). dropout: written to model_config (training only)."""
    if kind not in KINDS:
        raise ValueError(f"kind '{kind}': expected one of {', '.join(KINDS)}")
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation '{orientation}': expected one of {', '.join(ORIENTATIONS)}")
    state = OrderedDict((k, np.asarray(v)) for k, v in state.items())
    if kind == "lstm":
        arrays, mc = convert_lstm(state, dropout)
    else:
        if frames <= 0 or bands <= 0 or pool <= 0:
            raise ValueError(
                "a notebook CNN needs --frames, --bands and --pool (its input T, F and "
                "max-pool size: a state_dict does not store them)"
            )
        convert = convert_cnn if kind == "cnn" else convert_multitask
        arrays, mc = convert(state, frames, bands, pool, orientation, dropout)
    unused = [k for k in state if not _used(k, kind)]
    if unused:
        raise ValueError(f"tensors the {kind} layout does not have: {unused}")
    return (
        OrderedDict(
            (k, np.ascontiguousarray(v, dtype=np.float32) if v.dtype.kind == "f" else v)
            for k, v in arrays.items()
        ),
        mc,
    )


def _used(name, kind):
    if kind == "lstm":
        return name.startswith("lstm.") or name in ("linear.weight", "linear.bias")
    if name.startswith("fitter."):
        return True
    return (
        kind == "multitask"
        and re.match(r"^(valence|energy|dance)_fcNo[123]\.(weight|bias)$", name) is not None
    )
