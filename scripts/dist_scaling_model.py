#!/usr/bin/env python3
"""Paper scaling model of data-parallel training for docs/DISTRIBUTED.md.

8 GPUs per node (DGX/HGX H100), 1-16 nodes, weak scaling (32 clips per GPU per step), for
each study model: compute time per step (FLOPs from the layer shapes at an assumed
sustained FP32 rate, plus a per-step floor for launch-bound models), the all-reduce of the
gradients (ring all-reduce: 2 (N-1)/N * bytes over the bus bandwidth of the slowest hop,
plus a latency term), and what is exposed with and without overlapping the all-reduce with
the backward (buckets). Prints Markdown tables. Every constant below is an assumption or a
datasheet figure, named; nothing here was measured on a GPU.
"""
import math

# Datasheet figures (sources in docs/DISTRIBUTED.md) and the fractions assumed reachable.
NVLINK_GBS = 450.0 * 0.8   # NVLink 4: 900 GB/s bidirectional = 450 GB/s each way; 80 % reached
IB_GBS = 50.0 * 0.8        # NDR InfiniBand 400 Gb/s = 50 GB/s per GPU (one ConnectX-7 each); 80 %
LATENCY_S = 10e-6          # per tree/ring stage (NCCL small-message latency, order of magnitude)
FP32_FLOPS = 15e12         # sustained by melgrad's kernels: ~22 % of H100 SXM's 67 TFLOP/s FP32
STEP_FLOOR_S = 0.3e-3      # a replayed CUDA-graph step of a small model: launch-bound floor
BATCH_PER_GPU = 32
BACKWARD_SHARE = 2 / 3     # of a step's compute (backward ~ 2x forward)
BUCKET_BYTES = 25 * 2**20

# name: (gradient bytes, forward multiply-adds per clip, sequential steps per training step)
MODELS = {
    # bench_dist printed 2.77 MB and 9.32 MB; cnn-full and the LSTMs from their shapes.
    "cnn-beat": (2.77e6, 16.2e6, 0),
    "cnn-full": (84.5e6, 525.8e6, 0),
    "cnn-full-wide": (9.32e6, 708e6, 0),
    "lstm-beat": (1.71e6, 16.9e6, 4 * 40),
    "lstm-full": (1.71e6, 546e6, 4 * 1293),
}
LSTM_STEP_S = 5e-6  # one recurrent time step of a layer (a dependent kernel), fwd or bwd


def compute_seconds(macs, sequential):
    flops = 6 * macs * BATCH_PER_GPU  # forward 2 FLOP per MAC, backward twice the forward
    return max(STEP_FLOOR_S, flops / FP32_FLOPS + sequential * LSTM_STEP_S)


def allreduce_seconds(nbytes, gpus):
    if gpus == 1:
        return 0.0
    bus = NVLINK_GBS if gpus <= 8 else IB_GBS
    return 2 * (gpus - 1) / gpus * nbytes / (bus * 1e9) + 2 * math.log2(gpus) * LATENCY_S


def overlapped_step_seconds(tc, nbytes, gpus, bucket_bytes=BUCKET_BYTES):
    """Buckets start as the backward produces them; the last one cannot overlap."""
    count = math.ceil(nbytes / bucket_bytes)
    per = [allreduce_seconds(min(bucket_bytes, nbytes - i * bucket_bytes), gpus)
           for i in range(count)]
    return tc + max(per[-1], sum(per) - BACKWARD_SHARE * tc)


def main():
    print("| model | gradients MB | compute ms/step | GPUs | all-reduce ms | step ms, no overlap | "
          "efficiency | step ms, overlap | efficiency |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (nbytes, macs, seq) in MODELS.items():
        tc = compute_seconds(macs, seq)
        for nodes in (1, 2, 4, 8, 16):
            gpus = 8 * nodes
            ta = allreduce_seconds(nbytes, gpus)
            step = overlapped_step_seconds(tc, nbytes, gpus)
            print(f"| {name} | {nbytes / 1e6:.1f} | {tc * 1e3:.2f} | {gpus} | {ta * 1e3:.2f} | "
                  f"{(tc + ta) * 1e3:.2f} | {tc / (tc + ta):.0%} | {step * 1e3:.2f} | "
                  f"{tc / step:.0%} |")
    print("\nbucket size at 128 GPUs (16 nodes): step ms with overlap "
          "(each bucket pays the latency)")
    print("\n| model | compute ms | 1 MiB | 4 MiB | 25 MiB | one bucket, after the backward |")
    print("|---|---|---|---|---|---|")
    for name, (nbytes, macs, seq) in MODELS.items():
        tc = compute_seconds(macs, seq)
        cells = [f"{overlapped_step_seconds(tc, nbytes, 128, mib * 2**20) * 1e3:.2f}"
                 for mib in (1, 4, 25)]
        cells.append(f"{(tc + allreduce_seconds(nbytes, 128)) * 1e3:.2f}")
        print(f"| {name} | {tc * 1e3:.2f} | " + " | ".join(cells) + " |")
    clips = 106_574  # the full Free Music Archive (fma_full / fma_large tracks)
    print("\nfull FMA, one epoch of", clips, "clips:")
    for name, (nbytes, macs, seq) in MODELS.items():
        steps = math.ceil(clips / BATCH_PER_GPU)
        one = steps * compute_seconds(macs, seq)
        steps128 = math.ceil(clips / (BATCH_PER_GPU * 128))
        t128 = steps128 * overlapped_step_seconds(compute_seconds(macs, seq), nbytes, 128)
        print(f"  {name}: 1 GPU {one:.0f} s, 128 GPUs {t128:.1f} s "
              "(compute only; input not counted)")


if __name__ == "__main__":
    main()
