#!/usr/bin/env python3
"""Unit tests of bench/peers/gpu_report.py and study_shapes.py (stdlib only): the report's
arithmetic on small synthetic benchmark JSON files (times, % of cuDNN / cuBLAS, speed-ups,
goals, FLOP and byte counts, peaks by device name) and the lengths melgrad's BiLSTM
benchmark draws. Run: python3 tests/scripts/test_gpu_report.py
"""

import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
import gpu_report  # noqa: E402
import study_shapes  # noqa: E402

CONV = "conv_forward_bias_relu/c4-p2/T40/L2 4->16 64x20"
POOL = "max_pool_forward/c4-p2/T40/L2 4->16 64x20 pool 2"
NORM = "batch_norm_train_backward/c4-p2/T40/L2 4->16 64x20"
LSTM_FWD, LSTM_BWD = "BM_bilstm_study/T:40/algo:{}/bwd:0", "BM_bilstm_study/T:40/algo:{}/bwd:1"
GEMM = "BM_gemm_{}/4096/4096/4096/0"


def gbench(name, real_time, unit="us", **extra):
    """One Google Benchmark JSON entry, as bench_kernels_cuda writes it (UseRealTime names)."""
    entry = {"name": name + "/real_time", "run_name": name + "/real_time", "run_type": "iteration",
             "iterations": 10, "real_time": real_time, "cpu_time": real_time, "time_unit": unit}
    entry.update(extra)
    return entry


def kernels_doc():
    return {"context": {"library_build_type": "release"}, "benchmarks": [
        gbench(CONV + "/melgrad", 2000.0),  # 2 ms, in microseconds
        gbench(CONV + "/cudnn", 1.0, unit="ms"),
        gbench(POOL + "/melgrad", 0.5, unit="ms"),
        gbench(POOL + "/cudnn", 0.25, unit="ms"),
        gbench(NORM + "/melgrad", 1.0, unit="ms"),
        # repeated runs of one case are averaged: (4 + 6) / 2 = 5 ms
        gbench(LSTM_FWD.format(0), 4.0, unit="ms"), gbench(LSTM_FWD.format(0), 6.0, unit="ms"),
        gbench(LSTM_BWD.format(0), 10.0, unit="ms"),
        gbench(LSTM_BWD.format(1), 20.0, unit="ms"),
        # skipped and aggregate entries are ignored
        gbench(LSTM_BWD.format(2), 1e9, unit="ms", error_occurred=True, error_message="no cuDNN"),
        dict(gbench(LSTM_BWD.format(1), 1e9, unit="ms"), run_type="aggregate", aggregate_name="mean"),
        gbench(GEMM.format("melgrad"), 20e6, unit="ns"),
        gbench(GEMM.format("cublas"), 15.0, unit="ms"),
    ]}


def peer_doc():
    return {"tool": "torch_layers_cuda", "device_name": "NVIDIA H100 PCIe", "backend": "cudnn", "benchmarks": [
        {"name": CONV + "/torch", "ms": 1.5, "wall_ms": 1.6, "min_ms": 1.4, "iterations": 10},
        {"name": LSTM_FWD.format("torch"), "ms": 10.0},
        {"name": LSTM_BWD.format("torch"), "ms": 35.0},
        {"name": GEMM.format("torch"), "ms": 16.0},
    ]}


def step_doc():
    return {"gpu": "NVIDIA H100 80GB HBM3", "torch": "2.15.0", "cudnn": 91900, "summary": [
        {"model": "cnn-beat", "melgrad_ms": 10.0, "melgrad-eager_ms": 12.0, "torch-native_ms": 25.0,
         "torch-cudnn_ms": 30.0},
        {"model": "lstm-beat", "melgrad_ms": 10.0, "melgrad-eager_ms": 11.0, "torch-native_ms": 50.0,
         "torch-cudnn_ms": 15.0},
        {"model": "cnn-full", "melgrad_ms": float("nan"), "melgrad-eager_ms": 1.0, "torch-native_ms": 5.0,
         "torch-cudnn_ms": 5.0},
    ]}


