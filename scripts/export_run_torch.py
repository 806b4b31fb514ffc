#!/usr/bin/env python3
"""Exports a melgrad run's best.h5 as a PyTorch state_dict (and optionally as ONNX).

    python3 scripts/export_run_torch.py RUN --out model.pt [--onnx model.onnx] [--force]

RUN is a finished run folder (config.json + best.h5). The network is rebuilt in PyTorch from
config.json's "model_config" (experiments/model_config.h) with melgrad's module names, which
are PyTorch's (models/cnn.h, models/lstm.h), so every tensor of best.h5 maps 1:1 onto the
state_dict; shapes and layouts are PyTorch's too (Conv2d [out, in, kh, kw], Linear [out, in],
LSTM gate blocks i, f, g, o). The load is strict: a name or shape that differs is an error.

The PyTorch networks (build_torch_network) compute what melgrad's do:
  cnn            x [N, T, F] -> image [N, 1, T, F] ([N, 1, F, T] when "frequency_major")
                 features: per block Conv2d(k, pad), [BatchNorm2d], ReLU, MaxPool2d(pool)
                 (Conv2d, ReLU, BatchNorm2d, MaxPool2d when "relu_before_batch_norm")
                 classifier: Flatten, (Linear, ReLU, Dropout) per hidden size, Linear
  multitask_cnn  the same features, heads.<target> shaped like classifier with 1 output
                 each, outputs concatenated in the targets' order -> [N, targets]
  lstm           packed BiLSTM (batch_first), readout = forward state at t = length-1 ++
                 backward state at t = 0, [Dropout], fc Linear -> [N, outputs]
BatchNorm with "track_running_stats": false uses batch statistics in eval mode as well (as
in the study and in melgrad), so a prediction depends on the other clips of its batch; the
ONNX graph spells that BatchNorm out (mean and biased variance over N, H, W), since ONNX's
BatchNormalization in inference mode takes stored statistics.

ONNX (--onnx): opset 17, the network in eval mode, a dynamic batch axis.
  CNN / multitask: one input "x" float32 [N, T, F] (T = the run's frames), output "y".
  LSTM: two inputs, "x" float32 [N, T, F] zero-padded (T dynamic) and "lengths" int64 [N]
        (each clip's true number of frames, 1 <= length <= T, any order), output "y".
        ONNX has no packed sequences, so the exported graph runs each direction of each
        layer as a one-directional LSTM over the padded batch and reverses every sequence
        within its own length for the backward direction (steps past a clip's length never
        reach its readout); the result equals the packed network's.

Needs numpy, h5py and torch (onnx export: the onnx package; checking it: onnxruntime).
tests/fixtures/interop/make_interop_fixtures.py checks both exports against melgrad.
"""

import argparse
import json
import os
import sys
from collections import OrderedDict

import h5py
import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def read_melgrad_h5(path):
    """name -> numpy array of a melgrad tensor file (engine/io/tensor_file.h)."""
    arrays = OrderedDict()
    with h5py.File(path, "r") as f:
        for name, item in f.items():
            if not isinstance(item, h5py.Dataset):
                raise ValueError(f"{path}: '{name}' is a group; melgrad keeps tensors at the root")
            arrays[name] = np.array(item[()])
    return arrays


def _field(mc, key):
    if key not in mc:
        raise KeyError(f"model_config has no field '{key}'")
    return mc[key]


class MelgradCnnTrunk(nn.Sequential):
    """features.*: conv blocks as models/cnn.cpp's make_cnn_trunk names them."""

    def __init__(self, mc):
        layers = []
        channels = _field(mc, "channels")
        bn, relu_first = _field(mc, "batch_norm"), mc.get("relu_before_batch_norm", False)
        for c_in, c_out in zip(channels[:-1], channels[1:]):
            layers.append(
                nn.Conv2d(c_in, c_out, _field(mc, "kernel"), padding=_field(mc, "padding"))
            )
            norm = nn.BatchNorm2d(
                c_out, eps=1e-5, momentum=0.1, track_running_stats=_field(mc, "track_running_stats")
            )
            if bn and not relu_first:
                layers.append(norm)
            layers.append(nn.ReLU())
            if bn and relu_first:
                layers.append(norm)
            layers.append(nn.MaxPool2d(_field(mc, "pool")))
        super().__init__(*layers)


def trunk_output_size(mc):
    """C * T' * F' after the conv blocks (models/cnn.cpp's cnn_trunk_output)."""
    h, w = _field(mc, "frames"), _field(mc, "bands")
    k, p, pool = _field(mc, "kernel"), _field(mc, "padding"), _field(mc, "pool")
    for _ in _field(mc, "channels")[1:]:
        h, w = (h + 2 * p - k + 1) // pool, (w + 2 * p - k + 1) // pool
        if h < 1 or w < 1:
            raise ValueError(f"model_config: the image shrinks below one pixel ({h} x {w})")
    return _field(mc, "channels")[-1] * h * w


