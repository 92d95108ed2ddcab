"""Whether a streaming run may give the fast tokenizer its own threads (light: imported by the CLI).

A streaming run tokenizes inside the training process (its position in the stream is saved with
each checkpoint, so no DataLoader workers read it). There the tokenizer's threads are the
pipeline's only parallelism: on a 16-core machine, GPT-2 small's pipeline delivered 327k tokens/s
single-threaded and 969k with the threads, against the 597k one H100 at 40% MFU consumes
(benchmarks/data_throughput.py). The CLI turns the threads off by default for the built-corpus
path (its DataLoader workers fork after tokenizing) and leaves this marker, so a streaming run
can tell the CLI's default from a user's own TOKENIZERS_PARALLELISM=false.
"""

from __future__ import annotations

import os

TOKENIZER_THREADS_DEFAULTED = "TOOLKIT_TOKENIZERS_PARALLELISM_DEFAULTED"


def allow_tokenizer_threads() -> bool:
    """Turn the fast tokenizer's threads on for this process unless the user turned them off;
    returns whether they are on. (RAYON_NUM_THREADS caps them: set it to the cores per process
    when several training processes share a machine.)"""
    if os.environ.pop(TOKENIZER_THREADS_DEFAULTED, None):
        os.environ["TOKENIZERS_PARALLELISM"] = "true"
    return os.environ.get("TOKENIZERS_PARALLELISM", "true").lower() not in ("", "0", "false", "off", "no", "n", "f")
