#!/usr/bin/env python3
"""librosa peer of bench/bench_audio.cpp: the study's features per track, timed in-process.

Per track: librosa.load (22 050 Hz mono, soxr_hq), the log-mel (melspectrogram n_fft 2048,
hop 512, 128 mels; power_to_db ref=np.max, top_db 80), and with --parts also chroma_cqt and
the beat part (hpss -> onset strength on the percussive signal -> beat_track -> util.sync with
np.median), as in REFERENCE.md section 1. Prints one line per track and part (seconds), or
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
    times = {}
    t0 = time.perf_counter()
    y, sr = librosa.load(path, sr=22050)
    times["load"] = time.perf_counter() - t0
    t = time.perf_counter()
    mel = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128),
        ref=np.max)
    times["mel"] = time.perf_counter() - t
    feats = mel
    if "chroma" in parts:
        t = time.perf_counter()
        chroma = librosa.feature.chroma_cqt(y=y, sr=sr, hop_length=512)
        times["chroma"] = time.perf_counter() - t
        n = min(mel.shape[1], chroma.shape[1])
        feats = np.vstack([mel[:, :n], chroma[:, :n]])
    if "beat" in parts:
        t = time.perf_counter()
        _, y_perc = librosa.effects.hpss(y)
        _, beats = librosa.beat.beat_track(y=y_perc, sr=sr)
        librosa.util.sync(feats, beats, aggregate=np.median)
        times["beat"] = time.perf_counter() - t
    times["total"] = time.perf_counter() - t0
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