def fc_head(in_features, hidden, outputs, dropout):
    layers, n = [], in_features
    for h in hidden:
        layers += [nn.Linear(n, h), nn.ReLU(), nn.Dropout(dropout)]
        n = h
    layers.append(nn.Linear(n, outputs))
    return nn.Sequential(*layers)


class MelgradCnn(nn.Module):
    """models::CnnNet (multitask: models::MultitaskCnn) in PyTorch."""

    def __init__(self, mc):
        super().__init__()
        self.frequency_major = mc.get("frequency_major", False)
        self.features = MelgradCnnTrunk(mc)
        flat = trunk_output_size(mc)
        hidden, dropout = _field(mc, "hidden"), _field(mc, "dropout")
        self.multitask = _field(mc, "type") == "multitask_cnn"
        if self.multitask:
            self.targets = list(_field(mc, "targets"))
            self.heads = nn.ModuleDict({t: fc_head(flat, hidden, 1, dropout) for t in self.targets})
        else:
            self.classifier = fc_head(flat, hidden, _field(mc, "outputs"), dropout)

    def forward(self, x):  # x [N, T, F]
        image = x.transpose(1, 2).unsqueeze(1) if self.frequency_major else x.unsqueeze(1)
        flat = torch.flatten(self.features(image), 1)
        if self.multitask:
            return torch.cat([self.heads[t](flat) for t in self.targets], dim=1)
        return self.classifier(flat)


def lstm_readout(out, lengths, hidden, bidirectional):
    """Forward state at t = length-1 ++ backward state at t = 0 (melgrad's lstm_readout)."""
    index = (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden)
    last_forward = out[:, :, :hidden].gather(1, index).squeeze(1)
    if not bidirectional:
        return last_forward
    return torch.cat([last_forward, out[:, 0, hidden:]], dim=1)


class MelgradLstm(nn.Module):
    """models::LstmNet in PyTorch (packed sequences)."""

    def __init__(self, mc):
        super().__init__()
        self.hidden = _field(mc, "hidden")
        self.bidirectional = _field(mc, "bidirectional")
        self.lstm = nn.LSTM(
            _field(mc, "input_size"),
            self.hidden,
            _field(mc, "layers"),
            batch_first=True,
            bidirectional=self.bidirectional,
            dropout=_field(mc, "dropout") if _field(mc, "layers") > 1 else 0.0,
        )
        output_dropout = mc.get("output_dropout", 0)
        self.drop = nn.Dropout(output_dropout) if output_dropout > 0 else None
        self.fc = nn.Linear((2 if self.bidirectional else 1) * self.hidden, _field(mc, "outputs"))

    def forward(self, x, lengths):  # x [N, T, F], lengths int64 [N]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        readout = lstm_readout(out, lengths, self.hidden, self.bidirectional)
        if self.drop is not None:
            readout = self.drop(readout)
        return self.fc(readout)


def reverse_within_lengths(x, lengths):
    """x [N, T, H]: each row's first `length` steps reversed, the padded steps left in place."""
    steps = torch.arange(x.shape[1], device=x.device).view(1, -1)
    last = (lengths - 1).view(-1, 1)
    index = torch.where(steps <= last, last - steps, steps)
    return x.gather(1, index.unsqueeze(2).expand(-1, -1, x.shape[2]))


class MelgradLstmForOnnx(nn.Module):
    """MelgradLstm without packed sequences (ONNX has none): one one-directional LSTM per
    layer and direction, the backward one over each sequence reversed within its length."""

    def __init__(self, net):
        super().__init__()
        lstm = net.lstm
        self.hidden, self.bidirectional, self.fc = net.hidden, net.bidirectional, net.fc
        self.layers = nn.ModuleList()
        for layer in range(lstm.num_layers):
            directions = nn.ModuleList()
            for suffix in [""] + (["_reverse"] if self.bidirectional else []):
                w_ih = getattr(lstm, f"weight_ih_l{layer}{suffix}")
                one = nn.LSTM(w_ih.shape[1], self.hidden, 1, batch_first=True)
                for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(one, f"{kind}_l0").data.copy_(
                        getattr(lstm, f"{kind}_l{layer}{suffix}").data
                    )
                directions.append(one)
            self.layers.append(directions)

    def forward(self, x, lengths):
        out = x
        for directions in self.layers:
            forward, _ = directions[0](out)
            if not self.bidirectional:
                out = forward
                continue
            backward, _ = directions[1](reverse_within_lengths(out, lengths))
            out = torch.cat([forward, reverse_within_lengths(backward, lengths)], dim=2)
        return self.fc(lstm_readout(out, lengths, self.hidden, self.bidirectional))