def row(text, first_cell):
    """The cells of the Markdown table row whose first cell is first_cell."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{text}")


def rows_with(text, first_cell, second_cell):
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 1 and cells[0] == first_cell and cells[1] == second_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} / {second_cell!r} in:\n{text}")


class Arithmetic(unittest.TestCase):
    def test_case_times_units_averages_and_skips(self):
        t = gpu_report.case_times(kernels_doc())
        self.assertAlmostEqual(t[CONV + "/melgrad"], 2.0)
        self.assertAlmostEqual(t[CONV + "/cudnn"], 1.0)
        self.assertAlmostEqual(t[GEMM.format("melgrad")], 20.0)
        self.assertAlmostEqual(t[LSTM_FWD.format(0)], 5.0)
        self.assertAlmostEqual(t[LSTM_BWD.format(1)], 20.0)
        self.assertNotIn(LSTM_BWD.format(2), t)
        self.assertAlmostEqual(gpu_report.case_times(peer_doc())[LSTM_BWD.format("torch")], 35.0)

    def test_work_counts(self):
        layer = next(l for l in study_shapes.study_layers() if l.name == "c4-p2/T40/L2 4->16 64x20")
        self.assertEqual((layer.N, layer.C, layer.H, layer.W, layer.O, layer.pool), (32, 4, 64, 20, 16, 2))
        flops, nbytes = gpu_report.conv_work(layer)
        self.assertEqual(flops, 2 * 32 * 16 * 64 * 20 * 4 * 9)  # 47 185 920
        self.assertEqual(nbytes, 4 * (32 * 4 * 64 * 20 + 16 * 4 * 9 + 32 * 16 * 64 * 20))
        # pool 2 over [32, 16, 64, 20]: x 655 360 floats, y 163 840 floats + int64 indices
        self.assertEqual(gpu_report.pool_bytes(layer), 4 * (655360 + 163840) + 8 * 163840)
        self.assertEqual(gpu_report.norm_bytes("batch_norm_train_backward", layer), 5 * 4 * 655360)
        self.assertEqual(gpu_report.gemm_work(4096, 4096, 4096), (2 * 4096 ** 3, 4 * 3 * 4096 ** 2))
        # 1000 real steps: layer 1 2 x (2*1000*128*400 + 2*1000*100*400) = 364.8 M,
        # layer 2 2 x (2*1000*200*400 + 2*1000*100*400) = 480 M; backward adds twice that.
        self.assertEqual(gpu_report.lstm_flops(1000, False), 844_800_000)
        self.assertEqual(gpu_report.lstm_flops(1000, True), 3 * 844_800_000)

    def test_device_peaks(self):
        self.assertEqual(gpu_report.device_peaks("NVIDIA H100 80GB HBM3")[0], "H100 SXM")
        self.assertEqual(gpu_report.device_peaks("NVIDIA H100 PCIe")[0], "H100 PCIe")
        self.assertEqual(gpu_report.device_peaks("NVIDIA H100 NVL")[0], "H100 NVL")
        self.assertEqual(gpu_report.device_peaks("NVIDIA H200")[0], "H200 SXM")
        self.assertEqual(gpu_report.device_peaks("NVIDIA A100-SXM4-80GB")[3], 2039.0)
        self.assertIsNone(gpu_report.device_peaks("NVIDIA GeForce RTX 4090"))
        self.assertIsNone(gpu_report.resolve_peaks("NVIDIA GeForce RTX 4090"))
        label, fp32, tf32, gbs = gpu_report.resolve_peaks("NVIDIA GeForce RTX 4090", fp32=82.6, gbs=1008)
        self.assertEqual((fp32, tf32, gbs), (82.6, None, 1008))
        self.assertIn("override", label)
        self.assertEqual(gpu_report.resolve_peaks("NVIDIA H100 PCIe", gbs=1000)[1:], (51.2, 378.0, 1000))

    def test_study_lengths_are_std_mt19937_64(self):
        rng = study_shapes.MT19937_64(5489)  # the C++ standard's check: the 10000th value
        for _ in range(9999):
            rng()
        self.assertEqual(rng(), 9981545732273789042)
        lengths = study_shapes.study_lengths(40)
        self.assertEqual(len(lengths), 32)
        self.assertEqual(lengths[:6], [40, 40, 37, 39, 39, 37])  # std::mt19937_64(7), bench_lstm.cpp
        self.assertEqual(sum(study_shapes.study_lengths(1293)), 39447)
        self.assertTrue(all(1293 - 129 <= n <= 1293 for n in study_shapes.study_lengths(1293)))


class Report(unittest.TestCase):
    def render(self, *args):
        with tempfile.TemporaryDirectory() as d:
            for name, doc in (("bench-step-gpu.json", step_doc()), ("bench-kernels-gpu.json", kernels_doc()),
                              ("bench-layers-torch-gpu.json", peer_doc())):
                with open(os.path.join(d, name), "w") as f:
                    json.dump(doc, f)
            out = os.path.join(d, "report.md")
            buf = io.StringIO()
            with redirect_stdout(buf):
                self.assertEqual(gpu_report.main(["--build", d, "--out", out, *args]), 0)
            with open(out) as f:
                written = f.read()
        self.assertEqual(written.strip(), buf.getvalue().strip())
        return written

    def test_training_step(self):
        text = self.render()
        self.assertIn("# GPU benchmarks: NVIDIA H100 80GB HBM3", text)
        # speed-up over the faster PyTorch configuration: 25 / 10
        self.assertEqual(row(text, "cnn-beat")[1:], ["10.00", "12.00", "25.00", "30.00", "2.50x", "met"])
        self.assertEqual(row(text, "lstm-beat")[-2:], ["1.50x", "missed"])
        self.assertEqual(row(text, "cnn-full")[1], "—")  # NaN: not measured
        self.assertEqual(row(text, "cnn-full")[-1], "—")

    def test_layers_percent_of_cudnn(self):
        text = self.render()
        conv = rows_with(text, "c4-p2/T40/L2 4->16 64x20", "conv_forward_bias_relu")
        # 2 ms melgrad, 1 ms cuDNN -> 50 %; 47 185 920 FLOP in 2 ms = 0.02 TFLOP/s
        self.assertEqual(conv[2:], ["2.00", "1.00", "1.50", "50 %", "0.02"])
        total = rows_with(text, "**all layers (sum of times)**", "conv_forward_bias_relu")
        self.assertEqual(total[4:6], ["—", "50 %"])
        pool = rows_with(text, "c4-p2/T40/L2 4->16 64x20 pool 2", "max_pool_forward")
        self.assertEqual(pool[2:], ["0.500", "0.250", "—", "50 %"])
        norm = rows_with(text, "c4-p2/T40/L2 4->16 64x20", "batch_norm_train_backward")
        self.assertEqual(norm[2:], ["1.00", "—", "—", "—"])

    def test_bilstm_against_pytorch(self):
        text = self.render()
        fwd = rows_with(text, "T 40", "forward")
        self.assertEqual(fwd[2:], ["5.00", "—", "—", "10.00", "2.00x", "missed"])
        bwd = rows_with(text, "T 40", "forward + backward")
        self.assertEqual(bwd[2:], ["10.00", "20.00", "—", "35.00", "3.50x", "met"])
        self.assertNotIn("T 1293", text)

    def test_sgemm_percent_of_cublas(self):
        text = self.render()
        # 15 / 20 = 75 %; 2 * 4096^3 FLOP in 20 ms = 6.87 TFLOP/s
        self.assertEqual(row(text, "4096x4096x4096")[1:], ["20.00", "15.00", "16.00", "75 %", "6.87", "—"])

    def test_peaks_from_the_device_table_and_overrides(self):
        text = self.render()
        self.assertIn("H100 SXM (datasheet): FP32 66.9 TFLOP/s", text)
        gemm = row(text, "BM_gemm_melgrad/4096/4096/4096/0")
        # 6.87 TFLOP/s of 66.9; 201 326 592 bytes in 20 ms = 10 GB/s of 3350
        self.assertEqual(gemm[1:], ["20.00", "6.87", "10.3 %", "10", "0.3 %"])
        lstm = row(text, "BM_bilstm_study/T:40/algo:0/bwd:1")
        flops = 3 * gpu_report.lstm_flops(1221, False)  # 1221: the lengths' sum at T = 40
        self.assertEqual(lstm[2], f"{flops / 1e10:.2f}")
        self.assertEqual(lstm[4:], ["—", "—"])
        text = self.render("--peak-tflops", "10", "--peak-gbs", "100", "--device-name", "Some GPU")
        self.assertIn("# GPU benchmarks: Some GPU", text)
        self.assertEqual(row(text, "BM_gemm_melgrad/4096/4096/4096/0")[3:], ["68.7 %", "10", "10.1 %"])
        text = self.render("--device-name", "Some GPU")
        self.assertIn("Peak unknown for 'Some GPU'", text)

    def test_no_input_is_an_error(self):
        with tempfile.TemporaryDirectory() as d, redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
            self.assertEqual(gpu_report.main(["--build", d]), 1)


if __name__ == "__main__":
    unittest.main()
