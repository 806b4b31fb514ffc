"""The shapes and case names of the GPU kernel benchmarks (kernels/bench/*.cpp), in Python,
for their PyTorch peer (torch_layers_cuda.py) and the report (gpu_report.py). Stdlib only.

Case names are melgrad's Google Benchmark names without the "/real_time" suffix; the last
component (or the `algo:` argument) names the implementation:
    conv_forward_bias_relu/<layer>/<impl>      conv_backward_data/..., conv_backward_filter/...
    max_pool_forward/<layer> pool <p>/<impl>   max_pool_backward/...
    batch_norm_train_forward/<layer>/<impl>    batch_norm_eval_forward/..., batch_norm_train_backward/...
    BM_bilstm_study/T:<T>/algo:<impl>/bwd:<0|1>   impl 0 persistent, 1 stepwise, 2 cudnn
    BM_gemm_<impl>/<m>/<n>/<k>/<trans_b>
with impl melgrad | cudnn | cublas | melgrad_tf32 on melgrad's side and "torch" for the
peer. <layer> is e.g. "c4-p2/T40/L2 4->16 64x20": config, frames T, layer index, input
-> output channels, input H x W (batch 32, 3x3 convolution, padding 1; H = 128 mel bands,
W = T frames), as kernels/bench/bench_conv_shapes.h builds it.
"""

from collections import namedtuple

BATCH = 32
MELS = 128
LSTM_INPUT, LSTM_HIDDEN, LSTM_LAYERS = 128, 100, 2
STUDY_T = (40, 1293)

Layer = namedtuple("Layer", "name N C H W O pool")

CONV_PASSES = ("conv_forward_bias_relu", "conv_backward_data", "conv_backward_filter")
POOL_PASSES = ("max_pool_forward", "max_pool_backward")
NORM_PASSES = ("batch_norm_train_forward", "batch_norm_eval_forward", "batch_norm_train_backward")
# (m, n, k, trans_b) of bench_gemm.cpp's GPU build.
GPU_GEMM_SHAPES = ((4096, 4096, 4096, 0), (1024, 1024, 1024, 0), (1024, 1024, 1024, 1),
                   (41376, 800, 128, 1), (32, 400, 100, 1), (64, 41344, 144, 0))
LSTM_ALGOS = {"0": "persistent", "1": "stepwise", "2": "cudnn", "torch": "torch"}


def study_layers():
    """The 16 conv layers of both channel configurations at T 40 and 1293 (the C++ order)."""
    configs = (("c4-p2", (1, 4, 16, 64, 256), 2), ("c16-p3", (1, 16, 64, 256, 512), 3))
    layers = []
    for config, channels, pool in configs:
        for T in STUDY_T:
            H, W = MELS, T
            for i in range(4):
                name = f"{config}/T{T}/L{i + 1} {channels[i]}->{channels[i + 1]} {H}x{W}"
                layers.append(Layer(name, BATCH, channels[i], H, W, channels[i + 1], pool))
                H //= pool
                W //= pool
    return layers


def conv_case(pass_name, layer, impl):
    return f"{pass_name}/{layer.name}/{impl}"


def pool_case(pass_name, layer, impl):
    return f"{pass_name}/{layer.name} pool {layer.pool}/{impl}"


def norm_case(pass_name, layer, impl):
    return f"{pass_name}/{layer.name}/{impl}"


def lstm_case(T, algo, backward):
    return f"BM_bilstm_study/T:{T}/algo:{algo}/bwd:{1 if backward else 0}"


def gemm_case(impl, m, n, k, trans_b):
    return f"BM_gemm_{impl}/{m}/{n}/{k}/{trans_b}"


def layer_cases(impl):
    """(name, kind, pass, layer) of every conv / pool / batch-norm case, as bench_conv.cpp,
    bench_pool.cpp and bench_batchnorm.cpp register them for one implementation."""
    out = []
    layers = study_layers()
    for p in CONV_PASSES:
        for layer in layers:
            if p == "conv_backward_data" and layer.C == 1:  # the study needs no input gradient
                continue
            out.append((conv_case(p, layer, impl), "conv", p, layer))
    for p in POOL_PASSES:
        for layer in layers:
            if layer.H < layer.pool or layer.W < layer.pool:
                continue
            out.append((pool_case(p, layer, impl), "pool", p, layer))
    for p in NORM_PASSES:
        for layer in layers:
            out.append((norm_case(p, layer, impl), "norm", p, layer))
    return out


class MT19937_64:
    """std::mt19937_64, so the peer and the report draw the lengths melgrad's benchmark does."""

    MASK = (1 << 64) - 1

    def __init__(self, seed):
        self.mt = [seed & self.MASK]
        for i in range(1, 312):
            prev = self.mt[-1]
            self.mt.append((6364136223846793005 * (prev ^ (prev >> 62)) + i) & self.MASK)
        self.index = 312

    def __call__(self):
        if self.index >= 312:
            mt = self.mt
            for i in range(312):
                x = (mt[i] & 0xFFFFFFFF80000000) | (mt[(i + 1) % 312] & 0x7FFFFFFF)
                mt[i] = mt[(i + 156) % 312] ^ (x >> 1) ^ (0xB5026F5AA96619E9 if x & 1 else 0)
            self.index = 0
        x = self.mt[self.index]
        self.index += 1
        x ^= (x >> 29) & 0x5555555555555555
        x ^= (x << 17) & 0x71D67FFFEDA60000
        x ^= (x << 37) & 0xFFF7EEE000000000
        x ^= x >> 43
        return x & self.MASK


def study_lengths(T, batch=BATCH):
    """bench_lstm.cpp's lengths: T - (draw mod (T/10 + 1)), the first one T."""
    rng = MT19937_64(7)
    lengths = [T - rng() % (T // 10 + 1) for _ in range(batch)]
    lengths[0] = T
    return lengths