class BatchStatNorm2d(nn.Module):
    """BatchNorm2d on batch statistics, spelt out for ONNX: the exporter only knows eval-mode
    BatchNorm with running statistics. Mean and biased variance over (N, H, W)."""

    def __init__(self, norm):
        super().__init__()
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps

    def forward(self, x):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = ((x - mean) ** 2).mean(dim=(0, 2, 3), keepdim=True)
        scale = self.weight.view(1, -1, 1, 1) / torch.sqrt(var + self.eps)
        return (x - mean) * scale + self.bias.view(1, -1, 1, 1)


def onnx_ready_cnn(net):
    """A copy of a MelgradCnn whose batch-statistics BatchNorm layers are BatchStatNorm2d."""
    copy = MelgradCnn.__new__(MelgradCnn)
    copy.__dict__ = dict(net.__dict__)
    copy._modules = OrderedDict(net._modules)
    layers = [
        BatchStatNorm2d(m) if isinstance(m, nn.BatchNorm2d) and not m.track_running_stats else m
        for m in net.features
    ]
    copy._modules["features"] = nn.Sequential(*layers)
    return copy.eval()


def build_torch_network(mc):
    kind = _field(mc, "type")
    if kind in ("cnn", "multitask_cnn"):
        return MelgradCnn(mc)
    if kind == "lstm":
        return MelgradLstm(mc)
    raise ValueError(f"model_config: unknown network type '{kind}' (cnn, multitask_cnn or lstm)")


def load_state_strict(net, arrays, source):
    """Copies melgrad's tensors into net's state_dict; names and shapes must match exactly."""
    state = net.state_dict()
    missing = [k for k in state if k not in arrays]
    unexpected = [k for k in arrays if k not in state]
    if missing or unexpected:
        raise ValueError(
            f"{source}: names differ from the PyTorch network's: missing {missing}, "
            f"unexpected {unexpected}"
        )
    new_state = OrderedDict()
    for name, want in state.items():
        value = arrays[name]
        if tuple(value.shape) != tuple(want.shape):
            raise ValueError(
                f"{source}: '{name}' has shape {list(value.shape)}, the PyTorch "
                f"network expects {list(want.shape)}"
            )
        new_state[name] = torch.from_numpy(np.ascontiguousarray(value)).to(want.dtype)
    net.load_state_dict(new_state, strict=True)
    return net


def load_run(run_dir):
    """(model_config, PyTorch network in eval mode with the run's best.h5) of a run folder."""
    config_path = os.path.join(run_dir, "config.json")
    with open(config_path) as f:
        config = json.load(f)
    if "model_config" not in config:
        raise KeyError(f"{config_path}: no 'model_config'")
    mc = config["model_config"]
    weights = os.path.join(run_dir, "best.h5")
    net = load_state_strict(build_torch_network(mc), read_melgrad_h5(weights), weights)
    return mc, net.eval()


def example_inputs(mc, batch=2):
    """Inputs shaped for the network: (x,) for a CNN, (x, lengths) for the LSTM."""
    if _field(mc, "type") == "lstm":
        frames = 5
        x = torch.zeros(batch, frames, _field(mc, "input_size"))
        return x, torch.full((batch,), frames, dtype=torch.int64)
    return (torch.zeros(batch, _field(mc, "frames"), _field(mc, "bands")),)


def export_onnx(net, mc, path):
    """Writes the network (eval mode) as ONNX at `path` (see the module's docstring)."""
    is_lstm = _field(mc, "type") == "lstm"
    graph = MelgradLstmForOnnx(net).eval() if is_lstm else onnx_ready_cnn(net)
    inputs = example_inputs(mc)
    names = ["x", "lengths"] if is_lstm else ["x"]
    axes = (
        {"x": {0: "batch", 1: "frames"}, "lengths": {0: "batch"}, "y": {0: "batch"}}
        if is_lstm
        else {"x": {0: "batch"}, "y": {0: "batch"}}
    )
    tmp = f"{path}.tmp-{os.getpid()}"
    kwargs = dict(input_names=names, output_names=["y"], dynamic_axes=axes, opset_version=17)
    try:
        try:
            torch.onnx.export(graph, inputs, tmp, dynamo=False, **kwargs)
        except TypeError:  # torch before 2.5 has no `dynamo` argument
            torch.onnx.export(graph, inputs, tmp, **kwargs)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save_state_dict(net, path):
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        torch.save(net.state_dict(), tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", help="a finished run folder (config.json + best.h5)")
    ap.add_argument("--out", required=True, help="the state_dict file to write (.pt)")
    ap.add_argument("--onnx", help="also write the network as ONNX to this file")
    ap.add_argument("--force", action="store_true", help="replace existing output files")
    args = ap.parse_args(argv)
    for path in filter(None, [args.out, args.onnx]):
        if os.path.exists(path) and not args.force:
            ap.error(f"{path} exists; --force replaces it")
    mc, net = load_run(args.run)
    save_state_dict(net, args.out)
    print(f"{len(net.state_dict())} tensors ({mc.get('summary', mc['type'])}) -> {args.out}")
    if args.onnx:
        export_onnx(net, mc, args.onnx)
        print(f"ONNX -> {args.onnx}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
