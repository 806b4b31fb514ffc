#!/usr/bin/env python3
"""Smoke test of the kernel benchmark program built for the emulator (bench_kernels_emu):
runs every benchmark once (--benchmark_min_time=0) and checks that
  - the program exits 0 and reports every benchmark it lists;
  - a benchmark is skipped only for a GPU-only reason (study-sized shapes, cuBLAS, tensor
    cores), and every benchmark function has at least one case that runs in the emulator
    (except the GPU-only ones below);
  - the case names the PyTorch peer (bench/peers/torch_layers_cuda.py, through
    study_shapes.py) and the report use exist in the program with melgrad's and cuDNN's
    implementation names, so the report can pair them.
Usage: bench_kernels_smoke.py BUILD/kernels/bench_kernels_emu   (stdlib only)
"""

import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
import study_shapes  # noqa: E402
import torch_layers_cuda  # noqa: E402  (imports torch only in main())

GPU_ONLY_SKIPS = ("study-sized layer benchmarks run only on a GPU", "GPU only: the study's BiLSTM shapes",
                  "cuBLAS is not in this build", "tensor cores are not emulated")
GPU_ONLY_FUNCTIONS = {"BM_gemm_cublas", "BM_gemm_melgrad_tf32", "BM_bilstm_study"}


def fail(msg):
    print(f"bench_kernels_smoke: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def base(name):
    return re.sub(r"/real_time$", "", name)


def main():
    if len(sys.argv) != 2:
        fail("usage: bench_kernels_smoke.py PATH/TO/bench_kernels_emu")
    bench = sys.argv[1]
    listed = subprocess.run([bench, "--benchmark_list_tests"], check=True, capture_output=True,
                            text=True).stdout.split("\n")
    names = {base(n) for n in listed if n}

    # The peer's and the report's names exist on melgrad's side.
    missing = []
    for peer_name in (n for n, _ in torch_layers_cuda.all_cases()):
        if peer_name.startswith("BM_gemm_"):
            continue  # the GPU shapes are not registered in the emulator build; checked below
        if "/algo:torch/" in peer_name:
            wanted = [peer_name.replace("algo:torch", f"algo:{a}") for a in "012"]
        else:
            wanted = [peer_name[: -len("torch")] + impl for impl in ("melgrad", "cudnn")]
        missing += [w for w in wanted if w not in names]
    if missing:
        fail(f"{len(missing)} case names of study_shapes.py are not in {bench}, e.g. {missing[:3]}")
    if study_shapes.gemm_case("melgrad", 32, 400, 100, 1) not in names:
        fail("BM_gemm_melgrad/32/400/100/1 (a GPU shape the emulator build also runs) is not listed")

    run = subprocess.run([bench, "--benchmark_min_time=0", "--benchmark_format=json"], capture_output=True,
                         text=True)
    if run.returncode != 0:
        fail(f"{bench} exited {run.returncode}:\n{run.stderr[-2000:]}")
    results = json.loads(run.stdout)["benchmarks"]
    reported = {base(b["name"]) for b in results}
    if names - reported:
        fail(f"listed but not reported: {sorted(names - reported)[:3]}")
    ran_by_function = {}
    for b in results:
        function = b["name"].split("/")[0]
        ran = not b.get("error_occurred")
        if not ran and not b.get("error_message", "").startswith(GPU_ONLY_SKIPS):
            fail(f"{b['name']}: skipped with {b.get('error_message')!r} in the emulator build")
        if ran and (b.get("iterations", 0) < 1 or b.get("real_time", 0) <= 0):
            fail(f"{b['name']}: no timed iteration")
        ran_by_function[function] = ran_by_function.get(function, False) or ran
    idle = sorted(f for f, ran in ran_by_function.items() if not ran and f not in GPU_ONLY_FUNCTIONS)
    if idle:
        fail(f"benchmarks with no case that runs in the emulator: {idle}")
    ran = sum(1 for b in results if not b.get("error_occurred"))
    print(f"bench_kernels_smoke: {ran} of {len(results)} cases ran once in the emulator build; "
          f"{len(ran_by_function)} benchmark functions; peer names match")


if __name__ == "__main__":
    main()
