#!/usr/bin/env python3
"""librosa peer of bench/bench_audio.cpp: the study's features per track, timed in-process.

Per track: librosa.load (22 050 Hz mono, soxr_hq), the log-mel (melspectrogram n_fft 2048,
hop 512, 128 mels; power_to_db ref=np.max, top_db 80), and with --parts also chroma_cqt and
the beat part (hpss -> onset strength on the percussive signal -> beat_track -> util.sync with
np.median), as in REFERENCE.md section 1. Prints one line per track and part (CPU seconds, and the total's wall seconds), or
JSON with --json. librosa 0.11.0 (pip install librosa==0.11.0).

  python3 bench/peers/librosa_extract.py [--parts mel,chroma,beat] [--json] [TRACK.ogg ...]
Default tracks: /usr/share/planetblupi/music/music004.ogg ... music009.ogg.
"""
import argparse
import glob
import json
import time

import librosa
import numpy as np


def extract(path, parts):
    """Seconds of CPU (time.process_time: all threads of the process) per step; wall_total too."""
    times = {}
    clock = time.process_time
    w0 = time.perf_counter()
    t0 = clock()
    y, sr = librosa.load(path, sr=22050)
    times["load"] = clock() - t0
    t = clock()
    mel = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128),
        ref=np.max)
    times["mel"] = clock() - t
    feats = mel
    if "chroma" in parts:
        t = clock()
        chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=512)
        times["chroma"] = clock() - t
        n = min(mel.shape[1], chroma.shape[1])
        feats = np.vstack([mel[:, :n], chroma[:, :n]])
    if "beat" in parts:
        t = clock()
        _, y_perc = librosa.effects.hpss(y)
        _, beats = librosa.beat.beat_track(y=y_perc, sr=sr)
        librosa.util.sync(feats, beats, aggregate=np.median)
        times["beat"] = clock() - t
    times["total"] = clock() - t0
    times["wall_total"] = time.perf_counter() - w0
    times["audio_s"] = len(y) / sr
    return times


def main():
    p = argparse.ArgumentParser()
    p.add_argument("tracks", nargs="*")
    p.add_argument("--parts", default="mel")
    p.add_argument("--json", action="store_true")
    a = p.parse_args()
    tracks = a.tracks or sorted(glob.glob("/usr/share/planetblupi/music/music00[4-9].ogg"))
    parts = set(a.parts.split(","))
    for path in tracks:
        times = extract(path, parts)
        if a.json:
            print(json.dumps({"track": path, **times}))
        else:
            print(path, " ".join(f"{k} {v:.3f}" for k, v in times.items()))


if __name__ == "__main__":
    main()
